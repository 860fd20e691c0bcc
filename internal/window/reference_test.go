package window

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// TestEngineMatchesReference runs random streams through the Engine and
// through a naive implementation of the rules (a map per window, a
// set of every (ID, STATION, TIMESTAMP) ever seen, rows sorted by comparing
// fields), and compares every emitted row. The streams are large enough for
// windows to turn dense and for rows to be emitted by walking the key order,
// and hold out-of-order, late and duplicate records and keys that first show
// up late in the stream.
//
// Each case runs two partitions, whose Engines share one Keys and whose
// streams draw from the same keys, interleaved at random, plus a third
// partition that is revoked (Release) half way. Keys that no open window
// holds are forgotten and their IDs reused as the streams go on; with drift,
// the pool of keys slides along the stream, so that most keys are forgotten.
func TestEngineMatchesReference(t *testing.T) {
	tests := []struct {
		name               string
		size, slide, delay time.Duration
		keys, records      int
		perSecond          int // records per second of event time
		drift              int // the key pool slides over keys × (1 + drift) keys in all
	}{
		{name: "tumbling, many keys", size: 5 * time.Minute, slide: 5 * time.Minute, delay: 5 * time.Minute, keys: 2000, records: 30_000, perSecond: 20},
		{name: "sliding, many keys", size: 15 * time.Minute, slide: 5 * time.Minute, delay: 2 * time.Minute, keys: 1500, records: 30_000, perSecond: 20},
		{name: "tumbling, few keys, short delay", size: time.Minute, slide: time.Minute, delay: 10 * time.Second, keys: 40, records: 10_000, perSecond: 30},
		{name: "short windows over many keys: rows sorted, not walked", size: 30 * time.Second, slide: 10 * time.Second, delay: 20 * time.Second, keys: 3000, records: 30_000, perSecond: 20},
		{name: "slide that does not divide the size", size: 5 * time.Minute, slide: 2 * time.Minute, delay: time.Minute, keys: 700, records: 20_000, perSecond: 10},
		{name: "a flood of keys that come and go", size: time.Minute, slide: 30 * time.Second, delay: 30 * time.Second, keys: 300, records: 30_000, perSecond: 20, drift: 40},
		{name: "a flood of keys, walked in key order", size: 5 * time.Minute, slide: 5 * time.Minute, delay: time.Minute, keys: 1000, records: 30_000, perSecond: 20, drift: 10},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := NewSpec(tt.size, tt.slide, tt.delay)
			if err != nil {
				t.Fatal(err)
			}
			var streams [][][]byte
			for p := range 3 {
				rng := rand.New(rand.NewPCG(uint64(i), 99+uint64(p)))
				streams = append(streams, randomStream(rng, tt.keys, tt.records, tt.perSecond, tt.drift))
			}
			streams[2] = streams[2][:len(streams[2])/2] // revoked half way
			// A fixed hash seed, another for each case.
			keys := newKeys(uint64(i) + 1)
			keys.minIdle = 0 // forget idle keys as soon as they outnumber the held ones
			got, forgotten := engineRows(t, spec, keys, streams, 2, rand.New(rand.NewPCG(uint64(i), 7)))
			for p := range 2 {
				want := referenceRows(t, spec, streams[p])
				if len(got[p]) != len(want) {
					t.Errorf("partition %d: engine emitted %d rows, the reference %d", p, len(got[p]), len(want))
				}
				for j := range min(len(got[p]), len(want)) {
					if got[p][j] != want[j] {
						t.Fatalf("partition %d row %d: engine %s, reference %s", p, j, got[p][j], want[j])
					}
				}
			}
			if forgotten == 0 && tt.drift > 0 {
				t.Error("no key was forgotten before the end of the streams")
			}
			distinct := map[string]bool{}
			for _, s := range streams {
				for _, v := range s {
					rec, _ := turnstile.Parse(v)
					distinct[rec.CA+rec.Unit+rec.SCP+rec.Station+rec.Desc] = true
				}
			}
			t.Logf("%d distinct keys, %d forgotten before the end, at most %d live at once", len(distinct), forgotten, keys.Len())
			if tt.drift > 0 && keys.Len() > len(distinct)/2 {
				t.Errorf("the key IDs went up to %d for %d distinct keys: forgotten IDs are not reused", keys.Len(), len(distinct))
			}
			if keys.Held() != 0 {
				t.Errorf("after every window closed, %d keys are held", keys.Held())
			}
			keys.sweep()
			if keys.Live() != 0 || slices.ContainsFunc(keys.slots, func(s keySlot) bool { return s.id != 0 }) {
				t.Errorf("after every window closed and a sweep, %d keys are live", keys.Live())
			}
		})
	}
}

