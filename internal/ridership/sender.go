package ridership

import (
	"context"
	"fmt"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// Sender takes the messages of a run. Send queues one message (it does not
// keep key or value); Flush returns nil once every message queued so far is
// delivered, and an error when one failed or ctx ended first.
type Sender interface {
	Send(ctx context.Context, key, value []byte) error
	Flush(ctx context.Context) error
}

// flusher is a sink that can push out what it buffers without closing
// (publish.LineWriter).
type flusher interface {
	Flush(ctx context.Context) error
}

// sinkSender is a Sender over a publish.Sink and its Counters.
type sinkSender struct {
	sink     publish.Sink
	counters *publish.Counters
	tick     time.Duration
}

// NewSinkSender makes a Sender of a publish.Sink (the Kafka producer or a
// LineWriter) and the Counters it reports deliveries to. Send counts
// Queued; Flush calls the sink's own Flush method when it has one, then
// waits until the sink has reported every queued message as sent or failed
// (the Kafka producer does so from its delivery reports, after linger.ms).
// Flush fails once any message failed.
func NewSinkSender(sink publish.Sink, counters *publish.Counters) Sender {
	return &sinkSender{sink: sink, counters: counters, tick: 2 * time.Millisecond}
}

func (s *sinkSender) Send(ctx context.Context, key, value []byte) error {
	if err := s.sink.Send(ctx, key, value); err != nil {
		return err
	}
	s.counters.Queued.Add(1)
	return nil
}

func (s *sinkSender) Flush(ctx context.Context) error {
	if f, ok := s.sink.(flusher); ok {
		if err := f.Flush(ctx); err != nil {
			return err
		}
	}
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		queued := s.counters.Queued.Load()
		sent, failed := s.counters.Sent.Load(), s.counters.Failed.Load()
		if failed > 0 {
			return fmt.Errorf("%d message(s) failed delivery", failed)
		}
		if sent+failed >= queued {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
