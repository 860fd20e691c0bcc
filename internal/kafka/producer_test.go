package kafka

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// props returns the properties file content a test would use against an
// embedded broker: its address plus the producer half of
// kafkatest.ClientDefaults (fetch settings only concern consumers).
func producerProps(addr string) Properties {
	return Properties{
		"bootstrap.servers":   addr,
		"enable.metrics.push": fmt.Sprint(kafkatest.ClientDefaults["enable.metrics.push"]),
	}
}

// syncBuffer is a log sink safe for the producer's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// consume reads n records of topic from the start.
func consume(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records of %d before the deadline", len(out), n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	// Anything more than n would be a duplicate: poll briefly for it.
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	cl.PollFetches(short).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	return out
}

func TestProducerConfigForcesDeliverySettings(t *testing.T) {
	cm := producerConfig(Properties{
		"bootstrap.servers":  "broker:9092",
		"acks":               "1",
		"enable.idempotence": "false",
		"linger.ms":          "0",
		"client.id":          "mine",
	})
	tests := []struct {
		key  string
		want any
	}{
		{"bootstrap.servers", "broker:9092"},
		{"acks", "all"},
		{"enable.idempotence", true},
		{"linger.ms", LingerMS},
		{"client.id", "mine"},
	}
	for _, tt := range tests {
		if got := cm[tt.key]; got != tt.want {
			t.Errorf("%s = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	var c publish.Counters
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name    string
		cfg     ProducerConfig
		wantErr string
	}{
		{name: "no bootstrap", cfg: ProducerConfig{Props: Properties{}, Topic: "t", Counters: &c, Logger: log}, wantErr: "bootstrap.servers"},
		{name: "no topic", cfg: ProducerConfig{Props: Properties{"bootstrap.servers": "x:1"}, Counters: &c, Logger: log}, wantErr: "empty topic"},
		{name: "unknown property", cfg: ProducerConfig{Props: Properties{"bootstrap.servers": "x:1", "no.such.property": "1"}, Topic: "t", Counters: &c, Logger: log}, wantErr: "no.such.property"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewProducer(tt.cfg)
			if err == nil {
				p.Close(context.Background())
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestProduceToEmbeddedBroker(t *testing.T) {
	b, err := kafkatest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const topic = "mta-turnstile-test"
	var c publish.Counters
	p, err := NewProducer(ProducerConfig{Props: producerProps(b.Addr()), Topic: topic, Counters: &c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	created, err := p.EnsureTopic(ctx, topic, 3)
	if err != nil || !created {
		t.Fatalf("EnsureTopic = %t, %v; want created", created, err)
	}
	if created, err := p.EnsureTopic(ctx, topic, 3); err != nil || created {
		t.Fatalf("second EnsureTopic = %t, %v; want an existing topic", created, err)
	}
	const n = 3000
	for i := range n {
		key := fmt.Sprintf("A%03d|R051|02-00-00", i%17)
		if err := p.Send(ctx, []byte(key), []byte(fmt.Sprintf("value-%d", i))); err != nil {
			t.Fatal(err)
		}
		c.Queued.Add(1)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s := c.Snapshot(); s.Sent != n || !s.OK() {
		t.Fatalf("summary = %+v, want %d sent", s, n)
	}
	recs := consume(t, b.Addr(), topic, n)
	if len(recs) != n {
		t.Fatalf("consumed %d records, want exactly %d", len(recs), n)
	}
	partitionOf := map[string]int32{}
	partitions := map[int32]bool{}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[string(r.Value)] {
			t.Fatalf("value %s arrived twice", r.Value)
		}
		seen[string(r.Value)] = true
		partitions[r.Partition] = true
		if p, ok := partitionOf[string(r.Key)]; ok && p != r.Partition {
			t.Fatalf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		partitionOf[string(r.Key)] = r.Partition
	}
	if len(partitions) != 3 {
		t.Errorf("records landed in %d partitions, want all 3 of the created topic", len(partitions))
	}
}

func TestFailedDeliveriesAreLoggedWithTheirKey(t *testing.T) {
	b, err := kafkatest.Start()
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	b.Close() // nobody listens any more
	pr := producerProps(addr)
	pr["message.timeout.ms"] = "300"
	var c publish.Counters
	var logs syncBuffer
	p, err := NewProducer(ProducerConfig{Props: pr, Topic: "mta-turnstile", Counters: &c, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"A002|R051|02-00-00", "R151|R033|00-00-00"} {
		if err := p.Send(context.Background(), []byte(key), []byte("v")); err != nil {
			t.Fatal(err)
		}
		c.Queued.Add(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s := c.Snapshot(); s.Failed != 2 || s.Sent != 0 || s.OK() {
		t.Errorf("summary = %+v, want 2 failed", s)
	}
	for _, want := range []string{`msg="delivery failed" key=A002|R051|02-00-00`, `msg="delivery failed" key=R151|R033|00-00-00`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}

func TestCloseTimeoutPurgesAndCountsFailed(t *testing.T) {
	b, err := kafkatest.Start()
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	b.Close()
	var c publish.Counters
	p, err := NewProducer(ProducerConfig{Props: producerProps(addr), Topic: "mta-turnstile", Counters: &c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		p.Send(context.Background(), []byte("k"), []byte("v"))
		c.Queued.Add(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err == nil || !strings.Contains(err.Error(), "10 message(s) still queued") {
		t.Errorf("Close error = %v, want the count of queued messages", err)
	}
	if s := c.Snapshot(); s.OK() || s.Sent != 0 || s.Failed+s.Undelivered != 10 {
		t.Errorf("summary = %+v, want the 10 messages failed or undelivered", s)
	}
}
