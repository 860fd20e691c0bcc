package lake

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// benchRows returns n rows shaped like a real window: ~4,700 turnstiles
// cycling over the sample keys with varied SCPs and counts.
func benchRows(n int) []turnstile.WindowCount {
	base := sampleRows()[:3]
	end := time.Date(2024, 7, 22, 10, 15, 0, 0, time.UTC).Unix()
	rows := make([]turnstile.WindowCount, n)
	for i := range rows {
		r := base[i%len(base)]
		r.SCP = fmt.Sprintf("%02d-%02d-%02d", i/10000%100, i/100%100, i%100)
		r.End = end
		r.Entries = int64(i*7919) % 100000
		r.Exits = int64(i*104729) % 100000
		rows[i] = r
	}
	return rows
}

func BenchmarkEncodeWindows(b *testing.B) {
	rows := benchRows(200_000)
	var buf bytes.Buffer
	if err := EncodeWindows(&buf, rows, true); err != nil {
		b.Fatal(err)
	}
	text, _ := gunzip(buf.Bytes())
	b.ReportAllocs()
	b.SetBytes(int64(len(text))) // MB/s of CSV text
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		if err := EncodeWindows(&buf, rows, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(buf.Len()), "gz-bytes")
}

func BenchmarkFileBucketPut(b *testing.B) {
	var buf bytes.Buffer
	if err := EncodeWindows(&buf, benchRows(200_000), true); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	fb, err := NewFileBucket(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		// A new name each time (a new window) and, every other time, an
		// overwrite of the previous one (a re-emission).
		name := fmt.Sprintf("turnstile/%08d_p0.csv.gz", i/2)
		if err := fb.Put(b.Context(), name, data); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
