package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Emitter publishes closed (window, key) rows to a Kafka topic in the same
// transaction as the consumer offsets they came from. A read_committed reader
// of the topic therefore sees every row exactly once: a crash aborts the open
// transaction, and the restart replays and publishes the rows again in a new
// one. (A read_uncommitted reader may see aborted rows; the key lets it drop
// a repeat.)
//
// Each row's value is the lake row (turnstile.AppendWindowCount, no index
// column), its key is EmitKey, and headers window_start and window_end carry
// the window bounds in RFC 3339.
type Emitter struct {
	producer *kafka.Producer
	topic    string
	timeout  time.Duration
	log      *slog.Logger
}

// NewEmitter starts a transactional producer with the given configuration
// (which must hold bootstrap.servers and transactional.id) and initialises its
// transactions, fencing an earlier producer with the same transactional.id.
func NewEmitter(ctx context.Context, cm kafka.ConfigMap, topic string, log *slog.Logger) (*Emitter, error) {
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		return nil, fmt.Errorf("emit producer: %w", err)
	}
	go func() {
		for ev := range p.Events() {
			switch e := ev.(type) {
			case *kafka.Message:
				if e.TopicPartition.Error != nil {
					log.Warn("emit topic delivery failed (the transaction will abort)", "err", e.TopicPartition.Error)
				}
			case kafka.Error:
				log.Warn("emit producer error", "err", e)
			}
		}
	}()
	initCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := p.InitTransactions(initCtx); err != nil {
		p.Close()
		return nil, fmt.Errorf("emit producer: init transactions: %w", err)
	}
	return &Emitter{producer: p, topic: topic, timeout: 60 * time.Second, log: log}, nil
}

// Close closes the producer.
func (e *Emitter) Close() { e.producer.Close() }

// EmitKey is the message key of a row: turnstile.AppendWindowKey, the
// grouping key and the window end with no two rows sharing one, so that a
// reader can drop a repeat.
func EmitKey(c *turnstile.WindowCount) []byte {
	return turnstile.AppendWindowKey(nil, c)
}

// Commit publishes rows and commits offsets for the consumer's group in one
// transaction.
func (e *Emitter) Commit(ctx context.Context, c *kafka.Consumer, size time.Duration, rows []turnstile.WindowCount, offsets []kafka.TopicPartition) error {
	tctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	if err := e.producer.BeginTransaction(); err != nil {
		return fmt.Errorf("emit: begin transaction: %w", err)
	}
	err := e.produce(rows, size)
	if err == nil {
		var meta *kafka.ConsumerGroupMetadata
		if meta, err = c.GetConsumerGroupMetadata(); err == nil {
			err = e.producer.SendOffsetsToTransaction(tctx, offsets, meta)
		}
	}
	if err == nil {
		err = e.producer.CommitTransaction(tctx)
	}
	if err == nil {
		return nil
	}
	var kerr kafka.Error
	if errors.As(err, &kerr) && kerr.IsFatal() {
		return fmt.Errorf("emit: fatal transaction error (another instance with the same transactional.id?): %w", err)
	}
	if aerr := e.producer.AbortTransaction(tctx); aerr != nil {
		return fmt.Errorf("emit: transaction failed: %w; abort failed: %v", err, aerr)
	}
	return fmt.Errorf("emit: transaction aborted, will retry: %w", err)
}

func (e *Emitter) produce(rows []turnstile.WindowCount, size time.Duration) error {
	var value []byte
	for i := range rows {
		r := &rows[i]
		value = turnstile.AppendWindowCount(value[:0], r)
		end := r.EndTime()
		msg := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &e.topic, Partition: kafka.PartitionAny},
			Key:            EmitKey(r),
			Value:          append([]byte(nil), value...),
			Headers: []kafka.Header{
				{Key: "window_start", Value: []byte(end.Add(-size).Format(time.RFC3339))},
				{Key: "window_end", Value: []byte(end.Format(time.RFC3339))},
			},
		}
		for {
			err := e.producer.Produce(msg, nil)
			if err == nil {
				break
			}
			var kerr kafka.Error
			if errors.As(err, &kerr) && kerr.Code() == kafka.ErrQueueFull {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("emit: produce to %s: %w", e.topic, err)
		}
	}
	return nil
}
