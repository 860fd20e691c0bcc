// Package publish sends turnstile records to a Sink: it encodes each record as
// its message key (CA|UNIT|SCP) and value (the 13-field CSV line), paces the
// sending on an injected Clock, counts what happens, and on the way out
// flushes the sink within a deadline and sums it all up.
//
// It holds no Kafka code: the Kafka sink is internal/kafka's Producer, and the
// LineWriter here serves --out - without any network.
package publish

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Sink sends messages. Send may block while the sink's queue is full; it does
// not keep key or value after it returns. Close flushes what was sent,
// waiting at most until ctx is done, and releases the sink; it reports the
// outcome of each message through the Counters the sink was made with.
type Sink interface {
	Send(ctx context.Context, key, value []byte) error
	Close(ctx context.Context) error
}

// Counters count a run. They are safe for concurrent use: sinks add to Sent
// and Failed from their delivery goroutines while the run adds to the rest.
type Counters struct {
	Read       atomic.Int64 // input rows read (replay) or records generated (synthetic)
	Skipped    atomic.Int64 // bad input rows
	Resets     atomic.Int64 // readings dropped as counter resets or bad readings
	Duplicates atomic.Int64 // readings dropped as repeats of a turnstile and time
	Queued     atomic.Int64 // messages handed to the sink
	Sent       atomic.Int64 // messages the sink confirmed delivered
	Failed     atomic.Int64 // messages the sink reported failed
}

// Summary is the outcome of a run.
type Summary struct {
	Read, Sent, Failed, Skipped, Resets, Duplicates int64
	Undelivered                                     int64 // queued but neither delivered nor failed (flush timed out)
	Interrupted                                     bool  // the run stopped early because its context was cancelled
	Elapsed                                         time.Duration
}

// OK reports whether every queued message was delivered.
func (s Summary) OK() bool { return s.Failed == 0 && s.Undelivered == 0 }

// LogAttrs returns the summary as slog attributes.
func (s Summary) LogAttrs() []any {
	return []any{"read", s.Read, "sent", s.Sent, "failed", s.Failed, "skipped", s.Skipped,
		"resets", s.Resets, "duplicates", s.Duplicates, "undelivered", s.Undelivered,
		"interrupted", s.Interrupted, "elapsed", s.Elapsed.Round(time.Millisecond).String()}
}

// String returns the one-line summary a user reads at the end of a run.
func (s Summary) String() string {
	return fmt.Sprintf("read=%d sent=%d failed=%d skipped=%d resets=%d duplicates=%d undelivered=%d interrupted=%t elapsed=%s",
		s.Read, s.Sent, s.Failed, s.Skipped, s.Resets, s.Duplicates, s.Undelivered, s.Interrupted, s.Elapsed.Round(time.Millisecond))
}

// Snapshot returns the counts as a Summary.
func (c *Counters) Snapshot() Summary {
	s := Summary{
		Read: c.Read.Load(), Sent: c.Sent.Load(), Failed: c.Failed.Load(),
		Skipped: c.Skipped.Load(), Resets: c.Resets.Load(), Duplicates: c.Duplicates.Load(),
	}
	s.Undelivered = max(0, c.Queued.Load()-s.Sent-s.Failed)
	return s
}

// Config configures Run. Sink and Counters are required.
type Config struct {
	Sink         Sink
	Counters     *Counters
	Clock        Clock         // paces the sending; nil = the real clock
	FlushTimeout time.Duration // how long Close may take; 0 = 30s
	Logger       *slog.Logger  // nil = discard
}

// DefaultFlushTimeout is how long Run waits for the sink to flush by default.
const DefaultFlushTimeout = 30 * time.Second

// Run sends every record of src when it is due, then closes the sink. Each
// record comes with its due time as an offset from the start of the run (see
// ByEventTime); a Pacer on cfg.Clock holds it back until then.
//
// When ctx is cancelled (SIGINT, SIGTERM) Run stops reading, still flushes the
// sink within FlushTimeout, and returns a Summary with Interrupted set and a
// nil error. It returns an error when the sink fails to take a message; the
// Summary is filled in even then.
func Run(ctx context.Context, src iter.Seq2[*turnstile.Record, time.Duration], cfg Config) (Summary, error) {
	if cfg.Sink == nil || cfg.Counters == nil {
		return Summary{}, errors.New("publish: Sink and Counters are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	began := cfg.Clock.Now()
	pacer := NewPacer(cfg.Clock)
	sendErr := send(ctx, src, cfg.Sink, pacer, cfg.Counters)
	interrupted := ctx.Err() != nil
	if interrupted {
		cfg.Logger.Info("interrupted: stopped reading, flushing", "timeout", cfg.FlushTimeout.String())
	}
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.FlushTimeout)
	defer cancel()
	closeErr := cfg.Sink.Close(flushCtx)
	s := cfg.Counters.Snapshot()
	s.Interrupted = interrupted
	s.Elapsed = cfg.Clock.Now().Sub(began)
	if err := errors.Join(sendErr, closeErr); err != nil {
		return s, err
	}
	return s, nil
}

// send is Run's loop. It returns nil when src ends or ctx is cancelled.
func send(ctx context.Context, src iter.Seq2[*turnstile.Record, time.Duration], sink Sink, pacer *Pacer, counters *Counters) error {
	var key, value []byte
	for rec, due := range src {
		if ctx.Err() != nil {
			return nil
		}
		if err := pacer.Wait(ctx, due); err != nil {
			return nil // cancelled while waiting
		}
		key = AppendKey(key[:0], rec)
		value = turnstile.AppendCSV(value[:0], rec)
		if err := sink.Send(ctx, key, value); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("send %s: %w", key, err)
		}
		counters.Queued.Add(1)
	}
	return nil
}

// AppendKey appends the message key of rec, CA|UNIT|SCP, to dst.
func AppendKey(dst []byte, rec *turnstile.Record) []byte {
	dst = append(dst, rec.CA...)
	dst = append(dst, '|')
	dst = append(dst, rec.Unit...)
	dst = append(dst, '|')
	return append(dst, rec.SCP...)
}

// ByEventTime paces records by event time: a record is due (t - t0)/speed
// after the start, where t0 is the first record's time, so that speed seconds
// of readings go out per wall-clock second. A speed of 0 sends everything at
// once. The records must come in event-time order.
func ByEventTime(records iter.Seq[*turnstile.Record], speed float64) iter.Seq2[*turnstile.Record, time.Duration] {
	return func(yield func(*turnstile.Record, time.Duration) bool) {
		var first time.Time
		started := false
		for rec := range records {
			var due time.Duration
			if speed > 0 {
				if !started {
					first, started = rec.Timestamp, true
				}
				due = time.Duration(float64(rec.Timestamp.Sub(first)) / speed)
			}
			if !yield(rec, due) {
				return
			}
		}
	}
}
