// Package kafkasink is the Kafka publish.Sink: a confluent-kafka-go producer
// that batches through linger.ms, counts delivery reports, logs each failed
// delivery with its key, and creates its topic through the AdminClient.
package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkaconf"
	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// LingerMS is the linger.ms the producer forces: messages wait up to 20 ms to
// fill a batch. That is invisible next to the consumer's 5-minute windows and
// lets a replay batch thousands of messages per request.
const LingerMS = 20

// Forced are the librdkafka properties the producer always sets, over the
// properties file: idempotent delivery (no duplicates or reordering on
// retries), acks from all in-sync replicas, and batching through linger.ms
// rather than a flush per message.
var Forced = map[string]any{
	"enable.idempotence": true,
	"acks":               "all",
	"linger.ms":          LingerMS,
}

// defaults may be overridden by the properties file.
var defaults = map[string]any{
	"client.id": "turnstile-producer",
}

// internal are confluent-kafka-go settings the sink's code depends on.
var internal = map[string]any{
	"go.delivery.report.fields": "key",  // failed deliveries are logged by key; the value is not needed
	"go.logs.channel.enable":    true,   // librdkafka logs go to the slog logger
	"go.events.channel.size":    100000, // delivery reports waiting to be counted
}

// Config configures New.
type Config struct {
	Props    kafkaconf.Properties // from the --config file; must set bootstrap.servers
	Topic    string
	Counters *publish.Counters // receives Sent and Failed
	Logger   *slog.Logger
}

// Producer is a publish.Sink that produces to one Kafka topic.
type Producer struct {
	p        *kafka.Producer
	topic    string
	counters *publish.Counters
	log      *slog.Logger
	wg       sync.WaitGroup
	msg      kafka.Message // reused by Send

	mu    sync.Mutex
	fatal error // a fatal librdkafka error: no more messages can be sent
}

// ConfigMap returns the librdkafka configuration New uses for props: the
// defaults, overlaid with props, overlaid with Forced and the sink's own
// settings.
func ConfigMap(props kafkaconf.Properties) kafka.ConfigMap {
	overrides := maps.Clone(Forced)
	maps.Copy(overrides, internal)
	return props.ConfigMap(defaults, overrides)
}

// New creates the producer. It does not wait for the broker: librdkafka
// connects in the background, and an unreachable broker shows up as failed
// deliveries (after message.timeout.ms) and logged errors.
func New(cfg Config) (*Producer, error) {
	if cfg.Topic == "" {
		return nil, errors.New("kafka producer: empty topic")
	}
	if cfg.Props["bootstrap.servers"] == "" {
		return nil, errors.New("kafka producer: bootstrap.servers is not set in the properties file")
	}
	if cfg.Counters == nil || cfg.Logger == nil {
		return nil, errors.New("kafka producer: Counters and Logger are required")
	}
	cm := ConfigMap(cfg.Props)
	kp, err := kafka.NewProducer(&cm)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	p := &Producer{p: kp, topic: cfg.Topic, counters: cfg.Counters, log: cfg.Logger}
	p.wg.Add(2)
	go p.deliveryReports()
	go p.logs()
	return p, nil
}

// deliveryReports counts delivery reports until the producer is closed.
func (p *Producer) deliveryReports() {
	defer p.wg.Done()
	for ev := range p.p.Events() {
		switch e := ev.(type) {
		case *kafka.Message:
			if err := e.TopicPartition.Error; err != nil {
				p.counters.Failed.Add(1)
				p.log.Error("delivery failed", "key", string(e.Key), "topic", p.topic, "err", err)
				continue
			}
			p.counters.Sent.Add(1)
		case kafka.Error:
			if e.IsFatal() {
				p.mu.Lock()
				p.fatal = e
				p.mu.Unlock()
				p.log.Error("kafka producer fatal error", "err", e)
				continue
			}
			// librdkafka logs the same condition through the logs channel.
			p.log.Debug("kafka producer error", "err", e)
		}
	}
}

