package mta

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const header = "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS\n"

// row builds an MTA data row for turnstile scp of A002/R051.
func row(scp, date, clock, desc string, entries, exits int64) string {
	return fmt.Sprintf("A002,R051,%s,59 ST,NQR456W,BMT,%s,%s,%s,%010d,%010d\n", scp, date, clock, desc, entries, exits)
}

// summary renders a replay's records one per line as
// "SCP TIMESTAMP DESC ENTRIES EXITS".
func summary(rp *Replay) []string {
	var out []string
	for rec := range rp.Records() {
		out = append(out, fmt.Sprintf("%s %s %s %d %d", rec.SCP, rec.Timestamp.Format(turnstile.TimestampLayout), rec.Desc, rec.Entries, rec.Exits))
	}
	return out
}

func convert(t *testing.T, maxDelta int64, files ...string) *Replay {
	t.Helper()
	return convertWith(t, []Option{WithMaxDelta(maxDelta)}, files...)
}

func convertWith(t *testing.T, opts []Option, files ...string) *Replay {
	t.Helper()
	c, err := NewConverter(opts...)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		if err := c.Read(context.Background(), fmt.Sprintf("file%d", i), strings.NewReader(f)); err != nil {
			t.Fatal(err)
		}
	}
	return c.Finish()
}

