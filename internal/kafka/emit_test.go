package kafka

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/turnstile-stream/turnstile-stream/internal/stream"
)

// txnErr is a transaction error classified the way librdkafka classifies
// ckafka.Error.
type txnErr struct {
	msg                       string
	fatal, retriable, aborted bool
}

func (e txnErr) Error() string          { return e.msg }
func (e txnErr) IsFatal() bool          { return e.fatal }
func (e txnErr) IsRetriable() bool      { return e.retriable }
func (e txnErr) TxnRequiresAbort() bool { return e.aborted }

// fakeTxn records the calls of a transaction and fails the ones it is told to.
type fakeTxn struct {
	calls    []string
	produced int                // Produce calls that queued a message
	produces int                // Produce calls
	produce  []error            // errors for Produce to return, in order, before it queues
	fail     map[string][]error // errors to return, in order, per call
}

func (f *fakeTxn) next(call string) error {
	f.calls = append(f.calls, call)
	if errs := f.fail[call]; len(errs) > 0 {
		f.fail[call] = errs[1:]
		return errs[0]
	}
	return nil
}

func (f *fakeTxn) BeginTransaction() error { return f.next("begin") }
func (f *fakeTxn) Produce(*ckafka.Message, chan ckafka.Event) error {
	f.produces++
	if len(f.produce) > 0 {
		err := f.produce[0]
		f.produce = f.produce[1:]
		return err
	}
	f.produced++
	return nil
}
func (f *fakeTxn) SendOffsetsToTransaction(context.Context, []ckafka.TopicPartition, *ckafka.ConsumerGroupMetadata) error {
	return f.next("send_offsets")
}
func (f *fakeTxn) CommitTransaction(context.Context) error { return f.next("commit") }
func (f *fakeTxn) AbortTransaction(context.Context) error  { return f.next("abort") }

// TestEmitterTransactionErrors checks how Commit treats each kind of
// transaction error: retriable ones are retried without an abort, abortable
// ones abort (ErrAborted), fatal ones end the consumer (ErrFatal).
func TestEmitterTransactionErrors(t *testing.T) {
	retriable := txnErr{msg: "coordinator load in progress", retriable: true}
	abortable := txnErr{msg: "topic authorization failed", aborted: true}
	fatal := txnErr{msg: "Local: This instance has been fenced by a newer instance", fatal: true}
	for _, tc := range []struct {
		name      string
		fail      map[string][]error
		wantErr   error // nil: success
		wantCalls string
	}{
		{"clean", nil, nil, "begin send_offsets commit"},
		{"retriable commit is retried, not aborted", map[string][]error{"commit": {retriable, retriable}}, nil,
			"begin send_offsets commit commit commit"},
		{"retriable send offsets is retried", map[string][]error{"send_offsets": {retriable}}, nil,
			"begin send_offsets send_offsets commit"},
		{"abortable commit aborts", map[string][]error{"commit": {abortable}}, ErrAborted, "begin send_offsets commit abort"},
		{"abortable send offsets aborts", map[string][]error{"send_offsets": {abortable}}, ErrAborted, "begin send_offsets abort"},
		{"plain error aborts", map[string][]error{"commit": {errors.New("boom")}}, ErrAborted, "begin send_offsets commit abort"},
		{"fatal commit stops", map[string][]error{"commit": {fatal}}, ErrFatal, "begin send_offsets commit"},
		{"fatal begin stops", map[string][]error{"begin": {fatal}}, ErrFatal, "begin"},
		{"fatal abort stops", map[string][]error{"commit": {abortable}, "abort": {fatal}}, ErrFatal, "begin send_offsets commit abort"},
		{"fenced is fatal even when abortable", map[string][]error{"send_offsets": {ckafka.NewError(ckafka.ErrFenced, "fenced", false)}}, ErrFatal,
			"begin send_offsets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeTxn{fail: tc.fail}
			e := newEmitter(fake, "windows", slog.New(slog.DiscardHandler))
			e.backoff = time.Millisecond
			meta, err := ckafka.NewTestConsumerGroupMetadata("g")
			if err != nil {
				t.Fatal(err)
			}
			rows := []stream.Message{{Key: []byte("k"), Value: []byte("v")}}
			err = e.Commit(context.Background(), meta, rows, nil)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Commit: %v, want success", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("Commit: %v, want an error wrapping %v", err, tc.wantErr)
			}
			if got := strings.Join(fake.calls, " "); got != tc.wantCalls {
				t.Errorf("calls %q, want %q", got, tc.wantCalls)
			}
			if errors.Is(err, ErrFatal) && !strings.Contains(err.Error(), "transactional.id") {
				t.Errorf("fatal error does not tell the user what to check: %v", err)
			}
		})
	}
}

