package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/stream"
)

// Emitter publishes closed (window, key) rows to a Kafka topic in the same
// transaction as the consumer offsets they came from. A read_committed reader
// of the topic therefore sees every row exactly once: a crash aborts the open
// transaction, and the restart replays and publishes the rows again in a new
// one. (A read_uncommitted reader may see aborted rows; the key lets it drop
// a repeat.)
//
// Each row comes as one window message already encoded by the consumer's
// record type (stream.Records; for turnstile, turnstile.EncodeWindowMessage):
// its key is the window key, its value the lake row (no index column), and
// headers window_start and window_end carry the window bounds in RFC 3339.
//
// Commit sorts the errors of a transaction three ways (see Commit): fatal
// ones end the consumer (ErrFatal), abortable ones abort the transaction
// (ErrAborted) and the caller rewinds, retriable ones are retried.
type Emitter struct {
	producer txnProducer
	topic    string
	timeout  time.Duration
	backoff  time.Duration
	log      *slog.Logger
	close    func()
}

// txnProducer is the part of *ckafka.Producer that Commit uses, so that tests
// can inject each kind of transaction error.
type txnProducer interface {
	BeginTransaction() error
	Produce(msg *ckafka.Message, deliveryChan chan ckafka.Event) error
	SendOffsetsToTransaction(ctx context.Context, offsets []ckafka.TopicPartition, meta *ckafka.ConsumerGroupMetadata) error
	CommitTransaction(ctx context.Context) error
	AbortTransaction(ctx context.Context) error
}

// ErrFatal marks an error after which the consumer must stop: the emit
// producer is unusable, typically fenced by another instance that uses the
// same transactional.id. A supervisor restart recovers.
var ErrFatal = stream.ErrFatal

// ErrAborted marks a transaction that was aborted: neither its rows nor its
// offsets are visible to read_committed readers. The caller must rewind the
// partition to its last committed state.
var ErrAborted = stream.ErrAborted

// txnError is how librdkafka classifies a transaction error (ckafka.Error has
// these methods).
type txnError interface {
	IsFatal() bool
	IsRetriable() bool
	TxnRequiresAbort() bool
}

// isFatal reports whether err ends the producer. A fenced producer is fatal
// whatever its flags: librdkafka may first report fencing as an abortable
// error of the current transaction, but every later one fails the same way.
func isFatal(err error) bool {
	var te txnError
	if errors.As(err, &te) && te.IsFatal() {
		return true
	}
	var kerr ckafka.Error
	if errors.As(err, &kerr) {
		switch kerr.Code() {
		case ckafka.ErrFenced, ckafka.ErrProducerFenced, ckafka.ErrInvalidProducerEpoch:
			return true
		}
	}
	return false
}

func isRetriable(err error) bool {
	var te txnError
	return errors.As(err, &te) && te.IsRetriable() && !te.IsFatal() && !te.TxnRequiresAbort()
}

// NewEmitter starts a transactional producer with the given configuration
// (emitConfig: it must hold bootstrap.servers and transactional.id) and
// initialises its transactions, fencing an earlier producer with the same
// transactional.id. The producer's librdkafka logs go to log.
func NewEmitter(ctx context.Context, cm ckafka.ConfigMap, topic string, log *slog.Logger) (*Emitter, error) {
	p, auth, err := newProducer(cm, log)
	if err != nil {
		return nil, fmt.Errorf("emit producer: %w", err)
	}
	logsDone := forwardLogs(p.Logs(), log)
	closeProducer := func() {
		p.Close()
		<-logsDone
	}
	go func() {
		for ev := range p.Events() {
			switch e := ev.(type) {
			case ckafka.OAuthBearerTokenRefresh:
				auth.refresh(p)
			case *ckafka.Message:
				if e.TopicPartition.Error != nil {
					log.Warn("emit topic delivery failed (the transaction will abort)", "err", e.TopicPartition.Error)
				}
			case ckafka.Error:
				log.Warn("emit producer error", "err", e)
			}
		}
	}()
	initCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := p.InitTransactions(initCtx); err != nil {
		closeProducer()
		return nil, fmt.Errorf("emit producer: init transactions: %w", err)
	}
	e := newEmitter(p, topic, log)
	e.close = closeProducer
	return e, nil
}

func newEmitter(p txnProducer, topic string, log *slog.Logger) *Emitter {
	return &Emitter{producer: p, topic: topic, timeout: 60 * time.Second, backoff: 100 * time.Millisecond, log: log}
}