// randomStream returns message values: keys drawn from a pool that grows
// along the stream, TIMESTAMPs mostly in order with some jitter back in time
// (some beyond the watermark delay), and about 3 % repeats of earlier values.
// With drift > 0 the pool also slides, from keys 0 to keys−1 at the start to
// keys·drift to keys·(drift+1)−1 at the end.
func randomStream(rng *rand.Rand, keys, n, perSecond, drift int) [][]byte {
	start := time.Date(2024, 7, 22, 23, 50, 0, 0, time.UTC) // crosses midnight
	var out [][]byte
	for i := range n {
		if i > 0 && rng.IntN(100) < 3 {
			out = append(out, out[rng.IntN(len(out))]) // a duplicate, maybe a late one
			continue
		}
		known := max(1, keys*(i+1)/n*2) // the pool grows: half the keys are new in the second half
		k := rng.IntN(min(known, keys)) + keys*drift*i/n
		t := start.Add(time.Duration(i/perSecond) * time.Second)
		if rng.IntN(10) == 0 {
			t = t.Add(-time.Duration(rng.IntN(600)) * time.Second) // out of order, sometimes late
		}
		desc := "REGULAR"
		if k%17 == 0 {
			desc = "RECOVR AUD"
		}
		rec := turnstile.NewRecord(fmt.Sprintf("A%03d", k%97), fmt.Sprintf("R%03d", k/97), fmt.Sprintf("%02d-00-%02d", k%5, k%11),
			fmt.Sprintf("STATION %d", k%53), "NQR456W", "BMT", desc, int64(rng.IntN(100)), int64(rng.IntN(100)), fmt.Sprintf("id-%d-%d", k, t.Unix()), t)
		out = append(out, turnstile.AppendCSV(nil, &rec))
	}
	return out
}

// row is one emitted row, printed for comparison.
func row(end int64, k turnstile.Key, entries, exits int64) string {
	return fmt.Sprintf("%s %s|%s|%s|%s|%s|%s|%s %d %d", time.Unix(end, 0).UTC().Format("2006-01-02 15:04:05"),
		k.CA, k.Unit, k.SCP, k.Station, k.LineName, k.Division, k.Desc, entries, exits)
}