func TestConvert(t *testing.T) {
	const d = "07/20/2024"
	tests := []struct {
		name  string
		files []string
		want  []string
		stats Stats // Files and Read are checked through the invariant only
	}{
		{
			name:  "first reading emits nothing",
			files: []string{header + row("00", d, "00:00:00", "REGULAR", 100, 50)},
			stats: Stats{Turnstiles: 1},
		},
		{
			name: "deltas between consecutive readings",
			files: []string{header +
				row("00", d, "00:00:00", "REGULAR", 100, 50) +
				row("00", d, "04:00:00", "REGULAR", 130, 55) +
				row("00", d, "08:00:00", "REGULAR", 430, 155)},
			want:  []string{"00 2024-07-20 04:00:00 REGULAR 30 5", "00 2024-07-20 08:00:00 REGULAR 300 100"},
			stats: Stats{Turnstiles: 1, Deltas: 2},
		},
		{
			name: "rows out of time order in the file",
			files: []string{header +
				row("00", d, "08:00:00", "REGULAR", 430, 155) +
				row("00", d, "00:00:00", "REGULAR", 100, 50) +
				row("00", d, "04:00:00", "REGULAR", 130, 55)},
			want:  []string{"00 2024-07-20 04:00:00 REGULAR 30 5", "00 2024-07-20 08:00:00 REGULAR 300 100"},
			stats: Stats{Turnstiles: 1, Deltas: 2},
		},
		{
			name: "counter reset is skipped and the next delta is taken against it",
			files: []string{header +
				row("00", d, "00:00:00", "REGULAR", 5000000, 3000000) +
				row("00", d, "04:00:00", "REGULAR", 5000100, 3000050) +
				row("00", d, "08:00:00", "REGULAR", 12, 7) +
				row("00", d, "12:00:00", "REGULAR", 212, 57)},
			want:  []string{"00 2024-07-20 04:00:00 REGULAR 100 50", "00 2024-07-20 12:00:00 REGULAR 200 50"},
			stats: Stats{Turnstiles: 1, Resets: 1, Deltas: 2},
		},
		{
			name: "one negative delta is enough for a reset",
			files: []string{header +
				row("00", d, "00:00:00", "REGULAR", 100, 100) +
				row("00", d, "04:00:00", "REGULAR", 200, 99)},
			stats: Stats{Turnstiles: 1, Resets: 1},
		},
		{
			name: "delta above the maximum is a reset, at the maximum is not",
			files: []string{header +
				row("00", d, "00:00:00", "REGULAR", 0, 0) +
				row("00", d, "04:00:00", "REGULAR", 1000, 1000) +
				row("00", d, "08:00:00", "REGULAR", 2001, 1000)},
			want:  []string{"00 2024-07-20 04:00:00 REGULAR 1000 1000"},
			stats: Stats{Turnstiles: 1, Resets: 1, Deltas: 1},
		},
		{
			name: "duplicate readings keep the first in file order and ignore the rest",
			files: []string{header +
				row("00", d, "00:00:00", "REGULAR", 100, 50) +
				row("00", d, "04:00:00", "REGULAR", 150, 60) +
				row("00", d, "04:00:00", "RECOVR AUD", 999999, 999999) +
				row("00", d, "04:00:00", "REGULAR", 0, 0) +
				row("00", d, "08:00:00", "REGULAR", 170, 80)},
			want:  []string{"00 2024-07-20 04:00:00 REGULAR 50 10", "00 2024-07-20 08:00:00 REGULAR 20 20"},
			stats: Stats{Turnstiles: 1, Duplicates: 2, Deltas: 2},
		},
		{
			name: "a duplicate of a first reading is ignored too",
			files: []string{header +
				row("00", d, "00:00:00", "REGULAR", 100, 50) +
				row("00", d, "00:00:00", "REGULAR", 10, 5) +
				row("00", d, "04:00:00", "REGULAR", 110, 60)},
			want:  []string{"00 2024-07-20 04:00:00 REGULAR 10 10"},
			stats: Stats{Turnstiles: 1, Duplicates: 1, Deltas: 1},
		},
		{
			name: "duplicates across files keep the first file's reading",
			files: []string{
				header + row("00", d, "00:00:00", "REGULAR", 100, 50) + row("00", d, "04:00:00", "REGULAR", 120, 60),
				header + row("00", d, "04:00:00", "REGULAR", 500, 500) + row("00", d, "08:00:00", "REGULAR", 125, 61),
			},
			want:  []string{"00 2024-07-20 04:00:00 REGULAR 20 10", "00 2024-07-20 08:00:00 REGULAR 5 1"},
			stats: Stats{Turnstiles: 1, Duplicates: 1, Deltas: 2},
		},
		{
			name: "RECOVR AUD reading counts, with its own DESC",
			files: []string{header +
				row("00", d, "00:00:00", "REGULAR", 100, 50) +
				row("00", d, "05:22:10", "RECOVR AUD", 140, 52) +
				row("00", d, "08:00:00", "REGULAR", 150, 60)},
			want:  []string{"00 2024-07-20 05:22:10 RECOVR AUD 40 2", "00 2024-07-20 08:00:00 REGULAR 10 8"},
			stats: Stats{Turnstiles: 1, Deltas: 2},
		},
		{
			name: "event-time order across turnstiles and files, ties in file order",
			files: []string{
				header + row("01", d, "00:00:00", "REGULAR", 0, 0) + row("01", d, "04:00:00", "REGULAR", 1, 1) + row("01", d, "08:00:00", "REGULAR", 2, 2),
				header + row("00", d, "02:00:00", "REGULAR", 0, 0) + row("00", d, "04:00:00", "REGULAR", 3, 3) + row("00", d, "06:00:00", "REGULAR", 4, 4),
			},
			want: []string{
				"01 2024-07-20 04:00:00 REGULAR 1 1",
				"00 2024-07-20 04:00:00 REGULAR 3 3",
				"00 2024-07-20 06:00:00 REGULAR 1 1",
				"01 2024-07-20 08:00:00 REGULAR 1 1",
			},
			stats: Stats{Turnstiles: 2, Deltas: 4},
		},
		{
			name: "bad rows are skipped and counted",
			files: []string{header +
				row("00", d, "00:00:00", "REGULAR", 100, 50) +
				"A002,R051,00,59 ST\n" +
				row("00", "13/20/2024", "04:00:00", "REGULAR", 110, 60) +
				"\n" +
				row("00", d, "08:00:00", "REGULAR", 120, 70)},
			want:  []string{"00 2024-07-20 08:00:00 REGULAR 20 20"},
			stats: Stats{Skipped: 2, Turnstiles: 1, Deltas: 1},
		},
		{
			name: "a repeated header starts a new header",
			files: []string{header + row("00", d, "00:00:00", "REGULAR", 100, 50) +
				",CA,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS\n" +
				"7," + row("00", d, "04:00:00", "REGULAR", 110, 60)},
			want:  []string{"00 2024-07-20 04:00:00 REGULAR 10 10"},
			stats: Stats{Turnstiles: 1, Deltas: 1},
		},
	}
	// The same answers whether the runs stay in memory or are spilled, and
	// whether a file is one run or cut into runs of 2 readings.
	storage := map[string][]Option{
		"memory":  {WithMaxDelta(1000)},
		"spilled": {WithMaxDelta(1000), WithMemoryBudget(0), WithTempDir(t.TempDir())},
		"cut":     {WithMaxDelta(1000), WithMemoryBudget(0), WithRunReadings(2), WithTempDir(t.TempDir())},
	}
	for _, tt := range tests {
		for how, opts := range storage {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				rp := convertWith(t, opts, tt.files...)
				if got := summary(rp); !slices.Equal(got, tt.want) {
					t.Errorf("records:\n got %q\nwant %q", got, tt.want)
				}
				if err := rp.Err(); err != nil {
					t.Fatal(err)
				}
				st := rp.Stats()
				if st.Read != st.Skipped+st.Duplicates+st.Turnstiles+st.Resets+st.Deltas {
					t.Errorf("stats %+v: Read is not the sum of the outcomes", st)
				}
				st.Files, st.Read = 0, 0
				if st != tt.stats {
					t.Errorf("stats = %+v, want %+v", st, tt.stats)
				}
			})
		}
	}
}