// Close closes the producer.
func (e *Emitter) Close() {
	if e.close != nil {
		e.close()
	}
}

// Commit publishes rows and commits offsets for the consumer group (meta)
// in one transaction, within ctx and the emitter's timeout:
//   - a retriable error of SendOffsetsToTransaction or CommitTransaction
//     retries that call; the transaction is not aborted while time remains;
//   - a fatal error returns an error wrapping ErrFatal;
//   - any other error aborts the transaction and returns an error wrapping
//     ErrAborted: nothing of it is visible, and the caller must rewind the
//     partitions to their last committed state.
func (e *Emitter) Commit(ctx context.Context, meta *ckafka.ConsumerGroupMetadata, rows []stream.Message, offsets []ckafka.TopicPartition) error {
	tctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	if err := e.producer.BeginTransaction(); err != nil {
		return e.fail(tctx, fmt.Errorf("begin transaction: %w", err))
	}
	if err := e.produce(tctx, rows); err != nil {
		return e.fail(tctx, err)
	}
	if err := e.retry(tctx, "send offsets", func() error { return e.producer.SendOffsetsToTransaction(tctx, offsets, meta) }); err != nil {
		return e.fail(tctx, err)
	}
	if err := e.retry(tctx, "commit transaction", func() error { return e.producer.CommitTransaction(tctx) }); err != nil {
		return e.fail(tctx, err)
	}
	return nil
}

// retry calls f until it succeeds, fails with an error that is not
// retriable, or ctx ends.
func (e *Emitter) retry(ctx context.Context, what string, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !isRetriable(err) {
			if err != nil {
				err = fmt.Errorf("%s: %w", what, err)
			}
			return err
		}
		e.log.Warn("emit: retriable transaction error; retrying", "op", what, "attempt", attempt, "err", err)
		if serr := sleep(ctx, e.backoff); serr != nil {
			return fmt.Errorf("%s: still failing when time ran out: %w", what, err)
		}
	}
}

// fatalHint tells the user what a fatal transaction error usually means.
const fatalHint = " (was this producer fenced by another instance with the same transactional.id? " +
	"each running consumer needs its own --transactional-id or --instance-id; a restart recovers)"

// fail turns a failed transaction step into ErrFatal, or aborts the
// transaction and returns ErrAborted.
func (e *Emitter) fail(ctx context.Context, err error) error {
	if isFatal(err) {
		return fmt.Errorf("emit: %w: %w%s", ErrFatal, err, fatalHint)
	}
	// The abort gets its own time: ctx may have run out.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.timeout)
	defer cancel()
	if aerr := e.producer.AbortTransaction(actx); aerr != nil {
		if isFatal(aerr) {
			return fmt.Errorf("emit: %w: %w; abort failed: %w%s", ErrFatal, err, aerr, fatalHint)
		}
		return fmt.Errorf("emit: transaction failed: %w; abort failed too, will retry: %v", err, aerr)
	}
	return fmt.Errorf("emit: %w: %w", ErrAborted, err)
}

// queueFullWait is how long produce waits for room in a full producer queue
// before it tries again.
const queueFullWait = 10 * time.Millisecond

// produce queues the window messages, one per row, in the open
// transaction. The key, a row's window key, differs for every row, so that a
// reader can drop a repeat. While the producer's queue is full it waits for room, within
// ctx: when ctx ends first it returns an error that wraps ctx's.
func (e *Emitter) produce(ctx context.Context, rows []stream.Message) error {
	for i := range rows {
		hs := make([]ckafka.Header, len(rows[i].Headers))
		for j, h := range rows[i].Headers {
			hs[j] = ckafka.Header{Key: h.Key, Value: h.Value}
		}
		msg := &ckafka.Message{
			TopicPartition: ckafka.TopicPartition{Topic: &e.topic, Partition: ckafka.PartitionAny},
			Key:            rows[i].Key,
			Value:          rows[i].Value,
			Headers:        hs,
		}
		for {
			err := e.producer.Produce(msg, nil)
			if err == nil {
				break
			}
			var kerr ckafka.Error
			if errors.As(err, &kerr) && kerr.Code() == ckafka.ErrQueueFull {
				if serr := sleep(ctx, queueFullWait); serr != nil {
					return fmt.Errorf("emit: produce to %s: the producer's queue stayed full (row %d of %d) until time ran out: %w",
						e.topic, i+1, len(rows), serr)
				}
				continue
			}
			return fmt.Errorf("emit: produce to %s: %w", e.topic, err)
		}
	}
	return nil
}