// engineRows feeds the streams to one Engine each, all sharing keys, taking
// the next value of a stream chosen at random, and returns the rows each of
// the first kept Engines emitted. The Engines of the other streams are
// released when their stream ends, as a revoked partition's. forgotten is
// how many keys were forgotten before the final Flush.
func engineRows(t *testing.T, spec Spec, keys *Keys[turnstile.Key], streams [][][]byte, kept int, rng *rand.Rand) (rows [][]string, forgotten int64) {
	t.Helper()
	type part struct {
		e       *Engine[turnstile.Key]
		values  [][]byte
		next    int
		lastEnd int64
	}
	parts := make([]*part, len(streams))
	for i, s := range streams {
		parts[i] = &part{e: New(spec, keys, int32(i)), values: s, lastEnd: -1 << 62}
	}
	rows = make([][]string, len(streams))
	emitter := func(i int) func(c *Closed[turnstile.Key]) error {
		return func(c *Closed[turnstile.Key]) error {
			p := parts[i]
			if c.End <= p.lastEnd {
				t.Fatalf("partition %d: window ending %d emitted after the one ending %d", i, c.End, p.lastEnd)
			}
			p.lastEnd = c.End
			for _, r := range c.Rows {
				rows[i] = append(rows[i], row(c.End, r.Key, r.Entries, r.Exits))
			}
			return nil
		}
	}
	var p turnstile.Parser
	var m turnstile.Message
	var r Record
	for {
		var active []int
		for i, pt := range parts {
			if pt.next < len(pt.values) {
				active = append(active, i)
			}
		}
		if len(active) == 0 {
			break
		}
		i := active[rng.IntN(len(active))]
		pt := parts[i]
		if err := p.Parse(pt.values[pt.next], &m); err != nil {
			t.Fatal(err)
		}
		add(t, pt.e, recordOf(&m, &r), int64(pt.next))
		pt.next++
		if pt.e.Ready() {
			if err := pt.e.Emit(emitter(i)); err != nil {
				t.Fatal(err)
			}
		}
		if pt.next == len(pt.values) && i >= kept {
			pt.e.Release()
		}
	}
	forgotten = keys.Forgotten()
	for i := range kept {
		if err := parts[i].e.Flush(emitter(i)); err != nil {
			t.Fatal(err)
		}
	}
	return rows[:kept], forgotten
}

// referenceRows applies the rules as the issue states them, with no care
// for speed or memory.
func referenceRows(t *testing.T, spec Spec, values [][]byte) []string {
	t.Helper()
	size, slide, delay := int64(spec.Size()/time.Second), int64(spec.Slide()/time.Second), int64(spec.Delay()/time.Second)
	type cellKey struct {
		end int64
		key turnstile.Key
	}
	sums := map[cellKey][2]int64{}
	seen := map[string]bool{}
	wm := int64(-1 << 62)
	for _, v := range values {
		rec, err := turnstile.Parse(v)
		if err != nil {
			t.Fatal(err)
		}
		ts := rec.Timestamp.Unix()
		var ends []int64 // the ends of the windows [k·S, k·S+D) that contain ts
		for k := (ts - size) / slide; k*slide <= ts; k++ {
			if k*slide <= ts && ts < k*slide+size {
				ends = append(ends, k*slide+size)
			}
		}
		allClosed := true
		for _, end := range ends {
			allClosed = allClosed && end <= wm
		}
		id := rec.ID + "\x00" + rec.Station + "\x00" + rec.Timestamp.String()
		if !allClosed && !seen[id] {
			seen[id] = true
			key := turnstile.Key{CA: rec.CA, Unit: rec.Unit, SCP: rec.SCP, Station: rec.Station, LineName: rec.LineName, Division: rec.Division, Desc: rec.Desc}
			for _, end := range ends {
				if end > wm {
					s := sums[cellKey{end, key}]
					sums[cellKey{end, key}] = [2]int64{s[0] + rec.Entries, s[1] + rec.Exits}
				}
			}
		}
		wm = max(wm, ts-delay)
	}
	cells := make([]cellKey, 0, len(sums))
	for c := range sums {
		cells = append(cells, c)
	}
	slices.SortFunc(cells, func(a, b cellKey) int {
		return cmp.Or(cmp.Compare(a.end, b.end), cmp.Compare(a.key.CA, b.key.CA), cmp.Compare(a.key.Unit, b.key.Unit),
			cmp.Compare(a.key.SCP, b.key.SCP), cmp.Compare(a.key.Station, b.key.Station), cmp.Compare(a.key.LineName, b.key.LineName),
			cmp.Compare(a.key.Division, b.key.Division), cmp.Compare(a.key.Desc, b.key.Desc))
	})
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = row(c.end, c.key, sums[c][0], sums[c][1])
	}
	return out
}
