package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
)

// ConsumerDefaults are the librdkafka consumer properties the consumer starts
// from; the properties file may override them.
//
// fetch.queue.backoff.ms: librdkafka's default of 1000 ms makes a consumer that
// has drained its prefetch queue sit idle for up to a second; 20 ms keeps it
// busy without spinning (see BENCHMARKS.md).
var ConsumerDefaults = map[string]any{
	"fetch.queue.backoff.ms": 20,
	"auto.offset.reset":      "earliest",
	"session.timeout.ms":     10000,
	"heartbeat.interval.ms":  1000,
}

// ConsumerOverrides are the properties the consumer must own for its commit
// protocol; a properties file cannot change them.
var ConsumerOverrides = map[string]any{
	"enable.auto.commit":       false,
	"enable.auto.offset.store": false,
	"enable.partition.eof":     false,
}

// KafkaConfig configures RunKafka.
type KafkaConfig struct {
	Topic string
	// CommitInterval is how often partitions with new records are committed
	// when no window closes (side outputs are written first).
	CommitInterval time.Duration
	// IdleClose: when a caught-up partition has received nothing for this long
	// (wall clock), its watermark advances by the idle time that has elapsed.
	// Zero disables the rule.
	IdleClose time.Duration
	// RetryBackoff is the pause between attempts to write windows after a lake
	// error; the stream waits rather than lose data.
	RetryBackoff time.Duration
	Logger       *slog.Logger
	Metrics      *Metrics
	Now          func() time.Time // the wall clock, injectable for tests
	// Emit, when set, publishes the rows of closed windows in a transaction
	// with the offsets instead of committing offsets alone. The Processor
	// must keep rows (Config.KeepRows).
	Emit *Emitter
	// WindowSize dates the window_start header of emitted rows.
	WindowSize time.Duration
}

// Kafka runs a Processor over the partitions a consumer group assigns.
type Kafka struct {
	c     *kafka.Consumer
	p     *Processor
	cfg   KafkaConfig
	log   *slog.Logger
	ready atomic.Bool

	lastRecv    map[int32]time.Time // wall time of the last record, or of the assignment
	lastAdvance map[int32]time.Time // wall time up to which idle time was applied
	lastCommit  time.Time
}

// NewKafka wires a subscribed-to-be consumer to a Processor.
func NewKafka(c *kafka.Consumer, p *Processor, cfg KafkaConfig) *Kafka {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = p.cfg.Metrics
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = 5 * time.Second
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = time.Second
	}
	return &Kafka{c: c, p: p, cfg: cfg, log: cfg.Logger,
		lastRecv: make(map[int32]time.Time), lastAdvance: make(map[int32]time.Time)}
}

// Ready reports whether the consumer has subscribed and is polling.
func (k *Kafka) Ready() bool { return k.ready.Load() }

// Run subscribes and processes records until ctx is cancelled, then writes
// what is safe, commits and returns nil. It returns an error for a fatal
// client error.
func (k *Kafka) Run(ctx context.Context) error {
	rebalance := func(c *kafka.Consumer, ev kafka.Event) error { return k.rebalance(ctx, c, ev) }
	if err := k.c.SubscribeTopics([]string{k.cfg.Topic}, rebalance); err != nil {
		return fmt.Errorf("subscribe to %s: %w", k.cfg.Topic, err)
	}
	k.ready.Store(true)
	defer k.ready.Store(false)
	k.lastCommit = k.cfg.Now()
	lastTick := k.cfg.Now()
	for ctx.Err() == nil {
		switch e := k.c.Poll(100).(type) {
		case *kafka.Message:
			if e.TopicPartition.Error != nil {
				k.log.Warn("message error", "partition", e.TopicPartition.Partition, "err", e.TopicPartition.Error)
				continue
			}
			k.handle(ctx, e)
		case kafka.Error:
			if e.IsFatal() {
				return fmt.Errorf("kafka: fatal error: %w", e)
			}
			k.log.Warn("kafka client error (retrying)", "code", e.Code().String(), "err", e)
		}
		if now := k.cfg.Now(); now.Sub(lastTick) >= 500*time.Millisecond {
			lastTick = now
			k.tick(ctx, now)
		}
	}
	k.log.Info("stopping: writing closed windows and side outputs, then committing")
	k.commitAll(context.WithoutCancel(ctx))
	return nil
}

