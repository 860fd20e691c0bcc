package synthetic

import (
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// BenchmarkFeed measures generating synthetic messages and encoding them:
// the ceiling of --rate. It reports messages/s.
func BenchmarkFeed(b *testing.B) {
	f, err := New(Config{Turnstiles: 5000, Rate: 1e6, Speed: 60, Seed: 1, Start: start})
	if err != nil {
		b.Fatal(err)
	}
	var rec turnstile.Record
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		f.Next(&rec)
		buf = turnstile.AppendCSV(buf[:0], &rec)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