// logs forwards librdkafka's log lines.
func (p *Producer) logs() {
	defer p.wg.Done()
	for l := range p.p.Logs() {
		// syslog levels: 3 error, 4 warning, 5 notice, 6 info, 7 debug.
		level := slog.LevelDebug
		switch {
		case l.Level <= 3:
			level = slog.LevelError
		case l.Level == 4:
			level = slog.LevelWarn
		case l.Level == 5:
			level = slog.LevelInfo
		}
		p.log.Log(context.Background(), level, l.Message, "source", "librdkafka", "tag", l.Tag)
	}
}

func (p *Producer) fatalErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fatal
}

// queueFullBackoff is how long Send waits before retrying a message that
// found librdkafka's queue full.
const queueFullBackoff = 2 * time.Millisecond

// Send queues one message. While librdkafka's queue is full it waits for
// deliveries to make room, until ctx is done.
// It is not safe for concurrent use: it reuses one message struct, which
// librdkafka copies.
func (p *Producer) Send(ctx context.Context, key, value []byte) error {
	msg := &p.msg
	*msg = kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &p.topic, Partition: kafka.PartitionAny},
		Key:            key,
		Value:          value,
	}
	for {
		if err := p.fatalErr(); err != nil {
			return err
		}
		err := p.p.Produce(msg, nil)
		var kerr kafka.Error
		if err == nil || !errors.As(err, &kerr) || kerr.Code() != kafka.ErrQueueFull {
			return err
		}
		// Wait for deliveries to make room. Not Flush: it would make
		// librdkafka send at once, ignoring linger.ms, and shrink the batches.
		t := time.NewTimer(queueFullBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close flushes the queued messages, waiting until ctx is done, and closes the
// producer. Messages still queued then are purged and count as failed through
// their delivery reports.
func (p *Producer) Close(ctx context.Context) error {
	for p.p.Len() > 0 && ctx.Err() == nil {
		p.p.Flush(100)
	}
	var err error
	if n := p.p.Len(); n > 0 {
		err = fmt.Errorf("kafka producer: %d message(s) still queued when the flush timed out", n)
		p.p.Purge(kafka.PurgeQueue | kafka.PurgeInFlight)
		p.p.Flush(1000) // deliver the purge reports
	}
	p.p.Close()
	p.wg.Wait()
	return err
}

// EnsureTopic creates topic with the given number of partitions when it is
// missing, through the AdminClient, and reports whether it created it. The
// replication factor is the broker's default. A topic that exists is left as
// it is, whatever its partition count.
func (p *Producer) EnsureTopic(ctx context.Context, topic string, partitions int) (bool, error) {
	admin, err := kafka.NewAdminClientFromProducer(p.p)
	if err != nil {
		return false, fmt.Errorf("admin client: %w", err)
	}
	defer admin.Close()
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	// All topics: asking for one topic by name could auto-create it.
	md, err := admin.GetMetadata(nil, true, int(timeout.Milliseconds()))
	if err != nil {
		return false, fmt.Errorf("list topics: %w", err)
	}
	if t, ok := md.Topics[topic]; ok && t.Error.Code() == kafka.ErrNoError {
		p.log.Info("topic exists", "topic", topic, "partitions", len(t.Partitions))
		return false, nil
	}
	res, err := admin.CreateTopics(ctx,
		[]kafka.TopicSpecification{{Topic: topic, NumPartitions: partitions}},
		kafka.SetAdminOperationTimeout(timeout))
	if err != nil {
		return false, fmt.Errorf("create topic %s: %w", topic, err)
	}
	for _, r := range res {
		switch r.Error.Code() {
		case kafka.ErrNoError:
			p.log.Info("created topic", "topic", topic, "partitions", partitions)
			return true, nil
		case kafka.ErrTopicAlreadyExists:
			return false, nil
		default:
			return false, fmt.Errorf("create topic %s: %w", topic, r.Error)
		}
	}
	return false, fmt.Errorf("create topic %s: no result", topic)
}