// TestEmitterRetriableUntilTimeout checks that a commit that stays retriable
// past the emitter's time gives up with an abort, not a hang.
func TestEmitterRetriableUntilTimeout(t *testing.T) {
	retriable := txnErr{msg: "timed out", retriable: true}
	fake := &fakeTxn{fail: map[string][]error{"commit": make([]error, 1000)}}
	for i := range fake.fail["commit"] {
		fake.fail["commit"][i] = retriable
	}
	e := newEmitter(fake, "windows", slog.New(slog.DiscardHandler))
	e.backoff, e.timeout = time.Millisecond, 50*time.Millisecond
	meta, _ := ckafka.NewTestConsumerGroupMetadata("g")
	err := e.Commit(context.Background(), meta, nil, nil)
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("Commit: %v, want ErrAborted once time ran out", err)
	}
	if n := strings.Count(strings.Join(fake.calls, " "), "commit"); n < 2 {
		t.Errorf("commit tried %d times, want retries", n)
	}
}

// queueFull returns n queue-full errors, as Produce returns them while the
// producer's queue is full, then the error last.
func queueFull(n int, last error) []error {
	errs := make([]error, n, n+1)
	for i := range errs {
		errs[i] = ckafka.NewError(ckafka.ErrQueueFull, "Local: Queue full", false)
	}
	if last != nil {
		errs = append(errs, last)
	}
	return errs
}

// TestEmitterQueueFull checks the wait for room in a full producer queue: it
// ends when the queue has room, and, when the context or the emitter's time
// ends first, at once, with an abort and an error that wraps the context's.
// The fake's queue stays full for 20 calls and then fails with an error of
// its own, so that a wait that does not watch the context ends too, with the
// wrong error.
func TestEmitterQueueFull(t *testing.T) {
	ranOut := errors.New("the fake's queue-full answers ran out")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	past, cancelPast := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancelPast()
	for _, tc := range []struct {
		name         string
		ctx          context.Context
		timeout      time.Duration // the emitter's; 0: the default
		produce      []error
		wantErr      error // nil: success
		wantProduces int
		wantCalls    string
	}{
		{name: "room after a wait", ctx: context.Background(), produce: queueFull(3, nil),
			wantProduces: 4, wantCalls: "begin send_offsets commit"},
		{name: "cancelled context", ctx: cancelled, produce: queueFull(20, ranOut),
			wantErr: context.Canceled, wantProduces: 1, wantCalls: "begin abort"},
		{name: "caller's budget spent", ctx: past, produce: queueFull(20, ranOut),
			wantErr: context.DeadlineExceeded, wantProduces: 1, wantCalls: "begin abort"},
		{name: "emitter's time spent", ctx: context.Background(), timeout: -1, produce: queueFull(20, ranOut),
			wantErr: context.DeadlineExceeded, wantProduces: 1, wantCalls: "begin abort"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeTxn{produce: tc.produce}
			e := newEmitter(fake, "windows", slog.New(slog.DiscardHandler))
			if tc.timeout != 0 {
				e.timeout = tc.timeout
			}
			meta, err := ckafka.NewTestConsumerGroupMetadata("g")
			if err != nil {
				t.Fatal(err)
			}
			err = e.Commit(tc.ctx, meta, []stream.Message{{Key: []byte("k"), Value: []byte("v")}}, nil)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Commit: %v, want success", err)
			case tc.wantErr != nil && (!errors.Is(err, tc.wantErr) || !errors.Is(err, ErrAborted)):
				t.Fatalf("Commit: %v, want an error wrapping %v and ErrAborted", err, tc.wantErr)
			}
			if fake.produces != tc.wantProduces {
				t.Errorf("Produce called %d times, want %d", fake.produces, tc.wantProduces)
			}
			if got := strings.Join(fake.calls, " "); got != tc.wantCalls {
				t.Errorf("calls %q, want %q", got, tc.wantCalls)
			}
		})
	}
}
