package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// ReaderConfig configures a Reader.
type ReaderConfig struct {
	Topic string
	// Group, when set, makes the reader join that consumer group. Empty (the
	// default) means no group: the reader assigns itself every partition of
	// the topic from its beginning, so every dashboard sees every window and
	// a restarted one rebuilds its history from the retained messages. The
	// reader never commits offsets either way.
	Group string
	// Discover is how often to look for partitions added to the topic when
	// there is no group (default 30s).
	Discover time.Duration
	Logger   *slog.Logger
}

// Reader reads window messages from Kafka into a Dashboard.
type Reader struct {
	consumer *kafka.Consumer
	cfg      ReaderConfig
	log      *slog.Logger

	mu       sync.Mutex
	assigned map[int32]bool
}

// ConsumerDefaults are the librdkafka properties a Reader starts from; the
// properties file may override them.
var ConsumerDefaults = map[string]any{
	"fetch.queue.backoff.ms": 20,
	"session.timeout.ms":     10000,
	"heartbeat.interval.ms":  1000,
}

// ConsumerOverrides are the properties the Reader owns: it reads from the
// beginning of the retained messages and commits nothing.
var ConsumerOverrides = map[string]any{
	"auto.offset.reset":    "earliest",
	"enable.auto.commit":   false,
	"enable.partition.eof": false,
}

// NewReader returns a reader over consumer, which must have been made with
// ConsumerOverrides and a group.id (confluent-kafka-go requires one even
// when no group is joined).
func NewReader(consumer *kafka.Consumer, cfg ReaderConfig) *Reader {
	if cfg.Discover <= 0 {
		cfg.Discover = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reader{consumer: consumer, cfg: cfg, log: cfg.Logger, assigned: map[int32]bool{}}
}

// Run reads until ctx is done, decoding each message and adding it to d.
// Messages that do not decode are logged, counted and skipped. It returns
// nil when ctx ends and an error on a fatal Kafka error.
func (r *Reader) Run(ctx context.Context, d *Dashboard) error {
	if r.cfg.Group != "" {
		if err := r.consumer.SubscribeTopics([]string{r.cfg.Topic}, nil); err != nil {
			return fmt.Errorf("subscribe to %s: %w", r.cfg.Topic, err)
		}
	} else if err := r.assignAll(ctx); err != nil {
		return err
	}
	discover := time.NewTicker(r.cfg.Discover)
	defer discover.Stop()
	var badLogged time.Time
	for ctx.Err() == nil {
		select {
		case <-discover.C:
			if r.cfg.Group == "" {
				if err := r.discover(); err != nil {
					r.log.Warn("looking for new partitions", "topic", r.cfg.Topic, "err", err)
				}
			}
		default:
		}
		ev := r.consumer.Poll(100)
		switch e := ev.(type) {
		case nil:
		case *kafka.Message:
			if e.TopicPartition.Error != nil {
				r.log.Warn("kafka message error", "err", e.TopicPartition.Error)
				continue
			}
			row, err := Decode(e.Key, e.Value, headers(e.Headers))
			if err != nil {
				d.Bad()
				if time.Since(badLogged) > 10*time.Second { // a bad feed must not flood the log
					badLogged = time.Now()
					r.log.Warn("skipping a window message that does not decode",
						"partition", e.TopicPartition.Partition, "offset", e.TopicPartition.Offset, "err", err)
				}
				continue
			}
			d.Add(row)
		case kafka.Error:
			if e.IsFatal() {
				return fmt.Errorf("kafka: %w", e)
			}
			r.log.Warn("kafka", "err", e)
		}
	}
	return nil
}

func headers(hs []kafka.Header) []Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]Header, len(hs))
	for i, h := range hs {
		out[i] = Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// assignAll waits until the topic exists and assigns all its partitions.
func (r *Reader) assignAll(ctx context.Context) error {
	var warned time.Time
	for wait := time.Duration(0); ; wait = 2 * time.Second {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		err := r.discover()
		if err == nil {
			return nil
		}
		if !errors.Is(err, errNoTopic) {
			var kerr kafka.Error
			if errors.As(err, &kerr) && kerr.IsFatal() {
				return err
			}
		}
		if time.Since(warned) >= 30*time.Second { // not every 2s
			warned = time.Now()
			r.log.Warn("waiting for the window topic (is the consumer running with --emit-topic?)", "topic", r.cfg.Topic, "err", err)
		}
	}
}

var errNoTopic = errors.New("topic not found")

// discover assigns, from their beginning, the partitions of the topic not yet
// assigned.
func (r *Reader) discover() error {
	topic := r.cfg.Topic
	md, err := r.consumer.GetMetadata(&topic, false, 5000)
	if err != nil {
		return fmt.Errorf("metadata of %s: %w", topic, err)
	}
	tm, ok := md.Topics[topic]
	if !ok || tm.Error.Code() == kafka.ErrUnknownTopicOrPart || tm.Error.Code() == kafka.ErrUnknownTopic {
		return fmt.Errorf("%s: %w", topic, errNoTopic)
	}
	if tm.Error.Code() != kafka.ErrNoError {
		return fmt.Errorf("metadata of %s: %w", topic, tm.Error)
	}
	if len(tm.Partitions) == 0 {
		return fmt.Errorf("%s has no partitions yet: %w", topic, errNoTopic)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var add []kafka.TopicPartition
	for _, p := range tm.Partitions {
		if !r.assigned[p.ID] {
			add = append(add, kafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: kafka.OffsetBeginning})
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := r.consumer.IncrementalAssign(add); err != nil {
		return fmt.Errorf("assign %s: %w", topic, err)
	}
	for _, tp := range add {
		r.assigned[tp.Partition] = true
	}
	r.log.Info("reading window topic", "topic", topic, "partitions_added", len(add), "partitions", len(r.assigned))
	return nil
}

// Lag returns how many messages the reader has yet to read over its
// partitions, from the high watermarks of the latest fetches; -1 when not
// known yet.
func (r *Reader) Lag() int64 {
	parts, err := r.consumer.Assignment()
	if err != nil || len(parts) == 0 {
		return -1
	}
	pos, err := r.consumer.Position(parts)
	if err != nil {
		return -1
	}
	var lag int64
	for _, p := range pos {
		low, high, err := r.consumer.GetWatermarkOffsets(*p.Topic, p.Partition)
		if err != nil || high < 0 {
			return -1
		}
		next := int64(p.Offset)
		if next < 0 { // nothing read yet: the whole retained partition is ahead
			next = low
		}
		lag += max(high-next, 0)
	}
	return lag
}
