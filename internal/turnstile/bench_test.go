package turnstile

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkParse measures the message parser on the consumer's hot path:
// plain values as the producer writes them, with the small per-interval
// counts of real replays and one TIMESTAMP date shared by many values.
func BenchmarkParse(b *testing.B) {
	start := time.Date(2024, 7, 22, 0, 0, 0, 0, time.UTC)
	vals := make([][]byte, 1024)
	for i := range vals {
		rec := NewRecord(
			fmt.Sprintf("A%03d", i%1000), fmt.Sprintf("R%03d", i/7), fmt.Sprintf("%02d-00-%02d", i%7, i%13),
			fmt.Sprintf("STATION %d", i%400), "NQR456W", "BMT", "REGULAR",
			int64(i*37%1200), int64(i*11%900), fmt.Sprintf("%016x-%08x", i, i), start.Add(time.Duration(i)*time.Second))
		vals[i] = AppendCSV(nil, &rec)
	}
	var p Parser
	var m Message
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := p.Parse(vals[i%len(vals)], &m); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
