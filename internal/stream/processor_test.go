package stream

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

func newTestProcessor(t *testing.T, keepRows bool) (*Processor, *lake.MemBucket) {
	t.Helper()
	spec, err := window.NewSpec(5*time.Minute, 5*time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := lake.NewMemBucket()
	sink := &lake.Sink{Bucket: b, Layout: lake.Layout{Prefix: "turnstile"}}
	return New(Config{Spec: spec, Sink: sink, Side: LakeSide{Sink: sink}, Index: true, KeepRows: keepRows}), b
}

func value(scp, ts, id string) []byte {
	tm, err := time.Parse(turnstile.TimestampLayout, ts)
	if err != nil {
		panic(err)
	}
	r := turnstile.NewRecord("A002", "R051", scp, "59 ST", "NQR456W", "BMT", "REGULAR", 1, 1, id, tm)
	return turnstile.AppendCSV(nil, &r)
}

// TestCheckpointCommitsOldestOpenOffset checks the offset a checkpoint commits:
// the oldest record still in an open window, so that a restart rebuilds it.
func TestCheckpointCommitsOldestOpenOffset(t *testing.T) {
	ctx := context.Background()
	p, b := newTestProcessor(t, true)
	if err := p.Assign(3, PartitionSource(3), ""); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		offset     int64
		value      []byte
		wantWrote  bool
		wantOffset int64
		wantMeta   string
	}{
		{10, value("01", "2024-07-22 10:01:00", "a"), false, 10, "v2 wm=1721642460 pos=10 ep=0 parts=0 shape=300/300/0"},
		{11, []byte("garbage"), false, 10, "v2 wm=1721642460 pos=11 ep=0 parts=0 shape=300/300/0"},
		{12, value("01", "2024-07-22 10:06:00", "b"), true, 12, "v2 wm=1721642760 pos=12 ep=0 parts=0 shape=300/300/0"}, // closes [10:00,10:05)
		{13, value("02", "2024-07-22 10:07:00", "c"), false, 12, "v2 wm=1721642820 pos=13 ep=0 parts=0 shape=300/300/0"},
	}
	for _, s := range steps {
		wrote, err := p.Handle(ctx, 3, s.offset, s.value)
		if err != nil {
			t.Fatal(err)
		}
		if wrote != s.wantWrote {
			t.Errorf("offset %d: wrote %v, want %v", s.offset, wrote, s.wantWrote)
		}
		cp, ok, err := p.Checkpoint(ctx, 3)
		if err != nil || !ok {
			t.Fatalf("offset %d: checkpoint %v %v", s.offset, ok, err)
		}
		if cp.Offset != s.wantOffset || cp.Metadata != s.wantMeta {
			t.Errorf("offset %d: checkpoint %d %q, want %d %q", s.offset, cp.Offset, cp.Metadata, s.wantOffset, s.wantMeta)
		}
		if s.offset == 12 && len(cp.Rows) != 1 {
			t.Errorf("checkpoint after a window closed carries %d rows, want 1", len(cp.Rows))
		}
		if s.offset == 13 && len(cp.Rows) != 1 {
			t.Errorf("rows of an uncommitted checkpoint were dropped: %d", len(cp.Rows))
		}
	}
	p.Committed(3)
	if _, ok, _ := p.Checkpoint(ctx, 3); ok {
		t.Error("checkpoint after Committed with nothing new returned ok")
	}
	names, _ := b.List(ctx, "")
	if want := "turnstile/20240722T100500_p3.csv.gz turnstile_rejected/p3_00000000000000000011.jsonl.gz"; strings.Join(names, " ") != want {
		t.Errorf("objects %v, want %s", names, want)
	}
}