func (k *Kafka) handle(ctx context.Context, msg *kafka.Message) {
	part := msg.TopicPartition.Partition
	if !k.p.Owns(part) {
		k.log.Warn("record from a partition not assigned here", "partition", part)
		return
	}
	wrote, err := k.p.Handle(ctx, part, int64(msg.TopicPartition.Offset), msg.Value)
	for err != nil {
		k.log.Error("writing windows failed; retrying (the stream waits rather than lose data)", "partition", part, "err", err)
		if sleep(ctx, k.cfg.RetryBackoff) != nil {
			return
		}
		wrote, err = k.p.EmitReady(ctx, part)
	}
	now := k.cfg.Now()
	k.lastRecv[part] = now
	k.lastAdvance[part] = now
	if wrote {
		k.commit(ctx, part)
	}
}

// tick applies the idle rule, updates lag, and commits on the interval.
func (k *Kafka) tick(ctx context.Context, now time.Time) {
	for _, part := range k.p.Partitions() {
		lag, known := k.lag(part)
		if k.cfg.IdleClose > 0 && (!known || lag <= 0) && now.Sub(k.lastRecv[part]) >= k.cfg.IdleClose {
			idle := now.Sub(k.lastAdvance[part]).Truncate(time.Second)
			if idle >= time.Second {
				k.lastAdvance[part] = k.lastAdvance[part].Add(idle)
				wrote, err := k.p.Advance(ctx, part, idle)
				if err != nil {
					k.log.Error("writing idle-closed windows failed; will retry", "partition", part, "err", err)
				} else if wrote {
					k.log.Info("idle partition: watermark advanced by wall-clock time", "partition", part, "by", idle)
					k.commit(ctx, part)
				}
			}
		}
	}
	if now.Sub(k.lastCommit) >= k.cfg.CommitInterval {
		k.commitAll(ctx)
	}
}

func (k *Kafka) lag(part int32) (int64, bool) {
	pos := k.p.Position(part)
	if pos < 0 {
		return 0, false
	}
	_, high, err := k.c.GetWatermarkOffsets(k.cfg.Topic, part)
	if err != nil || high < 0 {
		return 0, false
	}
	lag := max(high-(pos+1), 0)
	k.cfg.Metrics.setLag(part, lag)
	return lag, true
}

func (k *Kafka) commitAll(ctx context.Context) {
	k.lastCommit = k.cfg.Now()
	for _, part := range k.p.Partitions() {
		k.commit(ctx, part)
	}
}

// commit writes the partition's side outputs and commits its checkpoint. A
// failure is logged and retried at the next checkpoint: nothing is lost, as
// the uncommitted records are replayed.
func (k *Kafka) commit(ctx context.Context, part int32) {
	cp, ok, err := k.p.Checkpoint(ctx, part)
	if err != nil {
		k.log.Error("checkpoint failed; will retry", "partition", part, "err", err)
		return
	}
	if !ok {
		return
	}
	topic := k.cfg.Topic
	offsets := []kafka.TopicPartition{{Topic: &topic, Partition: part, Offset: kafka.Offset(cp.Offset), Metadata: &cp.Metadata}}
	if k.cfg.Emit != nil {
		err = k.cfg.Emit.Commit(ctx, k.c, k.cfg.WindowSize, cp.Rows, offsets)
	} else {
		_, err = k.c.CommitOffsets(offsets)
	}
	if err != nil {
		k.cfg.Metrics.commitErrors.Inc()
		k.log.Warn("commit failed; will retry", "partition", part, "offset", cp.Offset, "err", err)
		return
	}
	k.p.Committed(part)
	k.cfg.Metrics.commits.Inc()
	k.log.Debug("committed", "partition", part, "offset", cp.Offset, "metadata", cp.Metadata)
}