func TestRecordFields(t *testing.T) {
	rp := convert(t, DefaultMaxDelta, header+
		row("02-00-00", "07/20/2024", "00:00:00", "REGULAR", 100, 50)+
		row("02-00-00", "07/20/2024", "04:00:00", "REGULAR", 130, 55))
	var recs []turnstile.Record
	for rec := range rp.Records() {
		recs = append(recs, *rec)
	}
	if len(recs) != 1 || rp.Len() != 1 {
		t.Fatalf("%d records, Len = %d, want 1", len(recs), rp.Len())
	}
	rec := recs[0]
	got := string(turnstile.AppendCSV(nil, &rec))
	want := "A002,R051,02-00-00,59 ST,NQR456W,BMT,07-20-24,04:00:00,REGULAR,30,5," + rec.ID + ",2024-07-20 04:00:00"
	if got != want {
		t.Errorf("value = %q, want %q", got, want)
	}
	parsed, err := turnstile.Parse([]byte(got))
	if err != nil {
		t.Fatalf("the consumer's parser rejects the value: %v", err)
	}
	if parsed != rec {
		t.Errorf("round trip = %+v, want %+v", parsed, rec)
	}
	if key := rec.Key(); key != "A002|R051|02-00-00" {
		t.Errorf("Key = %q", key)
	}
}

func TestIDsAreDeterministic(t *testing.T) {
	file := header +
		row("00", "07/20/2024", "00:00:00", "REGULAR", 100, 50) +
		row("00", "07/20/2024", "04:00:00", "REGULAR", 130, 55) +
		row("01", "07/20/2024", "00:00:00", "REGULAR", 100, 50) +
		row("01", "07/20/2024", "04:00:00", "REGULAR", 130, 55) +
		row("01", "07/20/2024", "08:00:00", "REGULAR", 140, 56)
	ids := func() []string {
		var out []string
		for rec := range convert(t, DefaultMaxDelta, file).Records() {
			if want := turnstile.ReadingID(rec.CA, rec.Unit, rec.SCP, rec.Timestamp); rec.ID != want {
				t.Errorf("ID of %s at %v = %s, want UUIDv5 of CA|UNIT|SCP|TIMESTAMP %s", rec.Key(), rec.Timestamp, rec.ID, want)
			}
			out = append(out, rec.ID)
		}
		return out
	}
	first, second := ids(), ids()
	if !slices.Equal(first, second) {
		t.Errorf("replaying the same file gave other IDs:\n%q\n%q", first, second)
	}
	seen := map[string]bool{}
	for _, id := range first {
		if seen[id] {
			t.Errorf("ID %s given to two readings", id)
		}
		seen[id] = true
	}
	// Pinned, so that a change of namespace or name format is caught: the
	// consumer's dedup of re-sent files depends on stable IDs.
	if got, want := first[0], turnstile.NewID([]byte("A002|R051|00|2024-07-20 04:00:00")); got != want {
		t.Errorf("first ID = %s, want %s", got, want)
	}
	if got, want := first[0], "f834eacd-5e9a-58eb-b2e5-fb01b9efa8c4"; got != want {
		t.Errorf("ID of A002|R051|00|2024-07-20 04:00:00 = %s, want the pinned %s", got, want)
	}
}

