package publish

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// BenchmarkRunToLineWriter measures publish.Run into the --out - writer
// (io.Discard): key and value encoding, pacing checks and the line writer,
// without a broker. It reports msgs/s.
func BenchmarkRunToLineWriter(b *testing.B) {
	at := time.Date(2024, 7, 20, 4, 0, 0, 0, time.UTC)
	r := turnstile.NewRecord("A002", "R051", "02-00-00", "59 ST", "NQR456W", "BMT", "REGULAR", 123, 45,
		turnstile.ReadingID("A002", "R051", "02-00-00", at), at)
	src := func(yield func(*turnstile.Record, time.Duration) bool) {
		for range b.N {
			if !yield(&r, 0) {
				return
			}
		}
	}
	var c Counters
	b.ReportAllocs()
	b.ResetTimer()
	s, err := Run(context.Background(), src, Config{Sink: NewLineWriter(io.Discard, &c), Counters: &c})
	if err != nil || s.Sent != int64(b.N) {
		b.Fatalf("summary %+v, err %v", s, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
