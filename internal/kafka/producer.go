package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// The producer's sink (apps/producer): a publish.Sink that batches through
// linger.ms, counts delivery reports, logs each failed delivery with its key,
// and creates its topic through the AdminClient.

// producerDefaults may be overridden by the properties file.
var producerDefaults = map[string]any{
	"client.id": "turnstile-producer",
}

// producerInternal are confluent-kafka-go settings the sink's code depends on.
var producerInternal = map[string]any{
	"go.delivery.report.fields": "key",  // failed deliveries are logged by key; the value is not needed
	"go.events.channel.size":    100000, // delivery reports waiting to be counted
}

// ProducerConfig configures NewProducer.
type ProducerConfig struct {
	Props    Properties // from the --config file; must set bootstrap.servers
	Topic    string
	Counters *publish.Counters // receives Sent and Failed
	Logger   *slog.Logger
}

// Producer is a publish.Sink that produces to one Kafka topic.
type Producer struct {
	p        *ckafka.Producer
	auth     *auth // answers OAUTHBEARER token refreshes (nil without a provider)
	topic    string
	counters *publish.Counters
	log      *slog.Logger
	wg       sync.WaitGroup
	logsDone <-chan struct{} // closed once the librdkafka log lines are all logged
	msg      ckafka.Message  // reused by Send

	mu    sync.Mutex
	fatal error // a fatal librdkafka error: no more messages can be sent
}

// producerConfig returns the librdkafka configuration NewProducer uses for
// props: the defaults, overlaid with props, overlaid with the forced delivery
// settings (idempotent, linger.ms LingerMS) and the sink's own settings.
func producerConfig(props Properties) ckafka.ConfigMap {
	return props.ConfigMap(producerDefaults, merge(idempotent, map[string]any{"linger.ms": LingerMS}, producerInternal, logSettings))
}

// NewProducer creates the producer. It does not wait for the broker: librdkafka
// connects in the background, and an unreachable broker shows up as failed
// deliveries (after message.timeout.ms) and logged errors.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	if cfg.Topic == "" {
		return nil, errors.New("kafka producer: empty topic")
	}
	if cfg.Props["bootstrap.servers"] == "" {
		return nil, errors.New("kafka producer: bootstrap.servers is not set in the properties file")
	}
	if cfg.Counters == nil || cfg.Logger == nil {
		return nil, errors.New("kafka producer: Counters and Logger are required")
	}
	cm := producerConfig(cfg.Props)
	kp, auth, err := newProducer(cm, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	p := &Producer{p: kp, auth: auth, topic: cfg.Topic, counters: cfg.Counters, log: cfg.Logger}
	p.logsDone = forwardLogs(kp.Logs(), cfg.Logger)
	p.wg.Add(1)
	go p.deliveryReports()
	return p, nil
}

// deliveryReports counts delivery reports, and answers token refreshes,
// until the producer is closed.
func (p *Producer) deliveryReports() {
	defer p.wg.Done()
	for ev := range p.p.Events() {
		switch e := ev.(type) {
		case ckafka.OAuthBearerTokenRefresh:
			p.auth.refresh(p.p)
		case *ckafka.Message:
			if err := e.TopicPartition.Error; err != nil {
				p.counters.Failed.Add(1)
				p.log.Error("delivery failed", "key", string(e.Key), "topic", p.topic, "err", err)
				continue
			}
			p.counters.Sent.Add(1)
		case ckafka.Error:
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
	*msg = ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &p.topic, Partition: ckafka.PartitionAny},
		Key:            key,
		Value:          value,
	}
	for {
		if err := p.fatalErr(); err != nil {
			return err
		}
		err := p.p.Produce(msg, nil)
		var kerr ckafka.Error
		if err == nil || !errors.As(err, &kerr) || kerr.Code() != ckafka.ErrQueueFull {
			return err
		}
		// Wait for deliveries to make room. Not Flush: it would make
		// librdkafka send at once, ignoring linger.ms, and shrink the batches.
		if err := sleep(ctx, queueFullBackoff); err != nil {
			return err
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
		p.p.Purge(ckafka.PurgeQueue | ckafka.PurgeInFlight)
		p.p.Flush(1000) // deliver the purge reports
	}
	p.p.Close()
	p.wg.Wait()
	<-p.logsDone
	return err
}

// EnsureTopic creates topic with the given number of partitions when it is
// missing, through the AdminClient, and reports whether it created it. The
// replication factor is the broker's default. A topic that exists is left as
// it is, whatever its partition count.
func (p *Producer) EnsureTopic(ctx context.Context, topic string, partitions int) (bool, error) {
	admin, err := ckafka.NewAdminClientFromProducer(p.p)
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
	if t, ok := md.Topics[topic]; ok && t.Error.Code() == ckafka.ErrNoError {
		p.log.Info("topic exists", "topic", topic, "partitions", len(t.Partitions))
		return false, nil
	}
	res, err := admin.CreateTopics(ctx,
		[]ckafka.TopicSpecification{{Topic: topic, NumPartitions: partitions}},
		ckafka.SetAdminOperationTimeout(timeout))
	if err != nil {
		return false, fmt.Errorf("create topic %s: %w", topic, err)
	}
	for _, r := range res {
		switch r.Error.Code() {
		case ckafka.ErrNoError:
			p.log.Info("created topic", "topic", topic, "partitions", partitions)
			return true, nil
		case ckafka.ErrTopicAlreadyExists:
			return false, nil
		default:
			return false, fmt.Errorf("create topic %s: %w", topic, r.Error)
		}
	}
	return false, fmt.Errorf("create topic %s: no result", topic)
}
