package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// fakeClock advances only when slept on, and records every sleep.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
	// onSleep, when set, runs before each sleep (e.g. to cancel a context).
	onSleep func(n int)
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 7, 22, 8, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	if c.onSleep != nil {
		c.onSleep(len(c.sleeps))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.now = c.now.Add(d)
	return nil
}

// work makes the fake clock pass d, as a slow sink would.
func (c *fakeClock) work(d time.Duration) { c.now = c.now.Add(d) }

func TestPacer(t *testing.T) {
	tests := []struct {
		name       string
		dues       []time.Duration
		work       time.Duration // time each send takes
		wantSleeps []time.Duration
	}{
		{name: "all due at once", dues: []time.Duration{0, 0, 0}, wantSleeps: nil},
		{name: "one per second", dues: []time.Duration{0, time.Second, 2 * time.Second}, wantSleeps: []time.Duration{time.Second, time.Second}},
		{name: "short waits are made up later", dues: []time.Duration{0, 300 * time.Microsecond, 600 * time.Microsecond, 900 * time.Microsecond, 1200 * time.Microsecond}, wantSleeps: []time.Duration{1200 * time.Microsecond}},
		{name: "a slow sink sleeps only the rest", dues: []time.Duration{0, time.Second, 2 * time.Second}, work: 400 * time.Millisecond, wantSleeps: []time.Duration{600 * time.Millisecond, 600 * time.Millisecond}},
		{name: "behind schedule does not sleep", dues: []time.Duration{0, time.Second, 2 * time.Second}, work: 3 * time.Second, wantSleeps: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			p := NewPacer(clock)
			for _, due := range tt.dues {
				if err := p.Wait(context.Background(), due); err != nil {
					t.Fatal(err)
				}
				clock.work(tt.work)
			}
			if !slices.Equal(clock.sleeps, tt.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", clock.sleeps, tt.wantSleeps)
			}
		})
	}
}

func TestPacerCancelled(t *testing.T) {
	clock := newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := NewPacer(clock)
	if err := p.Wait(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a cancelled context = %v, want context.Canceled", err)
	}
	if err := p.Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a cancelled context = %v, want context.Canceled", err)
	}
}

func rec(scp string, t string, entries int64) *turnstile.Record {
	tm, err := time.Parse(turnstile.TimestampLayout, t)
	if err != nil {
		panic(err)
	}
	r := turnstile.NewRecord("A002", "R051", scp, "59 ST", "NQR456W", "BMT", "REGULAR", entries, 1, "id-"+scp+t, tm)
	return &r
}

func records(rs ...*turnstile.Record) iter.Seq[*turnstile.Record] { return slices.Values(rs) }

func TestByEventTime(t *testing.T) {
	rs := []*turnstile.Record{
		rec("00", "2024-07-20 00:00:00", 1),
		rec("01", "2024-07-20 00:00:00", 1),
		rec("00", "2024-07-20 04:00:00", 1),
		rec("00", "2024-07-20 08:00:00", 1),
	}
	tests := []struct {
		name  string
		speed float64
		want  []time.Duration
	}{
		{name: "as fast as possible", speed: 0, want: []time.Duration{0, 0, 0, 0}},
		{name: "real time", speed: 1, want: []time.Duration{0, 0, 4 * time.Hour, 8 * time.Hour}},
		{name: "an hour per second", speed: 3600, want: []time.Duration{0, 0, 4 * time.Second, 8 * time.Second}},
		{name: "a day per second", speed: 86400, want: []time.Duration{0, 0, 166666666, 333333333}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []time.Duration
			for _, due := range ByEventTime(records(rs...), tt.speed) {
				got = append(got, due)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("dues = %v, want %v", got, tt.want)
			}
		})
	}
}

// memSink records what it is sent and delivers it on Close.
type memSink struct {
	c       *Counters
	keys    []string
	values  []string
	failAt  int // fail the Send of this message (1-based), 0 = never
	closed  bool
	closeOK bool
}

func (s *memSink) Send(_ context.Context, key, value []byte) error {
	if s.failAt > 0 && len(s.keys)+1 == s.failAt {
		return errors.New("queue broken")
	}
	s.keys = append(s.keys, string(key))
	s.values = append(s.values, string(value))
	return nil
}

func (s *memSink) Close(ctx context.Context) error {
	s.closed = true
	s.closeOK = ctx.Err() == nil
	s.c.Sent.Add(int64(len(s.keys)))
	return nil
}

