package window

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// in is one input record of a test: turnstile SCP, TIMESTAMP, ENTRIES, EXITS, ID.
type in struct {
	scp     string
	ts      string
	entries int64
	exits   int64
	id      string
}

// testSeed is the hash seed of the tests' key tables: a fixed one, so that
// a failure repeats.
const testSeed = 0x5eed

// newKeys returns a key table for turnstile keys, as the consumer's.
func newKeys(seed uint64) *Keys[turnstile.Key] {
	return NewKeys(seed, turnstile.DecodeKey, turnstile.CompareKeys)
}

// add adds rec to e and fails the test if Add returns an error.
func add[K any](tb testing.TB, e *Engine[K], rec *Record, offset int64) Result {
	tb.Helper()
	r, err := e.Add(rec, offset)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// recordOf fills r with what the Engine takes of a parsed message, as the
// consumer extracts it, reusing r's buffers, and returns r.
func recordOf(m *turnstile.Message, r *Record) *Record {
	*r = Record{Time: m.Timestamp, Entries: m.Entries, Exits: m.Exits,
		Key: m.AppendKey(r.Key[:0]), Dedup: m.AppendDedup(r.Dedup[:0])}
	return r
}

// record returns the Engine's view of the test record r.
func record(t testing.TB, r in) *Record {
	t.Helper()
	ts, err := time.Parse(turnstile.TimestampLayout, r.ts)
	if err != nil {
		t.Fatal(err)
	}
	id := r.id
	if id == "" {
		id = r.scp + "@" + r.ts
	}
	rec := turnstile.NewRecord("A002", "R051", r.scp, "59 ST", "NQR456W", "BMT", "REGULAR", r.entries, r.exits, id, ts)
	var p turnstile.Parser
	var m turnstile.Message
	if err := p.Parse(turnstile.AppendCSV(nil, &rec), &m); err != nil {
		t.Fatal(err)
	}
	return recordOf(&m, new(Record))
}

// run feeds records through one engine the way the consumer does (Add, then
// Emit what is ready) and flushes at the end. It returns the emitted rows as
// "END SCP ENTRIES EXITS" lines in emission order, and the Add results.
func run(t *testing.T, spec Spec, records []in, flush bool) ([]string, []Result) {
	t.Helper()
	e := New(spec, newKeys(testSeed), 0)
	var out []string
	emit := func(c *Closed[turnstile.Key]) error {
		for _, r := range c.Rows {
			out = append(out, fmt.Sprintf("%s %s %d %d", time.Unix(c.End, 0).UTC().Format("01-02 15:04"), r.Key.SCP, r.Entries, r.Exits))
		}
		return nil
	}
	var results []Result
	for i, r := range records {
		results = append(results, add(t, e, record(t, r), int64(i)))
		if e.Ready() {
			if err := e.Emit(emit); err != nil {
				t.Fatal(err)
			}
		}
	}
	if flush {
		if err := e.Flush(emit); err != nil {
			t.Fatal(err)
		}
	}
	return out, results
}

func mustSpec(t testing.TB, d, s, w time.Duration) Spec {
	t.Helper()
	spec, err := NewSpec(d, s, w)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestWindows(t *testing.T) {
	const m = time.Minute
	tests := []struct {
		name            string
		size, slide, wm time.Duration
		records         []in
		flush           bool
		want            []string
	}{
		{
			name: "tumbling sums per turnstile",
			size: 5 * m, slide: 5 * m, wm: 5 * m, flush: true,
			records: []in{
				{scp: "01", ts: "2024-07-22 10:00:00", entries: 1, exits: 2},
				{scp: "02", ts: "2024-07-22 10:01:00", entries: 10, exits: 20},
				{scp: "01", ts: "2024-07-22 10:04:59", entries: 3, exits: 4},
				{scp: "01", ts: "2024-07-22 10:05:00", entries: 5, exits: 6},
			},
			want: []string{"07-22 10:05 01 4 6", "07-22 10:05 02 10 20", "07-22 10:10 01 5 6"},
		},
		{
			name: "a window closes when the watermark reaches its end",
			size: 5 * m, slide: 5 * m, wm: 0,
			records: []in{
				{scp: "01", ts: "2024-07-22 10:00:00", entries: 1},
				{scp: "01", ts: "2024-07-22 10:04:59", entries: 2},
				// W becomes exactly 10:05, the end of [10:00, 10:05): it closes.
				{scp: "01", ts: "2024-07-22 10:05:00", entries: 4},
			},
			want: []string{"07-22 10:05 01 3 0"},
		},
		{
			name: "a record exactly at a window end belongs to the next window",
			size: 5 * m, slide: 5 * m, wm: 5 * m, flush: true,
			records: []in{
				{scp: "01", ts: "2024-07-22 10:05:00", entries: 7},
			},
			want: []string{"07-22 10:10 01 7 0"},
		},
		{
			name: "watermark equal to a window end makes its records late",
			size: 5 * m, slide: 5 * m, wm: 5 * m, flush: true,
			records: []in{
				{scp: "01", ts: "2024-07-22 10:01:00", entries: 1},
				{scp: "01", ts: "2024-07-22 10:10:00", entries: 2},   // W = 10:05, closes [10:00,10:05)
				{scp: "01", ts: "2024-07-22 10:04:00", entries: 100}, // late
				{scp: "01", ts: "2024-07-22 10:05:00", entries: 3},   // window [10:05,10:10) ends after W: added
			},
			want: []string{"07-22 10:05 01 1 0", "07-22 10:10 01 3 0", "07-22 10:15 01 2 0"},
		},
		{
			name: "sliding windows count a record in every window that contains it",
			size: 10 * m, slide: 5 * m, wm: 10 * m, flush: true,
			records: []in{
				{scp: "01", ts: "2024-07-22 10:02:00", entries: 1},
				{scp: "01", ts: "2024-07-22 10:07:00", entries: 10},
			},
			want: []string{"07-22 10:05 01 1 0", "07-22 10:10 01 11 0", "07-22 10:15 01 10 0"},
		},
		{
			name: "sliding window across midnight is dated by its end",
			size: 10 * m, slide: 5 * m, wm: 0, flush: true,
			records: []in{
				{scp: "01", ts: "2024-07-22 23:56:00", entries: 1},
				{scp: "01", ts: "2024-07-23 00:03:00", entries: 2},
			},
			want: []string{"07-23 00:00 01 1 0", "07-23 00:05 01 3 0", "07-23 00:10 01 2 0"},
		},
		{
			name: "duplicates by ID, STATION and TIMESTAMP are dropped",
			size: 5 * m, slide: 5 * m, wm: 5 * m, flush: true,
			records: []in{
				{scp: "01", ts: "2024-07-22 10:01:00", entries: 1, id: "x"},
				{scp: "01", ts: "2024-07-22 10:01:00", entries: 1, id: "x"},
				{scp: "01", ts: "2024-07-22 10:02:00", entries: 2, id: "x"}, // other TIMESTAMP: kept
			},
			want: []string{"07-22 10:05 01 3 0"},
		},
		{
			name: "slide that does not divide the duration",
			size: 3 * m, slide: 2 * m, wm: 0, flush: true,
			records: []in{
				{scp: "01", ts: "2024-07-22 10:03:00", entries: 1},
			},
			// Windows containing 10:03 are [10:02,10:05) only ([10:00,10:03) excludes its end).
			want: []string{"07-22 10:05 01 1 0"},
		},
		{
			name: "no flush leaves the last windows open",
			size: 5 * m, slide: 5 * m, wm: 5 * m,
			records: []in{
				{scp: "01", ts: "2024-07-22 10:01:00", entries: 1},
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := run(t, mustSpec(t, tt.size, tt.slide, tt.wm), tt.records, tt.flush)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestAddResults(t *testing.T) {
	spec := mustSpec(t, 10*time.Minute, 5*time.Minute, 0)
	_, res := run(t, spec, []in{
		{scp: "01", ts: "2024-07-22 10:07:00", id: "a"}, // windows [10:00,10:10) [10:05,10:15)
		{scp: "01", ts: "2024-07-22 10:07:00", id: "a"}, // duplicate
		{scp: "01", ts: "2024-07-22 10:12:00", id: "b"}, // W = 10:12: [10:00,10:10) closes
		{scp: "01", ts: "2024-07-22 10:08:00", id: "c"}, // late for [10:00,10:10), added to [10:05,10:15)
		{scp: "01", ts: "2024-07-22 10:01:00", id: "d"}, // late for [09:55,10:05) and [10:00,10:10)
		{scp: "01", ts: "2024-07-22 10:07:00", id: "a"}, // still a duplicate: [10:05,10:15) is open
	}, false)
	want := []Result{
		{Added: 2},
		{Duplicate: true},
		{Added: 2},
		{Added: 1, Late: 1, LateEnd: unix(t, "2024-07-22 10:10:00")},
		{Late: 2, LateEnd: unix(t, "2024-07-22 10:10:00")},
		{Duplicate: true},
	}
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("record %d: got %+v, want %+v", i, res[i], want[i])
		}
	}
}

func TestDuplicateForgottenOnceWindowsClose(t *testing.T) {
	spec := mustSpec(t, 5*time.Minute, 5*time.Minute, 0)
	_, res := run(t, spec, []in{
		{scp: "01", ts: "2024-07-22 10:01:00", id: "a"},
		{scp: "01", ts: "2024-07-22 10:06:00", id: "b"}, // closes [10:00,10:05)
		{scp: "01", ts: "2024-07-22 10:01:00", id: "a"}, // its window is closed: late, not duplicate
	}, false)
	if res[2] != (Result{Late: 1, LateEnd: unix(t, "2024-07-22 10:05:00")}) {
		t.Fatalf("got %+v", res[2])
	}
}

func unix(t *testing.T, s string) int64 {
	ts, ok := turnstile.ParseTimestamp([]byte(s))
	if !ok {
		t.Fatalf("bad timestamp %q", s)
	}
	return ts
}

func TestRestoreTreatsClosedWindowsAsEmitted(t *testing.T) {
	spec := mustSpec(t, 5*time.Minute, 5*time.Minute, 0)
	e := New(spec, newKeys(testSeed), 0)
	e.Restore(unix(t, "2024-07-22 10:05:00"))
	r := add(t, e, record(t, in{scp: "01", ts: "2024-07-22 10:04:00"}), 0)
	if r.Late != 1 || r.Added != 0 {
		t.Fatalf("got %+v, want the record late for the restored closed window", r)
	}
	r = add(t, e, record(t, in{scp: "01", ts: "2024-07-22 10:05:00"}), 1)
	if r.Added != 1 {
		t.Fatalf("got %+v, want the record added", r)
	}
}

func TestAdvanceClosesIdleWindows(t *testing.T) {
	spec := mustSpec(t, 5*time.Minute, 5*time.Minute, 5*time.Minute)
	e := New(spec, newKeys(testSeed), 0)
	e.Advance(3600) // before any record: nothing to advance
	if e.Watermark() != NoWatermark {
		t.Fatalf("watermark moved before the first record: %d", e.Watermark())
	}
	add(t, e, record(t, in{scp: "01", ts: "2024-07-22 10:01:00", entries: 5}), 0)
	if e.Ready() {
		t.Fatal("window ready before the watermark passed it")
	}
	e.Advance(4 * 60) // W = 10:00
	if e.Ready() {
		t.Fatal("window ready too early")
	}
	e.Advance(5 * 60) // W = 10:05
	if !e.Ready() {
		t.Fatal("window not ready after the idle advance")
	}
	var got []Row[turnstile.Key]
	if err := e.Emit(func(c *Closed[turnstile.Key]) error { got = append(got, c.Rows...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Entries != 5 {
		t.Fatalf("got %+v", got)
	}
}

func TestEmitErrorKeepsWindowOpen(t *testing.T) {
	spec := mustSpec(t, 5*time.Minute, 5*time.Minute, 0)
	e := New(spec, newKeys(testSeed), 0)
	add(t, e, record(t, in{scp: "02", ts: "2024-07-22 10:01:00", entries: 5}), 7)
	add(t, e, record(t, in{scp: "01", ts: "2024-07-22 10:02:00", entries: 3}), 8)
	add(t, e, record(t, in{scp: "01", ts: "2024-07-22 10:06:00", entries: 1}), 9)
	if err := e.Emit(func(*Closed[turnstile.Key]) error { return fmt.Errorf("upload failed") }); err == nil {
		t.Fatal("want the emit error")
	}
	if off, ok := e.MinOpenOffset(); !ok || off != 7 {
		t.Fatalf("MinOpenOffset = %d, %v; want 7: the failed window must stay open", off, ok)
	}
	// The window still adds up after the failed attempt sorted its rows.
	add(t, e, record(t, in{scp: "02", ts: "2024-07-22 10:04:00", entries: 10, id: "x"}), 10)
	var ends []int64
	var rows []string
	if err := e.Emit(func(c *Closed[turnstile.Key]) error {
		ends = append(ends, c.End)
		for _, r := range c.Rows {
			rows = append(rows, fmt.Sprintf("%s=%d", r.Key.SCP, r.Entries))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(ends) != 1 || ends[0] != unix(t, "2024-07-22 10:05:00") {
		t.Fatalf("emitted %v", ends)
	}
	if got := strings.Join(rows, " "); got != "01=3 02=5" {
		t.Fatalf("rows %s, want 01=3 02=5 (the late record at 10:04 must not count)", got)
	}
	if off, _ := e.MinOpenOffset(); off != 9 {
		t.Fatalf("MinOpenOffset = %d after emit, want 9", off)
	}
}

func TestSplitKeyReportedOnce(t *testing.T) {
	spec := mustSpec(t, 5*time.Minute, 5*time.Minute, 0)
	keys := newKeys(testSeed)
	p0, p1 := New(spec, keys, 0), New(spec, keys, 1)
	if r := add(t, p0, record(t, in{scp: "01", ts: "2024-07-22 10:01:00", id: "a"}), 0); r.SplitKey {
		t.Fatal("first sighting reported as split")
	}
	if r := add(t, p1, record(t, in{scp: "01", ts: "2024-07-22 10:01:00", id: "b"}), 0); !r.SplitKey {
		t.Fatal("key on a second partition not reported")
	}
	if r := add(t, p1, record(t, in{scp: "01", ts: "2024-07-22 10:02:00", id: "c"}), 1); r.SplitKey {
		t.Fatal("split key reported twice")
	}
}

func TestNewSpec(t *testing.T) {
	tests := []struct {
		size, slide, delay time.Duration
		wantErr            string
	}{
		{5 * time.Minute, 5 * time.Minute, 5 * time.Minute, ""},
		{10 * time.Minute, 5 * time.Minute, 0, ""},
		{0, 5 * time.Minute, 0, "duration must be positive"},
		{-time.Minute, -time.Minute, 0, "duration must be positive"},
		{5 * time.Minute, 0, 0, "slide must be positive"},
		{5 * time.Minute, 10 * time.Minute, 0, "larger than the window duration"},
		{5 * time.Minute, 5 * time.Minute, -time.Second, "must not be negative"},
		{1500 * time.Millisecond, time.Second, 0, "whole seconds"},
	}
	for _, tt := range tests {
		_, err := NewSpec(tt.size, tt.slide, tt.delay)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("NewSpec(%s, %s, %s) = %v, want %q", tt.size, tt.slide, tt.delay, err, tt.wantErr)
		}
	}
}

// TestFloodOfKeysIsForgotten feeds 200,000 distinct keys, 20 a second with
// 1-minute windows: about 1,200 keys are in an open window at any time. The
// key table must hold about those (and as many idle ones, with minIdle 0),
// not every key ever seen.
func TestFloodOfKeysIsForgotten(t *testing.T) {
	spec, err := NewSpec(time.Minute, time.Minute, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	keys := newKeys(testSeed)
	keys.minIdle = 0
	e := New(spec, keys, 0)
	start := time.Date(2024, 7, 22, 0, 0, 0, 0, time.UTC)
	var p turnstile.Parser
	var m turnstile.Message
	var r Record
	rows := 0
	emit := func(c *Closed[turnstile.Key]) error { rows += len(c.Rows); return nil }
	const n = 200_000
	for i := range n {
		rec := turnstile.NewRecord(fmt.Sprintf("A%06d", i), "R001", "00-00-00", "FLOOD", "1", "IRT", "REGULAR", 1, 1,
			fmt.Sprint("id-", i), start.Add(time.Duration(i/20)*time.Second))
		if err := p.Parse(turnstile.AppendCSV(nil, &rec), &m); err != nil {
			t.Fatal(err)
		}
		add(t, e, recordOf(&m, &r), int64(i))
		if e.Ready() {
			if err := e.Emit(emit); err != nil {
				t.Fatal(err)
			}
		}
	}
	if keys.Len() > 5_000 {
		t.Errorf("after %d distinct keys, the key table holds %d IDs; want about the %d of the open windows", n, keys.Len(), 20*70)
	}
	if err := e.Flush(emit); err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Errorf("emitted %d rows, want %d", rows, n)
	}
}
