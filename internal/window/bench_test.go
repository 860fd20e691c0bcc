package window

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// values returns n message values over the given number of keys, in event-time
// order: perSecond records share each second.
func values(tb testing.TB, n, keys, perSecond int) [][]byte {
	tb.Helper()
	start := time.Date(2024, 7, 22, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		k := i % keys
		rec := turnstile.NewRecord(
			fmt.Sprintf("A%03d", k%1000), fmt.Sprintf("R%03d", k/1000), fmt.Sprintf("%02d-00-%02d", k%7, k%13),
			fmt.Sprintf("STATION %d", k%400), "NQR456W", "BMT", "REGULAR",
			int64(i%50), int64(i%40), fmt.Sprintf("%016x-%08x", i, k), start.Add(time.Duration(i/perSecond)*time.Second))
		out[i] = turnstile.AppendCSV(nil, &rec)
	}
	return out
}

// benchEngine measures the hot path: parse, dedup and window update, with the
// emission of closed windows included.
func benchEngine(b *testing.B, keys int) {
	const n = 1 << 20
	vals := values(b, n, keys, 50)
	spec, err := NewSpec(5*time.Minute, 5*time.Minute, 5*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	var p turnstile.Parser
	var m turnstile.Message
	var r Record
	emitted := 0
	emit := func(c *Closed[turnstile.Key]) error { emitted += len(c.Rows); return nil }
	e := New(spec, newKeys(testSeed), 0)
	runtime.GC() // collect the garbage of building the values outside the timed loop
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%n == 0 && i > 0 {
			b.StopTimer()
			e = New(spec, e.keys, 0) // the input starts over in time: a fresh partition
			b.StartTimer()
		}
		if err := p.Parse(vals[i%n], &m); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Add(recordOf(&m, &r), int64(i)); err != nil { // not add: tb.Helper costs as much as Add
			b.Fatal(err)
		}
		if e.Ready() {
			_ = e.Emit(emit)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkEngine5kKeys(b *testing.B)   { benchEngine(b, 5_000) }
func BenchmarkEngine200kKeys(b *testing.B) { benchEngine(b, 200_000) }

// BenchmarkParse measures the message parser alone.
func BenchmarkParse(b *testing.B) {
	vals := values(b, 1024, 1024, 50)
	var p turnstile.Parser
	var m turnstile.Message
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := p.Parse(vals[i%len(vals)], &m); err != nil {
			b.Fatal(err)
		}
	}
}

// cellBytes measures the heap held per open (key, window) pair with the given
// number of keys in one open window, dedup memory excluded.
func cellBytes(tb testing.TB, keys int) float64 {
	vals := values(tb, keys, keys, keys) // every key once, all in the same second
	spec, err := NewSpec(time.Hour, time.Hour, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	recs := make([]Record, len(vals))
	for i, v := range vals {
		var p turnstile.Parser
		var m turnstile.Message
		if err := p.Parse(v, &m); err != nil {
			tb.Fatal(err)
		}
		recordOf(&m, &recs[i])
	}
	keyTable := newKeys(testSeed)
	warm := New(spec, keyTable, 0) // intern the keys first: the key table is shared, not per window
	for i := range recs {
		add(tb, warm, &recs[i], int64(i))
	}
	e := New(spec, keyTable, 0)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range recs {
		if _, _, err := e.keys.intern(recs[i].Key, 0); err != nil {
			tb.Fatal(err)
		}
		e.window(0).add(int32(i), 1, 1, int64(i), keyTable.Len())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(e)
	runtime.KeepAlive(warm)
	runtime.KeepAlive(recs)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(e.OpenCells())
}

// TestCellMemoryBound checks the memory budget of an open (key, window): at
// most 256 bytes. It measures heap bytes with runtime.MemStats, not time; run
// it with -v to see the figures that BENCHMARKS.md records.
func TestCellMemoryBound(t *testing.T) {
	for _, keys := range []int{5_000, 200_000} {
		got := cellBytes(t, keys)
		t.Logf("%d keys in one open window: %.1f bytes per open (key, window)", keys, got)
		if got > 256 {
			t.Errorf("an open (key, window) holds %.0f bytes with %d keys, budget 256", got, keys)
		}
	}
}