func TestRun(t *testing.T) {
	rs := []*turnstile.Record{
		rec("00", "2024-07-20 00:00:00", 10),
		rec("01", "2024-07-20 00:00:00", 11),
		rec("00", "2024-07-20 04:00:00", 12),
		rec("00", "2024-07-20 08:00:00", 13),
	}
	t.Run("sends keys and values in order, paced", func(t *testing.T) {
		var c Counters
		sink := &memSink{c: &c}
		clock := newFakeClock()
		s, err := Run(context.Background(), ByEventTime(records(rs...), 3600), Config{Sink: sink, Counters: &c, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		wantKeys := []string{"A002|R051|00", "A002|R051|01", "A002|R051|00", "A002|R051|00"}
		if !slices.Equal(sink.keys, wantKeys) {
			t.Errorf("keys = %q, want %q", sink.keys, wantKeys)
		}
		for i, v := range sink.values {
			if want := string(turnstile.AppendCSV(nil, rs[i])); v != want {
				t.Errorf("value %d = %q, want %q", i, v, want)
			}
		}
		if !slices.Equal(clock.sleeps, []time.Duration{4 * time.Second, 4 * time.Second}) {
			t.Errorf("sleeps = %v", clock.sleeps)
		}
		if !sink.closed || !sink.closeOK {
			t.Error("sink not closed with a live context")
		}
		if s.Sent != 4 || !s.OK() || s.Interrupted || s.Elapsed != 8*time.Second {
			t.Errorf("summary = %+v", s)
		}
	})
	t.Run("interrupted while waiting still flushes", func(t *testing.T) {
		var c Counters
		sink := &memSink{c: &c}
		clock := newFakeClock()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		clock.onSleep = func(n int) {
			if n == 2 {
				cancel() // SIGINT during the second wait
			}
		}
		s, err := Run(ctx, ByEventTime(records(rs...), 3600), Config{Sink: sink, Counters: &c, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		if len(sink.keys) != 3 {
			t.Errorf("sent %d messages, want the 3 due before the interrupt", len(sink.keys))
		}
		if !sink.closed || !sink.closeOK {
			t.Error("sink not flushed with a live context after the interrupt")
		}
		if !s.Interrupted || s.Sent != 3 || !s.OK() {
			t.Errorf("summary = %+v", s)
		}
	})
	t.Run("a sink error stops the run", func(t *testing.T) {
		var c Counters
		sink := &memSink{c: &c, failAt: 2}
		s, err := Run(context.Background(), ByEventTime(records(rs...), 0), Config{Sink: sink, Counters: &c, Clock: newFakeClock()})
		if err == nil || !strings.Contains(err.Error(), "send A002|R051|01: queue broken") {
			t.Errorf("error = %v, want the failed key and cause", err)
		}
		if !sink.closed || s.Sent != 1 {
			t.Errorf("sink closed=%t, summary %+v", sink.closed, s)
		}
	})
	t.Run("missing sink", func(t *testing.T) {
		if _, err := Run(context.Background(), nil, Config{}); err == nil {
			t.Error("Run without a sink succeeded")
		}
	})
}

func TestSummary(t *testing.T) {
	var c Counters
	c.Read.Store(10)
	c.Queued.Store(7)
	c.Sent.Store(5)
	c.Failed.Store(1)
	c.Skipped.Store(1)
	c.Resets.Store(1)
	c.Duplicates.Store(1)
	s := c.Snapshot()
	if s.Undelivered != 1 || s.OK() {
		t.Errorf("summary = %+v, want 1 undelivered and not OK", s)
	}
	if got, want := s.String(), "read=10 sent=5 failed=1 skipped=1 resets=1 duplicates=1 undelivered=1 interrupted=false elapsed=0s"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

type brokenWriter struct{ after int }

func (w *brokenWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("broken pipe")
	}
	n := min(len(p), w.after)
	w.after -= n
	if n < len(p) {
		return n, errors.New("broken pipe")
	}
	return n, nil
}

func TestLineWriter(t *testing.T) {
	t.Run("one value per line", func(t *testing.T) {
		var c Counters
		var out bytes.Buffer
		lw := NewLineWriter(&out, &c)
		src := ByEventTime(records(rec("00", "2024-07-20 04:00:00", 1), rec("01", "2024-07-20 04:00:00", 2)), 0)
		s, err := Run(context.Background(), src, Config{Sink: lw, Counters: &c, Clock: newFakeClock()})
		if err != nil {
			t.Fatal(err)
		}
		want := "A002,R051,00,59 ST,NQR456W,BMT,07-20-24,04:00:00,REGULAR,1,1,id-002024-07-20 04:00:00,2024-07-20 04:00:00\n" +
			"A002,R051,01,59 ST,NQR456W,BMT,07-20-24,04:00:00,REGULAR,2,1,id-012024-07-20 04:00:00,2024-07-20 04:00:00\n"
		if out.String() != want {
			t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
		}
		if s.Sent != 2 || !s.OK() {
			t.Errorf("summary = %+v", s)
		}
	})
	t.Run("lines that do not reach the writer count as failed", func(t *testing.T) {
		var c Counters
		lw := NewLineWriter(&brokenWriter{after: 150}, &c)
		var rs []*turnstile.Record
		for i := range 5 {
			rs = append(rs, rec(fmt.Sprintf("%02d", i), "2024-07-20 04:00:00", 1))
		}
		s, err := Run(context.Background(), ByEventTime(records(rs...), 0), Config{Sink: lw, Counters: &c, Clock: newFakeClock()})
		if err == nil || !strings.Contains(err.Error(), "broken pipe") {
			t.Errorf("error = %v, want broken pipe", err)
		}
		if s.Sent != 1 || s.Failed != 4 || s.OK() {
			t.Errorf("summary = %+v, want 1 sent and 4 failed", s)
		}
	})
}

func TestLineWriterFlush(t *testing.T) {
	var buf bytes.Buffer
	var c Counters
	lw := NewLineWriter(&buf, &c)
	lw.Send(context.Background(), nil, []byte("a"))
	c.Queued.Add(1)
	if buf.Len() != 0 || c.Sent.Load() != 0 {
		t.Fatalf("before Flush: %q written, %d sent; want the line still buffered", buf.String(), c.Sent.Load())
	}
	if err := lw.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "a\n" || c.Sent.Load() != 1 {
		t.Errorf("after Flush: %q written, %d sent; want \"a\\n\" and 1", buf.String(), c.Sent.Load())
	}
}
