package mta

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// weekFile returns a file shaped like one real weekly MTA file: rows grouped
// by turnstile, each reporting every 4 hours for a week, with the padded
// counters and trailing-space header MTA writes.
func weekFile(turnstiles int) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString("C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS                                                               \n")
	start := time.Date(2024, 7, 20, 0, 0, 0, 0, time.UTC)
	rows := 0
	for ts := range turnstiles {
		entries, exits := int64(1000000+ts*37), int64(500000+ts*11)
		for r := range 42 {
			t := start.Add(time.Duration(r*4) * time.Hour)
			fmt.Fprintf(&b, "A%03d,R%03d,02-00-%02d,TIMES SQ-42 ST,1237ACENQRSW,IRT,%s,%s,REGULAR,%010d,%010d\n",
				ts/8, ts/40, ts%8, t.Format("01/02/2006"), t.Format("15:04:05"), entries, exits)
			entries += int64(50 + (ts*r)%400)
			exits += int64(30 + (ts+r)%300)
			rows++
		}
	}
	return b.Bytes(), rows
}

// BenchmarkConvert measures reading a file plus the delta conversion (parse,
// intern, sort by event time, deltas): the work before the first message
// goes out. It reports rows/s.
func BenchmarkConvert(b *testing.B) {
	data, rows := weekFile(5000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, _ := NewConverter()
		if err := c.Read(context.Background(), "week", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if rp := c.Finish(); rp.Len() != rows-5000 {
			b.Fatalf("Len = %d, want %d", rp.Len(), rows-5000)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkParseRow measures the row parser alone.
func BenchmarkParseRow(b *testing.B) {
	h, err := ParseHeader([]byte("C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS"))
	if err != nil {
		b.Fatal(err)
	}
	p := RowParser{Header: h}
	line := []byte("A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,04:00:00,REGULAR,0007215740,0002448299\n")
	var r Row
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.ParseRow(line, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode measures turning converted deltas into message values, as
// the producer does: Records (the record with its UUIDv5 ID), then the CSV
// encoding. It reports records/s.
func BenchmarkEncode(b *testing.B) {
	data, _ := weekFile(500)
	c, _ := NewConverter()
	if err := c.Read(context.Background(), "week", bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	rp := c.Finish()
	var buf []byte
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		for rec := range rp.Records() {
			buf = turnstile.AppendCSV(buf[:0], rec)
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