// TestRestoreSkipsWhatWasWritten replays from a checkpoint the way a restart
// does, and checks that no window is written twice or from a partial replay,
// and that side records before the checkpoint's position are not written again.
func TestRestoreSkipsWhatWasWritten(t *testing.T) {
	ctx := context.Background()
	input := []struct {
		offset int64
		value  []byte
	}{
		{0, value("01", "2024-07-22 10:01:00", "a")},
		{1, value("01", "2024-07-22 10:06:00", "b")}, // closes [10:00,10:05)
		{2, []byte("garbage")},
		{3, value("01", "2024-07-22 10:02:00", "late")},
		{4, value("01", "2024-07-22 10:08:00", "c")},
		{5, value("01", "2024-07-22 10:11:00", "d")}, // closes [10:05,10:10)
	}
	// A first run handles offsets 0-3 and checkpoints.
	first, b := newTestProcessor(t, false)
	_ = first.Assign(0, "p0", "")
	for _, in := range input[:4] {
		if _, err := first.Handle(ctx, 0, in.offset, in.value); err != nil {
			t.Fatal(err)
		}
	}
	cp, _, err := first.Checkpoint(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := b.List(ctx, "")
	// A restart replays from the committed offset with the same bucket.
	second := New(Config{Spec: first.cfg.Spec, Sink: first.cfg.Sink, Side: first.cfg.Side, Index: true})
	if err := second.Assign(0, "p0", cp.Metadata); err != nil {
		t.Fatal(err)
	}
	for _, in := range input[cp.Offset:] {
		if _, err := second.Handle(ctx, 0, in.offset, in.value); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := second.Checkpoint(ctx, 0); err != nil {
		t.Fatal(err)
	}
	after, _ := b.List(ctx, "")
	want := append(before, "turnstile/20240722T101000_p0.csv.gz")
	slices.Sort(want)
	if strings.Join(after, " ") != strings.Join(want, " ") {
		t.Fatalf("objects after the restart %v, want %v", after, want)
	}
	data, _ := b.Get(ctx, "turnstile/20240722T101000_p0.csv.gz")
	rows, err := lake.DecodeWindows(data)
	if err != nil || len(rows) != 1 || rows[0].Entries != 2 {
		t.Fatalf("rebuilt window %+v, %v: want one row with the records at offsets 1 and 4", rows, err)
	}
	if got := b.Puts(); got != len(after) {
		t.Errorf("%d puts for %d objects: something was written twice", got, len(after))
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	for _, m := range []Metadata{
		{Watermark: 1721642460, Pos: 42, Epoch: 7, Partitions: 4, Shape: "600/300/0"},
		{Watermark: window.NoWatermark, Pos: -1},
		{Watermark: -86400, Pos: 0, Epoch: 1, Partitions: 1, Shape: "300/300/60"},
	} {
		got, err := ParseMetadata(m.String())
		if err != nil || got != m {
			t.Errorf("round trip of %+v = %+v, %v", m, got, err)
		}
	}
	// Version 1, written by earlier releases, is still read.
	if got, err := ParseMetadata("v1 wm=1721642460 pos=42"); err != nil || got != (Metadata{Watermark: 1721642460, Pos: 42}) {
		t.Errorf("v1 metadata read as %+v, %v", got, err)
	}
	if got, err := ParseMetadata("v1 wm=none pos=-1"); err != nil || got.Watermark != window.NoWatermark {
		t.Errorf("v1 metadata without a watermark read as %+v, %v", got, err)
	}
	for _, bad := range []string{"", "v2 wm=1 pos=2", "v1 wm=x pos=2", "v1 wm=1 pos=", "v1 pos=1 wm=2", "offset 7",
		"v3 wm=1 pos=2 ep=1 parts=1 shape=300/300/0", "v2 wm=1 pos=2 ep=-1 parts=1 shape=300/300/0",
		"v2 wm=1 pos=2 ep=1 parts=x shape=300/300/0", "v2 wm=1 pos=2 ep=1 parts=1 shape=300/600/0",
		"v2 wm=1 pos=2 parts=1 ep=1 shape=300/300/0"} {
		if _, err := ParseMetadata(bad); err == nil {
			t.Errorf("ParseMetadata(%q) accepted", bad)
		}
	}
}

// TestSideRecordsFlushedInBoundedBatches feeds a flood of invalid lines and
// checks that they are written in bounded batches, each once.
func TestSideRecordsFlushedInBoundedBatches(t *testing.T) {
	p, b := newTestProcessor(t, false)
	var input bytes.Buffer
	const n = 2*maxSide + 5
	for i := 0; i < n; i++ {
		fmt.Fprintf(&input, "bad line %d\n", i)
	}
	if _, err := RunInput(context.Background(), &input, p); err != nil {
		t.Fatal(err)
	}
	names, _ := b.List(context.Background(), "turnstile_rejected/")
	if len(names) != 3 {
		t.Fatalf("%d rejected files, want 3 (two full batches and the rest): %v", len(names), names)
	}
	seen := map[int64]bool{}
	for _, name := range names {
		data, _ := b.Get(context.Background(), name)
		recs, err := lake.DecodeSide(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > maxSide {
			t.Errorf("%s holds %d records, more than %d", name, len(recs), maxSide)
		}
		for _, r := range recs {
			if seen[r.Offset] {
				t.Errorf("line %d written twice", r.Offset)
			}
			seen[r.Offset] = true
		}
	}
	if len(seen) != n {
		t.Fatalf("%d rejected lines written, want %d", len(seen), n)
	}
}

// TestIdleClosedWindowsAreCommitted checks that windows closed by the idle
// rule (Advance) make the partition's next Checkpoint carry them: their rows,
// an offset past them and the advanced watermark.
func TestIdleClosedWindowsAreCommitted(t *testing.T) {
	ctx := context.Background()
	p, b := newTestProcessor(t, true)
	if err := p.Assign(0, PartitionSource(0), ""); err != nil {
		t.Fatal(err)
	}
	for i, v := range [][]byte{value("01", "2024-07-22 10:01:00", "a"), value("02", "2024-07-22 10:02:00", "b")} {
		if _, err := p.Handle(ctx, 0, int64(i), v); err != nil {
			t.Fatal(err)
		}
	}
	cp, ok, err := p.Checkpoint(ctx, 0)
	if err != nil || !ok || cp.Offset != 0 {
		t.Fatalf("checkpoint before the idle rule: %+v %v %v", cp, ok, err)
	}
	p.Committed(0)
	wrote, err := p.Advance(ctx, 0, 5*time.Minute)
	if err != nil || !wrote {
		t.Fatalf("Advance wrote %v, %v; want the window [10:00,10:05) written", wrote, err)
	}
	cp, ok, err = p.Checkpoint(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatal("no checkpoint after the idle rule wrote a window: its offset, watermark and rows would never be committed")
	}
	if want := "v2 wm=1721642820 pos=1 ep=0 parts=0 shape=300/300/0"; cp.Offset != 2 || cp.Metadata != want || len(cp.Rows) != 2 {
		t.Errorf("checkpoint %d %q with %d rows, want 2 %q with 2 rows", cp.Offset, cp.Metadata, len(cp.Rows), want)
	}
	if names, _ := b.List(ctx, "turnstile/"); len(names) != 1 {
		t.Errorf("window files %v, want one", names)
	}
}

// TestFutureTimestampIsRejected checks the clock guard: a record stamped
// further ahead of the wall clock than MaxFuture is a dead letter with reason
// future_timestamp and never moves the watermark, so the records after it
// are not late.
func TestFutureTimestampIsRejected(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 7, 22, 10, 3, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		maxFuture time.Duration
		wantLate  int
		wantWM    int64
	}{
		{"guard on", time.Hour, 0, time.Date(2024, 7, 22, 10, 2, 0, 0, time.UTC).Unix()},
		{"guard off", 0, 2, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).Unix()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, b := newTestProcessor(t, false)
			p.cfg.MaxFuture = tc.maxFuture
			p.cfg.Now = func() time.Time { return now }
			if err := p.Assign(0, PartitionSource(0), ""); err != nil {
				t.Fatal(err)
			}
			input := [][]byte{
				value("01", "2024-07-22 10:01:00", "a"),
				value("01", "2099-01-01 00:00:00", "clock-bug"),
				value("01", "2024-07-22 10:02:00", "b"),
				value("02", "2024-07-22 11:02:59", "within the guard"), // less than an hour ahead: accepted
			}
			for i, v := range input[:3] {
				if _, err := p.Handle(ctx, 0, int64(i), v); err != nil {
					t.Fatal(err)
				}
			}
			if got := p.parts[0].engine.Watermark(); got != tc.wantWM {
				t.Errorf("watermark %s, want %s", formatTime(got), formatTime(tc.wantWM))
			}
			if _, err := p.Handle(ctx, 0, 3, input[3]); err != nil {
				t.Fatal(err)
			}
			if _, _, err := p.Checkpoint(ctx, 0); err != nil {
				t.Fatal(err)
			}
			late := sideRecords(t, b, "turnstile_late/")
			if len(late) != tc.wantLate {
				t.Errorf("%d late records, want %d: %+v", len(late), tc.wantLate, late)
			}
			rejected := sideRecords(t, b, "turnstile_rejected/")
			if tc.maxFuture == 0 {
				if len(rejected) != 0 {
					t.Errorf("guard off: rejected %+v", rejected)
				}
				return
			}
			if len(rejected) != 1 || rejected[0].Reason != "future_timestamp" || rejected[0].Offset != 1 ||
				rejected[0].Value != string(input[1]) || !strings.Contains(rejected[0].Detail, "2099-01-01 00:00:00") {
				t.Errorf("rejected %+v, want offset 1 as future_timestamp with its value and timestamp", rejected)
			}
		})
	}
}

// TestSideRecordsBoundedByBytes checks that large rejected values are flushed
// by bytes long before the count bound, that a reject's detail is capped, and
// that the value itself is written whole.
func TestSideRecordsBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	p, b := newTestProcessor(t, false)
	p.cfg.MaxSideBytes = 1 << 20
	if err := p.Assign(0, PartitionSource(0), ""); err != nil {
		t.Fatal(err)
	}
	big := []byte("A002,R051,01,59 ST,NQR456W,BMT,07-22-24,10:00:00,REGULAR," + strings.Repeat("9", 300_000) + ",1,id,2024-07-22 10:00:00")
	due := -1
	for i := 0; i < 10; i++ {
		d, err := p.Handle(ctx, 0, int64(i), big)
		if err != nil {
			t.Fatal(err)
		}
		if d {
			due = i
			break
		}
	}
	if due != 3 {
		t.Fatalf("Handle asked for a checkpoint after record %d; want 3 (the 4th value of 300 kB passes 1 MiB)", due)
	}
	if _, _, err := p.Checkpoint(ctx, 0); err != nil {
		t.Fatal(err)
	}
	recs := sideRecords(t, b, "turnstile_rejected/")
	if len(recs) != 4 {
		t.Fatalf("%d rejected records written, want 4", len(recs))
	}
	for _, r := range recs {
		if r.Value != string(big) {
			t.Errorf("offset %d: value of %d bytes written as %d bytes", r.Offset, len(big), len(r.Value))
		}
		if len(r.Detail) > maxDetail {
			t.Errorf("offset %d: detail of %d bytes, more than %d", r.Offset, len(r.Detail), maxDetail)
		}
	}
}

