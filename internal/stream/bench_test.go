package stream

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// benchLines returns n message values, one per line, for 5,000 turnstiles with
// 50 records per second of event time.
func benchLines(n int) [][]byte {
	start := time.Date(2024, 7, 22, 0, 0, 0, 0, time.UTC)
	lines := make([][]byte, n)
	for i := range lines {
		k := i % 5000
		r := turnstile.NewRecord(fmt.Sprintf("A%03d", k%1000), fmt.Sprintf("R%03d", k/1000), fmt.Sprintf("02-00-%02d", k%13),
			fmt.Sprintf("STATION %d", k%400), "NQR456W", "BMT", "REGULAR", int64(i%50), int64(i%40), fmt.Sprintf("%x", i),
			start.Add(time.Duration(i/50)*time.Second))
		lines[i] = turnstile.AppendCSV(nil, &r)
	}
	return lines
}

// BenchmarkFileMode measures file mode end to end: lines in, gzip window files
// out to a folder, 5-minute windows.
func BenchmarkFileMode(b *testing.B) {
	input := bytes.Join(benchLines(b.N), []byte("\n"))
	spec, err := window.NewSpec(5*time.Minute, 5*time.Minute, 5*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	fb, err := lake.NewFileBucket(dir)
	if err != nil {
		b.Fatal(err)
	}
	sink := &lake.Sink{Bucket: fb, Layout: lake.Layout{Prefix: "turnstile"}}
	p := New(Config{Spec: spec, Sink: sink, Side: LakeSide{Sink: sink}, Index: true})
	b.SetBytes(int64(len(input) / max(b.N, 1)))
	b.ResetTimer()
	res, err := RunInput(context.Background(), bytes.NewReader(input), p)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if res.Lines != int64(b.N) {
		b.Fatalf("read %d lines, want %d", res.Lines, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
