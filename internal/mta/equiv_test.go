package mta

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// The equivalence tests compare the streaming replay with the old one
// (oracle_test.go) message for message, in order, ties included.

// oldOutput returns the message values of the old replay of files, in
// order, and its stats.
func oldOutput(t *testing.T, maxDelta int64, files []string) ([]string, Stats) {
	t.Helper()
	c := newOldConverter(maxDelta, nil)
	for i, f := range files {
		if err := c.Read(context.Background(), fmt.Sprintf("file%d", i), strings.NewReader(f)); err != nil {
			t.Fatal(err)
		}
	}
	rp := c.Finish()
	var out []string
	for rec := range rp.Records() {
		out = append(out, string(turnstile.AppendCSV(nil, rec)))
	}
	return out, rp.Stats()
}

// stringInputs returns the files as inputs.
func stringInputs(files []string) []Input {
	var ins []Input
	for i, f := range files {
		ins = append(ins, Input{Name: fmt.Sprintf("file%d", i), open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(f)), nil
		}})
	}
	return ins
}

// parallelOutput is oldOutput for the streaming replay: it reads the files
// with ReadInputs on workers goroutines (0: with Read, one after the other).
func parallelOutput(t *testing.T, opts []Option, workers int, files []string) ([]string, Stats) {
	t.Helper()
	var rp *Replay
	if workers == 0 {
		rp = convertWith(t, opts, files...)
	} else {
		c, err := NewConverter(opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ReadInputs(context.Background(), stringInputs(files), workers); err != nil {
			t.Fatal(err)
		}
		rp = c.Finish()
	}
	var out []string
	for rec := range rp.Records() {
		out = append(out, string(turnstile.AppendCSV(nil, rec)))
	}
	if err := rp.Err(); err != nil {
		t.Fatal(err)
	}
	return out, rp.Stats()
}

// storages are the ways the streaming replay may hold its runs.
func storages(t *testing.T, maxDelta int64) map[string][]Option {
	return map[string][]Option{
		"memory":    {WithMaxDelta(maxDelta)},
		"spilled":   {WithMaxDelta(maxDelta), WithMemoryBudget(0), WithTempDir(t.TempDir())},
		"half":      {WithMaxDelta(maxDelta), WithMemoryBudget(40 * readingSize), WithTempDir(t.TempDir())},
		"cut small": {WithMaxDelta(maxDelta), WithMemoryBudget(0), WithRunReadings(7), WithTempDir(t.TempDir())},
	}
}

// firstDiff describes where two outputs part.
func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("message %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("got %d messages, want %d", len(got), len(want))
}

func checkSame(t *testing.T, files []string, maxDelta int64) {
	t.Helper()
	want, wantStats := oldOutput(t, maxDelta, files)
	if len(want) == 0 {
		t.Fatal("the old replay gives no messages: a test that cannot fail")
	}
	for how, opts := range storages(t, maxDelta) {
		for _, workers := range []int{0, 2, 3} {
			got, st := parallelOutput(t, opts, workers, files)
			if !slices.Equal(got, want) {
				t.Errorf("%s, %d workers: output differs from the old replay at %s", how, workers, firstDiff(got, want))
			}
			if st != wantStats {
				t.Errorf("%s, %d workers: stats = %+v, want the old %+v", how, workers, st, wantStats)
			}
		}
	}
}

func readFiles(t *testing.T, paths ...string) []string {
	t.Helper()
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// TestSameAsOldOnShippedSamples replays the shipped samples, alone, together
// and in both orders.
func TestSameAsOldOnShippedSamples(t *testing.T) {
	mtaFile := filepath.Join("..", "..", "testdata", "mta", "turnstile_240720.txt")
	pandas := filepath.Join("..", "..", "testdata", "mta", "turnstile_240724_pandas.csv")
	local, err := filepath.Glob("testdata/*.*")
	if err != nil {
		t.Fatal(err)
	}
	local = slices.DeleteFunc(local, func(p string) bool { return strings.HasSuffix(p, ".golden") })
	sets := map[string][]string{
		"mta file":            {mtaFile},
		"pandas file":         {pandas},
		"both":                {mtaFile, pandas},
		"both reversed":       {pandas, mtaFile},
		"the same file twice": {mtaFile, mtaFile},
		"testdata":            local,
		"everything":          append([]string{mtaFile, pandas}, local...),
	}
	for name, paths := range sets {
		t.Run(name, func(t *testing.T) {
			files := readFiles(t, paths...)
			checkSame(t, files, DefaultMaxDelta)
			checkSame(t, files, 300) // more resets
		})
	}
}

// genArchive returns weekly files in MTA format: turnstiles reporting every 4
// hours (some off the grid, so that equal times mix with unequal ones),
// cumulative counters carried from week to week (a turnstile spans files),
// rows in turnstile order with some shuffled, repeated readings with other
// counters (also across files), counter resets, and a last file that
// overlaps the one before it in time and repeats some of its readings.
func genArchive(seed uint64, weeks, turnstiles int) []string {
	rng := rand.New(rand.NewPCG(seed, 16))
	type gate struct {
		ca, unit, scp, station string
		entries, exits         int64
		offset                 time.Duration
	}
	gates := make([]*gate, turnstiles)
	for i := range gates {
		gates[i] = &gate{
			ca: fmt.Sprintf("A%03d", i/4), unit: fmt.Sprintf("R%03d", i/8), scp: fmt.Sprintf("02-00-%02d", i%4),
			station: []string{"59 ST", "TIMES SQ-42 ST", "BEDFORD AV"}[i%3],
			entries: rng.Int64N(1e7), exits: rng.Int64N(1e7),
			offset: time.Duration(rng.IntN(3)) * time.Hour,
		}
	}
	start := time.Date(2023, 1, 7, 0, 0, 0, 0, time.UTC)
	line := func(b *strings.Builder, g *gate, t time.Time, desc string, e, x int64) {
		fmt.Fprintf(b, "%s,%s,%s,%s,NQR456W,BMT,%s,%s,%s,%010d,%010d\n", g.ca, g.unit, g.scp, g.station,
			t.Format("01/02/2006"), t.Format("15:04:05"), desc, e, x)
	}
	var files []string
	var lastWeek []string // rows of the last full week, for the overlapping file
	for w := range weeks {
		var rows []string
		for _, g := range gates {
			from := start.Add(time.Duration(w) * 7 * 24 * time.Hour)
			for t := from.Add(g.offset); t.Before(from.Add(7 * 24 * time.Hour)); t = t.Add(4 * time.Hour) {
				var b strings.Builder
				desc := "REGULAR"
				if rng.IntN(40) == 0 {
					t = t.Add(time.Duration(rng.IntN(3600)) * time.Second) // off the grid
					desc = "RECOVR AUD"
				}
				switch rng.IntN(60) {
				case 0: // a reset
					g.entries, g.exits = rng.Int64N(1000), rng.Int64N(1000)
				case 1: // a wild jump
					g.entries += 50000
				}
				g.entries += rng.Int64N(900)
				g.exits += rng.Int64N(700)
				line(&b, g, t, desc, g.entries, g.exits)
				if rng.IntN(50) == 0 { // a repeat with other counters
					line(&b, g, t, "REGULAR", g.entries+rng.Int64N(100), g.exits)
				}
				rows = append(rows, b.String())
			}
		}
		for range len(rows) / 30 { // some rows out of order
			i, j := rng.IntN(len(rows)), rng.IntN(len(rows))
			rows[i], rows[j] = rows[j], rows[i]
		}
		if w == weeks-1 {
			lastWeek = rows
		}
		files = append(files, header+strings.Join(rows, ""))
	}
	// The overlapping file: half of the last week again, some with other
	// counters, and a few days beyond it.
	var b strings.Builder
	b.WriteString(header)
	for i, r := range lastWeek {
		switch i % 4 {
		case 0:
			b.WriteString(r)
		case 2: // the same reading with other EXITS
			b.WriteString(r[:len(r)-2] + "7\n")
		}
	}
	from := start.Add(time.Duration(weeks) * 7 * 24 * time.Hour).Add(-3 * 24 * time.Hour)
	for _, g := range gates[:turnstiles/2] {
		for t := from.Add(g.offset); t.Before(from.Add(6 * 24 * time.Hour)); t = t.Add(4 * time.Hour) {
			g.entries += rng.Int64N(900)
			g.exits += rng.Int64N(700)
			line(&b, g, t, "REGULAR", g.entries, g.exits)
		}
	}
	return append(files, b.String())
}

// TestSameAsOldOnGeneratedArchive replays generated weekly files with an
// overlapping one, in order, reversed and shuffled.
func TestSameAsOldOnGeneratedArchive(t *testing.T) {
	for seed := range uint64(3) {
		files := genArchive(seed, 4, 24)
		rng := rand.New(rand.NewPCG(seed, 99))
		shuffled := slices.Clone(files)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		reversed := slices.Clone(files)
		slices.Reverse(reversed)
		for name, set := range map[string][]string{"in order": files, "reversed": reversed, "shuffled": shuffled} {
			t.Run(fmt.Sprintf("seed %d %s", seed, name), func(t *testing.T) {
				checkSame(t, set, DefaultMaxDelta)
				checkSame(t, set, 500)
			})
		}
	}
}

// TestGeneratedArchiveIsHard checks that the generated archive holds what
// the equivalence test relies on: ties of equal times across files, a
// turnstile in several files, duplicates, resets and overlapping files.
func TestGeneratedArchiveIsHard(t *testing.T) {
	files := genArchive(0, 4, 24)
	_, st := oldOutput(t, DefaultMaxDelta, files)
	if st.Duplicates == 0 || st.Resets == 0 || st.Turnstiles != 24 {
		t.Errorf("stats %+v: want duplicates, resets and 24 turnstiles", st)
	}
	ranges := make([][2]int64, len(files))
	var times []map[int64]bool
	for i, f := range files {
		c, _ := NewConverter()
		if err := c.Read(context.Background(), "f", strings.NewReader(f)); err != nil {
			t.Fatal(err)
		}
		ranges[i] = [2]int64{c.runs[0].minT, c.runs[0].maxT}
		ts := map[int64]bool{}
		for _, r := range c.runs[0].mem {
			ts[r.t] = true
		}
		times = append(times, ts)
	}
	last := len(files) - 1
	if ranges[last][0] > ranges[last-1][1] {
		t.Errorf("the last file %v does not overlap the one before %v", ranges[last], ranges[last-1])
	}
	shared := 0
	for tm := range times[last] {
		if times[last-1][tm] {
			shared++
		}
	}
	if shared == 0 {
		t.Error("no equal times across files")
	}
}

// TestRangeIsTheFullReplayCut checks --from/--to: the deltas in range are
// those of the full old replay whose time is in [from, to), in the same order.
func TestRangeIsTheFullReplayCut(t *testing.T) {
	files := genArchive(7, 4, 16)
	all, _ := oldOutput(t, DefaultMaxDelta, files)
	start := time.Date(2023, 1, 7, 0, 0, 0, 0, time.UTC)
	ranges := []struct{ from, to time.Time }{
		{start.Add(9*24*time.Hour + 2*time.Hour), start.Add(16 * 24 * time.Hour)},
		{start.Add(20 * 24 * time.Hour), time.Time{}},
		{time.Time{}, start.Add(3*24*time.Hour + 30*time.Minute)},
		{start.Add(27 * 24 * time.Hour), start.Add(29 * 24 * time.Hour)}, // in the overlap
	}
	for _, r := range ranges {
		var want []string
		for _, v := range all {
			ts, _ := time.Parse(turnstile.TimestampLayout, v[strings.LastIndexByte(v, ',')+1:])
			if (r.from.IsZero() || !ts.Before(r.from)) && (r.to.IsZero() || ts.Before(r.to)) {
				want = append(want, v)
			}
		}
		if len(want) == 0 || len(want) == len(all) {
			t.Fatalf("range %v: %d of %d messages: a range that tests nothing", r, len(want), len(all))
		}
		for how, opts := range storages(t, DefaultMaxDelta) {
			var first Stats
			for _, workers := range []int{0, 2, 3} {
				got, st := parallelOutput(t, append(opts, WithRange(r.from, r.to)), workers, files)
				if !slices.Equal(got, want) {
					t.Errorf("range %v, %s, %d workers: %s", r, how, workers, firstDiff(got, want))
				}
				if st.Read != st.Skipped+st.OutOfRange+st.Duplicates+st.Turnstiles+st.Resets+st.Deltas {
					t.Errorf("range %v, %s, %d workers: stats %+v do not add up", r, how, workers, st)
				}
				if workers == 0 {
					first = st
				} else if st != first {
					t.Errorf("range %v, %s, %d workers: stats %+v, want those of one reader %+v", r, how, workers, st, first)
				}
			}
		}
	}
	if _, err := NewConverter(WithRange(start, start)); err == nil {
		t.Error("NewConverter accepted an empty range")
	}
}

// TestSpillFileIsRemoved checks that the spill file leaves nothing behind.
func TestSpillFileIsRemoved(t *testing.T) {
	dir := t.TempDir()
	files := genArchive(1, 2, 8)
	rp := convertWith(t, []Option{WithMemoryBudget(0), WithTempDir(dir)}, files...)
	if spilled, runs := rp.Spilled(); spilled != runs || runs != len(files) {
		t.Errorf("Spilled = %d of %d runs, want all %d", spilled, runs, len(files))
	}
	if n, read := rp.SpillBytes(), rp.Stats().Read; n < 8*read || n > 16*read {
		t.Errorf("SpillBytes = %d for %d readings, want 8 to 16 bytes a reading", n, read)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("spill directory holds %d entries, want none (the file is unlinked at once)", len(entries))
	}
	n := 0
	for range rp.Records() {
		n++
	}
	if n == 0 || rp.Err() != nil {
		t.Errorf("%d records, err %v", n, rp.Err())
	}
	if err := rp.Close(); err != nil {
		t.Error(err)
	}
	for range rp.Records() {
		t.Fatal("Records ran twice")
	}
	if rp.Err() == nil {
		t.Error("a second Records gives no error")
	}
	if _, err := NewConverter(WithMemoryBudget(0), WithTempDir(filepath.Join(dir, "missing"))); err != nil {
		t.Fatal(err)
	}
	c, _ := NewConverter(WithMemoryBudget(0), WithTempDir(filepath.Join(dir, "missing")))
	if err := c.Read(context.Background(), "f", strings.NewReader(files[0])); err == nil || !strings.Contains(err.Error(), "spill file") {
		t.Errorf("spilling into a missing directory: error = %v", err)
	}
}

// TestRecordsStopsEarly breaks out of Records: the converting goroutine
// stops, the spill file is closed, and no error is reported.
func TestRecordsStopsEarly(t *testing.T) {
	files := genArchive(4, 3, 16)
	want, _ := oldOutput(t, DefaultMaxDelta, files)
	rp := convertWith(t, []Option{WithMemoryBudget(0), WithTempDir(t.TempDir())}, files...)
	var got []string
	for rec := range rp.Records() {
		got = append(got, string(turnstile.AppendCSV(nil, rec)))
		if len(got) == 1500 {
			break
		}
	}
	if rp.Err() != nil || !slices.Equal(got, want[:1500]) {
		t.Errorf("err %v; the first 1500 records differ from the old replay's: %s", rp.Err(), firstDiff(got, want[:1500]))
	}
	if rp.spill != nil {
		t.Error("the spill file is still open")
	}
}

// TestCorruptSpillFile cuts the spill file short: Records stops and Err says
// what went wrong.
func TestCorruptSpillFile(t *testing.T) {
	files := genArchive(5, 3, 16)
	rp := convertWith(t, []Option{WithMemoryBudget(0), WithTempDir(t.TempDir())}, files...)
	if err := rp.spill.f.Truncate(rp.runs[len(rp.runs)-1].off + 100); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range rp.Records() {
		n++
	}
	if err := rp.Err(); err == nil || !strings.Contains(err.Error(), "spill file") {
		t.Errorf("after %d records: err = %v, want a spill file error", n, err)
	}
}

// TestReadInputsReportsTheEarliestError reads good and bad inputs on several
// goroutines: the error is that of the earliest bad input.
func TestReadInputsReportsTheEarliestError(t *testing.T) {
	files := genArchive(6, 2, 8)
	ins := stringInputs([]string{files[0], "not,a,header\n", files[1], "C/A\n", files[2]})
	for _, workers := range []int{1, 2, 4} {
		c, err := NewConverter()
		if err != nil {
			t.Fatal(err)
		}
		err = c.ReadInputs(context.Background(), ins, workers)
		if err == nil || !strings.HasPrefix(err.Error(), "file1:1: not a turnstile file") {
			t.Errorf("%d workers: error = %v, want file1's", workers, err)
		}
		c.Finish().Close()
	}
}
