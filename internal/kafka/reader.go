package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/dashboard"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// ReaderConfig configures OpenReader.
type ReaderConfig struct {
	Props Properties // from the --config file; must set bootstrap.servers
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

// Reader reads window messages from Kafka and hands each to a
// dashboard.MessageSink.
type Reader struct {
	consumer *ckafka.Consumer
	auth     *auth // answers OAUTHBEARER token refreshes (nil without a provider)
	cfg      ReaderConfig
	log      *slog.Logger
	logsDone <-chan struct{} // closed once the librdkafka log lines are all logged

	mu       sync.Mutex
	assigned map[int32]bool
}

// OpenReader creates the reader's consumer (see readerConfig). Without a
// group it uses a per-process group.id, never joined and never committed to,
// as confluent-kafka-go requires one. Close releases the consumer.
func OpenReader(cfg ReaderConfig) (*Reader, error) {
	if cfg.Discover <= 0 {
		cfg.Discover = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	group := cfg.Group
	if group == "" {
		host, _ := os.Hostname()
		group = "turnstile-dashboard-" + host + "-" + strconv.Itoa(os.Getpid())
	}
	cm := readerConfig(cfg.Props, group)
	consumer, auth, err := newConsumer(cm, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return &Reader{consumer: consumer, auth: auth, cfg: cfg, log: cfg.Logger, assigned: map[int32]bool{},
		logsDone: forwardLogs(consumer.Logs(), cfg.Logger)}, nil
}

// Close closes the consumer.
func (r *Reader) Close() error {
	err := r.consumer.Close()
	<-r.logsDone
	return err
}

// Run reads until ctx is done, handing each message to sink
// (Dashboard.AddTurnstileMessage or Dashboard.AddRidershipMessage). A
// message the sink cannot decode is logged (at most every 10 s) and
// skipped. It returns nil when ctx ends and an error on a fatal Kafka error.
func (r *Reader) Run(ctx context.Context, sink dashboard.MessageSink) error {
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
		case ckafka.OAuthBearerTokenRefresh:
			r.auth.refresh(r.consumer)
		case *ckafka.Message:
			if e.TopicPartition.Error != nil {
				r.log.Warn("kafka message error", "err", e.TopicPartition.Error)
				continue
			}
			if err := sink(e.Key, e.Value, headers(e.Headers)); err != nil {
				if time.Since(badLogged) > 10*time.Second { // a bad feed must not flood the log
					badLogged = time.Now()
					r.log.Warn("skipping a window message that does not decode", "topic", r.cfg.Topic,
						"partition", e.TopicPartition.Partition, "offset", e.TopicPartition.Offset, "err", err)
				}
			}
		case ckafka.Error:
			if e.IsFatal() {
				return fmt.Errorf("kafka: %w", e)
			}
			r.log.Warn("kafka", "err", e)
		}
	}
	return nil
}

// headers converts message headers to the codec's.
func headers(hs []ckafka.Header) []turnstile.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]turnstile.Header, len(hs))
	for i, h := range hs {
		out[i] = turnstile.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// assignAll waits until the topic exists and assigns all its partitions.
func (r *Reader) assignAll(ctx context.Context) error {
	var warned time.Time
	for wait := time.Duration(0); ; wait = 2 * time.Second {
		if sleep(ctx, wait) != nil {
			return nil // stopping
		}
		r.serveEvents()
		err := r.discover()
		if err == nil {
			return nil
		}
		if !errors.Is(err, errNoTopic) {
			var kerr ckafka.Error
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

// serveEvents handles the events waiting in the consumer's queue while Run
// does not poll yet (nothing is assigned, so no message is among them): a
// token refresh is answered, so that a first token that could not be had is
// retried; errors are logged.
func (r *Reader) serveEvents() {
	for ev := r.consumer.Poll(0); ev != nil; ev = r.consumer.Poll(0) {
		switch e := ev.(type) {
		case ckafka.OAuthBearerTokenRefresh:
			r.auth.refresh(r.consumer)
		case ckafka.Error:
			r.log.Warn("kafka", "err", e)
		}
	}
}

// discover assigns, from their beginning, the partitions of the topic not yet
// assigned.
func (r *Reader) discover() error {
	topic := r.cfg.Topic
	md, err := r.consumer.GetMetadata(&topic, false, 5000)
	if err != nil {
		return fmt.Errorf("metadata of %s: %w", topic, err)
	}
	tm, ok := md.Topics[topic]
	if !ok || tm.Error.Code() == ckafka.ErrUnknownTopicOrPart || tm.Error.Code() == ckafka.ErrUnknownTopic {
		return fmt.Errorf("%s: %w", topic, errNoTopic)
	}
	if tm.Error.Code() != ckafka.ErrNoError {
		return fmt.Errorf("metadata of %s: %w", topic, tm.Error)
	}
	if len(tm.Partitions) == 0 {
		return fmt.Errorf("%s has no partitions yet: %w", topic, errNoTopic)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var add []ckafka.TopicPartition
	for _, p := range tm.Partitions {
		if !r.assigned[p.ID] {
			add = append(add, ckafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: ckafka.OffsetBeginning})
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
