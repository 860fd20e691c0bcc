package e2e

// A tiny reference implementation of what the pipeline must produce, written
// apart from the apps: it shares no code with internal/window,
// internal/stream, internal/mta or internal/turnstile, and uses only the
// standard library. It computes the expected.csv of the larger cases (see
// testdata/README.md); TestExpectedFilesMatchReference keeps the committed
// files and this reference in agreement.

import (
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// refRecord is one per-interval count, as a message carries it.
type refRecord struct {
	ca, unit, scp, station, lines, division, desc string
	entries, exits                                int64
	t                                             time.Time
}

// refMessages reads message values (the producer's --out output): 13 CSV
// fields, TIMESTAMP last.
func refMessages(path string) ([]refRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 13
	var out []refRecord
	for {
		fields, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		entries, err1 := strconv.ParseInt(fields[9], 10, 64)
		exits, err2 := strconv.ParseInt(fields[10], 10, 64)
		t, err3 := time.Parse("2006-01-02 15:04:05", fields[12])
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("%s: bad message %q", path, fields)
		}
		out = append(out, refRecord{ca: fields[0], unit: fields[1], scp: fields[2], station: fields[3], lines: fields[4],
			division: fields[5], desc: fields[8], entries: entries, exits: exits, t: t})
	}
}

// refMTA converts raw MTA turnstile files (MTA's own format, or pandas'
// with a leading index column) to per-interval counts, as the producer's
// documented rules say: per turnstile in time order, the first reading emits
// nothing; a repeat of a turnstile and time is ignored (the first in file
// order counts); a delta is taken against the previous reading even if that
// one was skipped; a negative delta or one above maxDelta is skipped as a
// reset. STATION, LINENAME, DIVISION and DESC come from the reading.
func refMTA(maxDelta int64, paths ...string) ([]refRecord, error) {
	type reading struct {
		refRecord
		order int
	}
	byKey := map[string][]reading{}
	order := 0
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		skip := 0 // a pandas index column
		for i, row := range rows {
			if i == 0 {
				if strings.TrimSpace(row[0]) == "" {
					skip = 1
				}
				continue
			}
			row = row[skip:]
			if len(row) != 11 {
				return nil, fmt.Errorf("%s:%d: %d fields", path, i+1, len(row))
			}
			for j := range row {
				row[j] = strings.TrimSpace(row[j])
			}
			t, err := time.Parse("01/02/2006 15:04:05", row[6]+" "+row[7])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
			}
			entries, err1 := strconv.ParseInt(row[9], 10, 64)
			exits, err2 := strconv.ParseInt(row[10], 10, 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%s:%d: bad counters", path, i+1)
			}
			key := row[0] + "|" + row[1] + "|" + row[2]
			byKey[key] = append(byKey[key], reading{refRecord{ca: row[0], unit: row[1], scp: row[2], station: row[3], lines: row[4],
				division: row[5], desc: row[8], entries: entries, exits: exits, t: t}, order})
			order++
		}
	}
	var out []refRecord
	for _, rs := range byKey {
		sort.SliceStable(rs, func(i, j int) bool {
			if !rs[i].t.Equal(rs[j].t) {
				return rs[i].t.Before(rs[j].t)
			}
			return rs[i].order < rs[j].order
		})
		var prev *reading
		for i := range rs {
			r := &rs[i]
			if prev != nil && r.t.Equal(prev.t) {
				continue // a repeat: ignored completely
			}
			if prev != nil {
				de, dx := r.entries-prev.entries, r.exits-prev.exits
				if de >= 0 && dx >= 0 && de <= maxDelta && dx <= maxDelta {
					d := r.refRecord
					d.entries, d.exits = de, dx
					out = append(out, d)
				}
			}
			prev = r
		}
	}
	return out, nil
}

