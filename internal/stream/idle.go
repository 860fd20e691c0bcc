package stream

import (
	"context"
	"time"
)

// The idle rule and what it needs of the log end: a caught-up partition that
// receives nothing for DriverConfig.IdleClose moves its watermark by the
// idle (wall-clock) time, so that its last windows close on a quiet stream.

// maxLoopGap is the longest gap between two turns of the loop that still
// counts as the stream's time. The loop turns at least every pollWait
// unless a batch's writes hold it; a longer gap is time in which this
// consumer did not run (a freeze: a long GC pause, SIGSTOP, a VM migration)
// or did not watch the stream, and none of it is idle time of the stream.
const maxLoopGap = 5 * time.Second

// checkGap restarts the idle rule's clocks after a gap in the loop longer
// than maxLoopGap: what the consumer knew of the log end before the gap is
// stale, so each partition must be seen caught up again, and idle for
// IdleClose again, before the rule may advance its watermark.
func (d *Driver) checkGap(now time.Time) {
	last := d.lastLoopRun
	d.lastLoopRun = now
	if last.IsZero() || now.Sub(last) <= maxLoopGap {
		return
	}
	d.log.Warn("the consumer did not run for a while (a freeze, a long pause, or slow writes): the idle rule starts over", "gap", now.Sub(last).Round(time.Millisecond))
	for _, st := range d.p.parts {
		st.run.lastRecv, st.run.lastAdvance, st.run.caughtUp, st.run.confirm = now, now, false, true
	}
}

// atLogEnd asks the source's broker, not its cache, whether the partition
// has handled everything up to the log end: the idle rule's check after a
// gap in the loop, when what the cache says may predate the gap.
func (d *Driver) atLogEnd(ctx context.Context, st *partition) bool {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	low, high, ok := d.src.LogEnd(actx, st.id, true)
	if !ok {
		return false
	}
	next, ok := d.next(st, low)
	return ok && next >= high
}

// lag returns the partition's lag (the log end minus the next offset to
// handle) when it is known, from the source's cache, and notes when the
// partition has caught up with the log end since its assignment. Until its
// replay is done a restored partition is never caught up.
func (d *Driver) lag(ctx context.Context, st *partition) (int64, bool) {
	if st.pos < st.replayUntil {
		return 0, false
	}
	low, high, ok := d.src.LogEnd(ctx, st.id, false)
	if !ok || high < 0 {
		return 0, false
	}
	next, ok := d.next(st, low)
	if !ok {
		return 0, false
	}
	lag := max(high-next, 0)
	if lag == 0 {
		st.run.caughtUp = true
	}
	d.m.SetLag(st.id, lag)
	return lag, true
}

// next returns the next offset the partition will handle: after the last one
// handled, else the offset it resumed from, else the log start (low).
func (d *Driver) next(st *partition, low int64) (int64, bool) {
	next := st.pos + 1
	if next <= 0 { // nothing handled since the assignment
		next = st.run.committed
		if next < 0 {
			next = low
		}
		if next < 0 {
			return 0, false
		}
	}
	return next, true
}
