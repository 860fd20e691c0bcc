package kafka

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/mta"
	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// weekFile returns a weekly MTA file of turnstiles reporting every 4 hours.
func weekFile(turnstiles int) []byte {
	var b bytes.Buffer
	b.WriteString("C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS\n")
	start := time.Date(2024, 7, 20, 0, 0, 0, 0, time.UTC)
	for ts := range turnstiles {
		entries, exits := int64(1000000+ts*37), int64(500000+ts*11)
		for r := range 42 {
			t := start.Add(time.Duration(r*4) * time.Hour)
			fmt.Fprintf(&b, "A%03d,R%03d,02-00-%02d,TIMES SQ-42 ST,1237ACENQRSW,IRT,%s,%s,REGULAR,%010d,%010d\n",
				ts/8, ts/40, ts%8, t.Format("01/02/2006"), t.Format("15:04:05"), entries, exits)
			entries += int64(50 + (ts*r)%400)
			exits += int64(30 + (ts+r)%300)
		}
	}
	return b.Bytes()
}

// BenchmarkReplayToEmbeddedBroker measures an end-to-end replay: a weekly
// file of 10,000 turnstiles (420k rows, 410k messages) read, converted, sent
// through librdkafka to the in-process kfake broker (4 partitions) and
// acknowledged. It reports messages/s, counting only acknowledged messages.
func BenchmarkReplayToEmbeddedBroker(b *testing.B) {
	broker, err := kafkatest.Start(kafkatest.Topics(4, "mta-turnstile"))
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Close()
	data := weekFile(10000)
	log := slog.New(slog.DiscardHandler)
	var sent int64
	b.ResetTimer()
	for b.Loop() {
		var c publish.Counters
		p, err := NewProducer(ProducerConfig{Props: producerProps(broker.Addr()), Topic: "mta-turnstile", Counters: &c, Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		conv, _ := mta.NewConverter()
		if err := conv.Read(context.Background(), "week", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		rp := conv.Finish()
		s, err := publish.Run(context.Background(), publish.ByEventTime(rp.Records(), 0), publish.Config{Sink: p, Counters: &c, Logger: log})
		if err != nil || !s.OK() || s.Sent != int64(rp.Len()) {
			b.Fatalf("summary %+v, err %v; want %d sent", s, err, rp.Len())
		}
		sent += s.Sent
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
}