// refWindows sums records into the windows [k·slide, k·slide+size) (Unix
// epoch aligned) that contain their time, per turnstile key, and returns the
// lake rows (no index column), sorted. Every record counts: the cases that
// use the reference have no duplicates and no late records.
func refWindows(recs []refRecord, size, slide time.Duration) []string {
	type cell struct {
		key            string
		end            int64
		entries, exits int64
	}
	cells := map[string]*cell{}
	d, s := int64(size/time.Second), int64(slide/time.Second)
	for _, r := range recs {
		t := r.t.Unix()
		key := strings.Join([]string{csvField(r.ca), csvField(r.unit), csvField(r.scp), csvField(r.station),
			csvField(r.lines), csvField(r.division)}, ",") + "\x00" + csvField(r.desc)
		// the starts k·s with k·s <= t < k·s + d
		for start := (t / s) * s; start > t-d; start -= s {
			id := key + "\x00" + strconv.FormatInt(start+d, 10)
			c := cells[id]
			if c == nil {
				c = &cell{key: key, end: start + d}
				cells[id] = c
			}
			c.entries += r.entries
			c.exits += r.exits
		}
	}
	var rows []string
	for _, c := range cells {
		head, desc, _ := strings.Cut(c.key, "\x00")
		end := time.Unix(c.end, 0).UTC()
		rows = append(rows, fmt.Sprintf("%s,%s,%s,%s,%d,%d", head, end.Format("01/02/2006"), end.Format("15:04:05"), desc, c.entries, c.exits))
	}
	slices.Sort(rows)
	return rows
}

func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\r\n") || strings.TrimSpace(s) != s {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// The cases whose expected.csv comes from the reference, and how.
var referenceCases = map[string]func() ([]string, error){
	"synthetic_tumbling": func() ([]string, error) {
		recs, err := refMessages("testdata/synthetic_tumbling/messages.txt")
		return refWindows(recs, 5*time.Minute, 5*time.Minute), err
	},
	"replay":        replayReference,
	"crash":         replayReference,
	"rebalance":     replayReference,
	"faults":        replayReference,
	"graceful_stop": replayReference,
}

func replayReference() ([]string, error) {
	recs, err := refMTA(10000, "testdata/replay/turnstile_240720_shuffled.txt", "testdata/replay/turnstile_240724_pandas.csv")
	return refWindows(recs, 5*time.Minute, 5*time.Minute), err
}

var writeReference = flag.Bool("write-reference", false, "write the expected.csv of the reference cases from the reference (see testdata/README.md)")

// TestExpectedFilesMatchReference checks the committed expected.csv of the
// larger cases against the reference, so that -update cannot slip a
// pipeline bug into them unnoticed.
func TestExpectedFilesMatchReference(t *testing.T) {
	for name, ref := range referenceCases {
		want, err := ref()
		if err != nil {
			t.Fatalf("%s: reference: %v", name, err)
		}
		if *writeReference {
			writeExpected(t, filepath.Join("testdata", name, "expected.csv"), want)
		}
		got := readExpected(t, filepath.Join("testdata", name, "expected.csv"))
		if d := diffRows(got, want); d != "" {
			t.Errorf("testdata/%s/expected.csv differs from the reference (got = file, want = reference):\n%s", name, d)
		}
	}
}

// TestReferenceDeltas checks the reference's delta conversion against the
// true deltas that tools/mtasample drew when it generated the sample (the
// shuffled copy holds the same readings).
func TestReferenceDeltas(t *testing.T) {
	recs, err := refMTA(10000, "testdata/replay/turnstile_240720_shuffled.txt", "testdata/replay/turnstile_240724_pandas.csv")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s,%s,%s,%s,%d,%d", r.ca, r.unit, r.scp, r.t.Format("2006-01-02 15:04:05"), r.entries, r.exits))
	}
	data, err := os.ReadFile("../../testdata/mta/expected_deltas.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(data)), "\n")[1:]
	slices.Sort(got)
	slices.Sort(want)
	if d := diffRows(got, want); d != "" {
		t.Fatalf("reference deltas differ from testdata/mta/expected_deltas.csv:\n%s", d)
	}
}
