package publish

import (
	"context"
	"time"
)

// Clock tells the time and waits. Tests inject a fake one, so that pacing is
// tested without sleeping.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx is done, in which case it returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the Clock of the time package.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MinSleep is the shortest wait a Pacer sleeps for. Shorter waits are skipped
// and made up by the next longer one, because the pacer aims at absolute due
// times: sending at 100k messages/s does not cost a timer per message.
const MinSleep = time.Millisecond

// Pacer holds messages back until they are due. Due times are offsets from the
// first call to Wait; a Pacer that falls behind (a slow sink) does not sleep
// until it has caught up, so it never drifts. It is not safe for concurrent use.
type Pacer struct {
	clock   Clock
	start   time.Time
	started bool
}

// NewPacer returns a Pacer on clock.
func NewPacer(clock Clock) *Pacer { return &Pacer{clock: clock} }

// Wait returns once due has passed since the first call to Wait. It returns
// ctx.Err() if ctx is done first.
func (p *Pacer) Wait(ctx context.Context, due time.Duration) error {
	now := p.clock.Now()
	if !p.started {
		p.start, p.started = now, true
	}
	if d := p.start.Add(due).Sub(now); d >= MinSleep {
		return p.clock.Sleep(ctx, d)
	}
	return ctx.Err()
}