func sideRecords(t *testing.T, b lake.Bucket, prefix string) []lake.SideRecord {
	t.Helper()
	names, err := b.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []lake.SideRecord
	for _, name := range names {
		data, err := b.Get(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := lake.DecodeSide(data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, recs...)
	}
	return out
}

// TestClockGuardReadsClockRarely checks that the clock guard reads the wall
// clock only when a record lies past its last limit, not once per record,
// and still rejects a record past a fresh limit.
func TestClockGuardReadsClockRarely(t *testing.T) {
	ctx := context.Background()
	p, b := newTestProcessor(t, false)
	reads := 0
	now := time.Date(2024, 7, 22, 10, 3, 0, 0, time.UTC)
	p.cfg.MaxFuture = time.Hour
	p.cfg.Now = func() time.Time { reads++; return now }
	if err := p.Assign(0, PartitionSource(0), ""); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 7, 22, 10, 0, 0, 0, time.UTC)
	for i := range 1000 {
		v := value(fmt.Sprintf("%02d", i%50), start.Add(time.Duration(i)*time.Second/10).Format(turnstile.TimestampLayout), fmt.Sprint(i))
		if _, err := p.Handle(ctx, 0, int64(i), v); err != nil {
			t.Fatal(err)
		}
	}
	if reads > 1 {
		t.Errorf("the clock was read %d times for 1,000 records within the limit, want 1", reads)
	}
	now = now.Add(2 * time.Hour) // the limit moves; a record past the old one passes
	if _, err := p.Handle(ctx, 0, 1000, value("01", "2024-07-22 12:30:00", "later")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Handle(ctx, 0, 1001, value("01", "2024-07-22 14:30:00", "future")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Checkpoint(ctx, 0); err != nil {
		t.Fatal(err)
	}
	rejected := sideRecords(t, b, "turnstile_rejected/")
	if len(rejected) != 1 || rejected[0].Offset != 1001 || rejected[0].Reason != "future_timestamp" {
		t.Errorf("rejected %+v, want offset 1001 only, as future_timestamp", rejected)
	}
}

// TestDuplicatesAcrossPartitions pins down where the duplicate memory lives
// (docs/consumer.md, "Keys and partitions"): per partition. Two turnstiles
// of one station whose records share ID and TIMESTAMP count once when they
// reach one partition (file mode is one partition), and once each when
// they reach two; a redelivered record, which keeps its key and so its
// partition, always counts once.
func TestDuplicatesAcrossPartitions(t *testing.T) {
	a := value("02-00-00", "2024-07-22 10:01:00", "shared-id")
	b := value("02-00-01", "2024-07-22 10:01:00", "shared-id") // another turnstile, same ID and TIMESTAMP
	closer := func(scp string) []byte { return value(scp, "2024-07-22 10:20:00", "closer-"+scp) }
	for _, tc := range []struct {
		name     string
		feed     map[int32][][]byte
		wantRows int // rows of the window [10:00, 10:05)
	}{
		{"one partition", map[int32][][]byte{0: {a, b, closer("z")}}, 1},
		{"two partitions", map[int32][][]byte{0: {a, closer("z")}, 1: {b, closer("y")}}, 2},
		{"redelivery on its partition", map[int32][][]byte{0: {a, a, closer("z")}, 1: {closer("y")}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			p, bucket := newTestProcessor(t, false)
			for id, values := range tc.feed {
				if err := p.Assign(id, PartitionSource(id), ""); err != nil {
					t.Fatal(err)
				}
				for off, v := range values {
					if _, err := p.Handle(ctx, id, int64(off), v); err != nil {
						t.Fatal(err)
					}
				}
				if _, _, err := p.Checkpoint(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			rows := 0
			names, _ := bucket.List(ctx, "turnstile/20240722T100500")
			for _, name := range names {
				data, _ := bucket.Get(ctx, name)
				wcs, err := lake.DecodeWindows(data)
				if err != nil {
					t.Fatal(err)
				}
				rows += len(wcs)
			}
			if rows != tc.wantRows {
				t.Errorf("window [10:00, 10:05) holds %d rows in %v, want %d", rows, names, tc.wantRows)
			}
		})
	}
}