func TestReadGzipAndFiles(t *testing.T) {
	plain, err := os.ReadFile("testdata/mta_header.txt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gz := filepath.Join(dir, "turnstile.txt.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(plain)
	zw.Close()
	if err := os.WriteFile(gz, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fromPlain, err := Load(context.Background(), []string{"testdata/mta_header.txt"})
	if err != nil {
		t.Fatal(err)
	}
	fromGzip, err := Load(context.Background(), []string{gz})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := summary(fromPlain), summary(fromGzip); !slices.Equal(a, b) || len(a) == 0 {
		t.Errorf("gzip and plain differ:\n%q\n%q", a, b)
	}

	if _, err := Load(context.Background(), []string{filepath.Join(dir, "missing.txt")}); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file: error = %v, want one naming the file", err)
	}
	notMTA := filepath.Join(dir, "notes.txt")
	os.WriteFile(notMTA, []byte("hello,world\n"), 0o644)
	if _, err := Load(context.Background(), []string{notMTA}); err == nil || !strings.Contains(err.Error(), "notes.txt:1: not a turnstile file") {
		t.Errorf("non-MTA file: error = %v", err)
	}
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	if _, err := Load(context.Background(), []string{empty}); err == nil || !strings.Contains(err.Error(), "no header") {
		t.Errorf("empty file: error = %v", err)
	}
	if _, err := NewConverter(WithMaxDelta(-1)); err == nil {
		t.Error("NewConverter accepted a negative max delta")
	}
}

func TestBadRowWarningNamesFileAndLine(t *testing.T) {
	var logs bytes.Buffer
	c, err := NewConverter(WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReadFile(context.Background(), "testdata/pandas_index.csv"); err != nil {
		t.Fatal(err)
	}
	if st := c.Finish().Stats(); st.Skipped != 1 {
		t.Errorf("Skipped = %d, want 1", st.Skipped)
	}
	for _, want := range []string{"level=WARN", "file=testdata/pandas_index.csv", "line=5", `TIME \"not-a-time\" is not HH:MM:SS`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("warning %q does not contain %q", logs.String(), want)
		}
	}
}

func TestLongLine(t *testing.T) {
	long := strings.Repeat("X", 3<<20)
	rp := convert(t, DefaultMaxDelta, header+
		row("00", "07/20/2024", "00:00:00", "REGULAR", 1, 1)+
		"A002,R051,00,"+long+"\n"+
		row("00", "07/20/2024", "04:00:00", "REGULAR", 2, 2))
	summary(rp)
	if st := rp.Stats(); st.Skipped != 1 || st.Deltas != 1 {
		t.Errorf("stats = %+v, want 1 skipped and 1 delta", st)
	}
}

// TestLongValidRow checks that a row longer than the 1 MiB read buffer is
// read whole: its station, of 3 MiB, comes out in its record.
func TestLongValidRow(t *testing.T) {
	station := "LONG " + strings.Repeat("X", 3<<20)
	rp := convert(t, DefaultMaxDelta, header+
		row("00", "07/20/2024", "00:00:00", "REGULAR", 1, 1)+
		"A002,R051,00,"+station+",NQR456W,BMT,07/20/2024,04:00:00,REGULAR,2,2\n"+
		row("00", "07/20/2024", "08:00:00", "REGULAR", 3, 3))
	var stations []string
	for rec := range rp.Records() {
		stations = append(stations, rec.Station)
	}
	if len(stations) != 2 || stations[0] != station || stations[1] != "59 ST" {
		t.Fatalf("%d records, stations of %d bytes; want 2, the first with the %d-byte station", len(stations), len(strings.Join(stations, "")), len(station))
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var b strings.Builder
	b.WriteString(header)
	for i := range 70000 {
		b.WriteString(row("00", "07/20/2024", fmt.Sprintf("%02d:%02d:%02d", i/3600%24, i/60%60, i%60), "REGULAR", int64(i), int64(i)))
	}
	c, _ := NewConverter()
	if err := c.Read(ctx, "big", strings.NewReader(b.String())); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("Read with a cancelled context: error = %v", err)
	}
}

// TestGolden converts each input under testdata/ and compares the message
// values and counts with its .golden file. Regenerate with go test -update.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.*")
	if err != nil {
		t.Fatal(err)
	}
	inputs = slices.DeleteFunc(inputs, func(p string) bool { return strings.HasSuffix(p, ".golden") })
	if len(inputs) < 3 {
		t.Fatalf("found %d inputs under testdata/, want at least 3", len(inputs))
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			rp, err := Load(context.Background(), []string{in})
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			var line []byte
			for rec := range rp.Records() {
				line = append(turnstile.AppendCSV(line[:0], rec), '\n')
				body.Write(line)
			}
			var got bytes.Buffer
			st := rp.Stats()
			fmt.Fprintf(&got, "# read=%d skipped=%d duplicates=%d turnstiles=%d resets=%d deltas=%d\n",
				st.Read, st.Skipped, st.Duplicates, st.Turnstiles, st.Resets, st.Deltas)
			got.Write(body.Bytes())
			golden := strings.TrimSuffix(in, filepath.Ext(in)) + ".golden"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("output differs from %s (run go test -update if the change is intended):\n got:\n%s\nwant:\n%s", golden, got.Bytes(), want)
			}
		})
	}
}

func TestSortByTimeIsStable(t *testing.T) {
	tests := []struct {
		name string
		t    func(i int) int64
	}{
		{name: "few distinct times", t: func(i int) int64 { return 1721433600 + int64(i*7919%6)*14400 }},
		{name: "wide span", t: func(i int) int64 { return int64(i*104729%1000) << 40 }},
		{name: "negative times", t: func(i int) int64 { return int64(i*31%17) - 8 }},
		{name: "one time", t: func(int) int64 { return 5 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := make([]reading, 5000)
			for i := range rs {
				rs[i] = reading{t: tt.t(i), entries: int64(i)} // entries: the read order
			}
			want := slices.Clone(rs)
			slices.SortStableFunc(want, func(a, b reading) int { return cmp.Compare(a.t, b.t) })
			if got := sortByTimeInto(rs, make([]reading, len(rs))); !slices.Equal(got, want) {
				t.Error("sortByTime differs from a stable sort by time")
			}
		})
	}
}