// rebalance runs inside Poll. On assignment it restores each partition from
// the metadata committed with its offset; on revocation it commits and
// forgets the partitions. ctx is Run's: once it is cancelled, an assignment
// stops waiting for the committed offsets and takes no partition.
func (k *Kafka) rebalance(ctx context.Context, c *kafka.Consumer, ev kafka.Event) error {
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		committed, err := k.committed(ctx, e.Partitions)
		if err != nil {
			// Run is stopping. The client assigns the partitions itself when
			// the callback does not, but the processor owns none of them, so
			// their records are ignored and nothing of theirs is committed.
			k.log.Warn("stopping before the assigned partitions were restored", "partitions", partitionList(e.Partitions), "err", err)
			return err
		}
		now := k.cfg.Now()
		for _, tp := range committed {
			meta := ""
			if tp.Metadata != nil {
				meta = *tp.Metadata
			}
			if tp.Offset >= 0 && meta == "" {
				k.log.Warn("partition has a committed offset without turnstile-stream metadata; starting with no watermark",
					"partition", tp.Partition, "offset", tp.Offset)
			}
			if err := k.p.Assign(tp.Partition, Source(tp.Partition), meta); err != nil {
				k.log.Error("ignoring unreadable commit metadata", "err", err)
				_ = k.p.Assign(tp.Partition, Source(tp.Partition), "")
			}
			k.lastRecv[tp.Partition] = now
			k.lastAdvance[tp.Partition] = now
		}
		k.log.Info("partitions assigned", "partitions", partitionList(e.Partitions))
		return c.Assign(e.Partitions)
	case kafka.RevokedPartitions:
		if c.AssignmentLost() {
			k.log.Warn("assignment lost: not committing; the next owner replays from the last commit", "partitions", partitionList(e.Partitions))
		} else {
			for _, tp := range e.Partitions {
				k.commit(context.Background(), tp.Partition)
			}
		}
		for _, tp := range e.Partitions {
			k.p.Revoke(tp.Partition)
			delete(k.lastRecv, tp.Partition)
			delete(k.lastAdvance, tp.Partition)
		}
		k.log.Info("partitions revoked", "partitions", partitionList(e.Partitions))
		return c.Unassign()
	}
	return nil
}

// committed fetches the committed offsets and metadata of the partitions,
// retrying until ctx is cancelled: starting a partition without its metadata
// could rewrite a window file from a partial replay.
func (k *Kafka) committed(ctx context.Context, parts []kafka.TopicPartition) ([]kafka.TopicPartition, error) {
	for attempt := 1; ; attempt++ {
		got, err := k.c.Committed(parts, 10000)
		if err == nil {
			return got, nil
		}
		k.log.Warn("fetching committed offsets failed; retrying", "attempt", attempt, "err", err)
		if err := sleep(ctx, k.cfg.RetryBackoff); err != nil {
			return nil, fmt.Errorf("fetch committed offsets: %w", err)
		}
	}
}

func partitionList(tps []kafka.TopicPartition) []int32 {
	out := make([]int32, len(tps))
	for i, tp := range tps {
		out[i] = tp.Partition
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// KafkaSide writes rejected and late records to a dead-letter topic as JSON,
// keyed by source, and waits for every delivery before it returns. A crash
// between delivery and the commit can repeat records in the topic (at least
// once); the lake side output does not have this gap.
type KafkaSide struct {
	Producer *kafka.Producer
	Topic    string
	Timeout  time.Duration
}

// Write produces recs and waits for their delivery reports.
func (s KafkaSide) Write(ctx context.Context, kind lake.SideKind, source string, firstOffset int64, recs []lake.SideRecord) error {
	deliveries := make(chan kafka.Event, len(recs))
	for i := range recs {
		value, err := json.Marshal(&recs[i])
		if err != nil {
			return err
		}
		err = s.Producer.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &s.Topic, Partition: kafka.PartitionAny},
			Key:            []byte(source),
			Value:          value,
			Headers:        []kafka.Header{{Key: "kind", Value: []byte(kind)}},
		}, deliveries)
		if err != nil {
			return fmt.Errorf("dead-letter topic %s: %w", s.Topic, err)
		}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var errs []error
	for range recs {
		select {
		case ev := <-deliveries:
			if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil {
				errs = append(errs, m.TopicPartition.Error)
			}
		case <-deadline.C:
			return fmt.Errorf("dead-letter topic %s: no delivery report within %s", s.Topic, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("dead-letter topic %s: %d of %d records not delivered: %w", s.Topic, len(errs), len(recs), errors.Join(errs...))
	}
	return nil
}
