package kafka

import (
	"log/slog"
	"testing"
	"time"
)

// TestLoopGapIsNotIdleTime checks the idle rule's guard against a freeze:
// after a gap between two turns of the loop longer than maxLoopGap, every
// partition must be seen caught up again and idle again from the end of the
// gap; a short gap changes nothing.
func TestLoopGapIsNotIdleTime(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		gap   time.Duration
		reset bool
	}{
		{"a turn of the loop", 100 * time.Millisecond, false},
		{"slow writes under the limit", maxLoopGap, false},
		{"a freeze", 15 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := &partState{lastRecv: t0.Add(-time.Minute), lastAdvance: t0.Add(-time.Minute), caughtUp: true}
			k := &Group{log: slog.New(slog.DiscardHandler), parts: map[int32]*partState{0: ps}}
			k.checkGap(t0)
			now := t0.Add(tc.gap)
			k.checkGap(now)
			if tc.reset {
				if !ps.lastRecv.Equal(now) || !ps.lastAdvance.Equal(now) || ps.caughtUp || !ps.confirm {
					t.Errorf("after a %s gap: lastRecv %s, lastAdvance %s, caughtUp %v, confirm %v; want the idle clocks at the end of the gap, caughtUp false and the log end to be asked of the broker",
						tc.gap, ps.lastRecv, ps.lastAdvance, ps.caughtUp, ps.confirm)
				}
			} else if !ps.lastRecv.Equal(t0.Add(-time.Minute)) || !ps.caughtUp {
				t.Errorf("a %s gap changed the idle state: lastRecv %s, caughtUp %v", tc.gap, ps.lastRecv, ps.caughtUp)
			}
		})
	}
}
