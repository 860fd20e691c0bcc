package mta

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// weekFile returns a file shaped like one real weekly MTA file: rows grouped
// by turnstile, each reporting every 4 hours for a week, with the padded
// counters and trailing-space header MTA writes.
func weekFile(turnstiles int) ([]byte, int) {
	return weekFileAt(turnstiles, 0)
}

// weekFileAt is weekFile for the week after week weeks, with the counters
// carried on from the weeks before.
func weekFileAt(turnstiles, week int) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString("C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS                                                               \n")
	start := time.Date(2024, 7, 20, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*week)
	rows := 0
	for ts := range turnstiles {
		entries, exits := int64(1000000+ts*37+week*42*250), int64(500000+ts*11+week*42*180)
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
// intern, sort by event time, deltas), with the records handed out but not
// sent. It reports rows/s. The deltas are computed as Records runs, so it
// runs to the end.
func BenchmarkConvert(b *testing.B) {
	data, rows := weekFile(5000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if n := newReplay(b, [][]byte{data}); n != rows-5000 {
			b.Fatalf("%d records, want %d", n, rows-5000)
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

// BenchmarkArchive measures a replay of weekly files from reading to the last
// record (parse, sort, merge, deltas, the record with its ID), the old
// in-memory replay against the new one, in memory and spilled. Run old and
// new alternately on a shared machine:
//
//	go test -c -o mta.test ./internal/mta
//	for i in 1 2 3; do for v in old new new-spilled new-2readers; do
//		./mta.test -test.run - -test.bench "Archive/$v\$" -test.benchtime 3x -test.benchmem; done; done
func BenchmarkArchive(b *testing.B) {
	const weeks, turnstiles = 8, 5000
	var files [][]byte
	rows, size := 0, 0
	for w := range weeks {
		data, n := weekFileAt(turnstiles, w)
		files = append(files, data)
		rows += n
		size += len(data)
	}
	dir := b.TempDir()
	variants := []struct {
		name string
		run  func() int
	}{
		{"old", func() int {
			c := newOldConverter(DefaultMaxDelta, nil)
			for _, f := range files {
				if err := c.Read(context.Background(), "week", bytes.NewReader(f)); err != nil {
					b.Fatal(err)
				}
			}
			n := 0
			for range c.Finish().Records() {
				n++
			}
			return n
		}},
		{"new", func() int { return newReplay(b, files) }},
		{"new-spilled", func() int { return newReplay(b, files, WithMemoryBudget(0), WithTempDir(dir)) }},
		{"new-2readers", func() int { return newReplayParallel(b, files, 2) }},
	}
	want := -1
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				n := v.run()
				if want < 0 {
					want = n
				}
				if n != want || n < rows/2 {
					b.Fatalf("%d records, want %d of %d rows", n, want, rows)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// newReplayParallel is newReplay with ReadInputs on workers goroutines, as
// the producer reads.
func newReplayParallel(b *testing.B, files [][]byte, workers int) int {
	c, err := NewConverter()
	if err != nil {
		b.Fatal(err)
	}
	var ins []Input
	for _, f := range files {
		ins = append(ins, Input{Name: "week", open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(f)), nil
		}})
	}
	if err := c.ReadInputs(context.Background(), ins, workers); err != nil {
		b.Fatal(err)
	}
	rp := c.Finish()
	n := 0
	for range rp.Records() {
		n++
	}
	if err := rp.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

func newReplay(b *testing.B, files [][]byte, opts ...Option) int {
	c, err := NewConverter(opts...)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range files {
		if err := c.Read(context.Background(), "week", bytes.NewReader(f)); err != nil {
			b.Fatal(err)
		}
	}
	rp := c.Finish()
	n := 0
	for range rp.Records() {
		n++
	}
	if err := rp.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
