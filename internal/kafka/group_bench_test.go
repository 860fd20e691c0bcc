package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/stream"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// benchLines returns n message values for 5,000 turnstiles with 50 records
// per second of event time (as internal/stream's file-mode benchmark has
// them).
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

// BenchmarkKafkaConsume measures the Kafka source against the embedded broker
// for several values of fetch.queue.backoff.ms: records produced up front, then
// consumed, windowed and written to an in-memory bucket.
func BenchmarkKafkaConsume(b *testing.B) {
	const records = 200_000
	broker, err := kafkatest.Start(kafkatest.Topics(4, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Close()
	var recs []kafkatest.Record
	for i, v := range benchLines(records) {
		recs = append(recs, kafkatest.Record{Partition: int32(i % 4), Value: v})
	}
	if err := kafkatest.Produce(broker.Addr(), "bench", recs); err != nil {
		b.Fatal(err)
	}
	spec, err := window.NewSpec(5*time.Minute, 5*time.Minute, 5*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	for _, backoff := range []int{1000, 100, 20, 10} {
		b.Run(fmt.Sprintf("fetch.queue.backoff.ms=%d", backoff), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c, err := ckafka.NewConsumer(&ckafka.ConfigMap{
					"bootstrap.servers": broker.Addr(), "group.id": fmt.Sprintf("bench-%d-%d-%d", backoff, i, time.Now().UnixNano()),
					"enable.metrics.push": false, "fetch.queue.backoff.ms": backoff, "auto.offset.reset": "earliest",
					"enable.auto.commit": false, "enable.auto.offset.store": false,
				})
				if err != nil {
					b.Fatal(err)
				}
				sink := &lake.Sink{Bucket: lake.NewMemBucket(), Layout: lake.Layout{Prefix: "turnstile"}}
				m := stream.NewMetrics(nil)
				p := stream.New(stream.Config{Spec: spec, Sink: sink, Side: stream.LakeSide{Sink: sink}, Metrics: m})
				k := NewGroup(c, nil, GroupConfig{Topic: "bench"})
				ctx, cancel := context.WithCancel(context.Background())
				go func() {
					for m.RecordsIn() < records {
						time.Sleep(2 * time.Millisecond)
					}
					cancel()
				}()
				start := time.Now()
				if err := k.Run(ctx, stream.NewDriver(p, stream.DriverConfig{})); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(records/time.Since(start).Seconds(), "records/s")
				cancel()
				c.Close()
			}
		})
	}
}
