package stream

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
)

// DriverConfig holds the rules of a run: how often to commit, when the idle
// rule moves a watermark, how long writes may take between two polls.
type DriverConfig struct {
	// CommitInterval is how often partitions with new records are committed
	// when no window closes (side outputs are written first). Default 5 s.
	CommitInterval time.Duration
	// IdleClose: when a caught-up partition has received nothing for this
	// long (wall clock), its watermark advances by the idle time that has
	// elapsed. Zero disables the rule.
	IdleClose time.Duration
	// RetryBackoff is the pause between attempts to write windows after a
	// lake error; the stream waits rather than lose data. Default 1 s.
	RetryBackoff time.Duration
	// WriteTimeout bounds the writes and commits done between two polls, so
	// that a consumer group always sees a live member: keep it well under
	// max.poll.interval.ms. A write that runs out of time pauses its
	// partition until a retry succeeds. Default 100 s.
	WriteTimeout time.Duration
	// AcceptPartitions, when positive, accepts committed metadata recorded
	// under another partition count when the topic has exactly this many
	// partitions now: the last step of the procedure in docs/consumer.md,
	// "Growing the topic". Without it such a partition halts the run.
	AcceptPartitions int
	// Once: the source is a finite input read once (file mode). It keeps no
	// commits, so its partitions start with no watermark and are neither
	// guarded nor claimed; a failed write ends the run with its error
	// (nothing would replay from a commit); side outputs are written when a
	// window closes or they are due, never on a timer; EventEnd closes every
	// window. Its partitions are named InputSource.
	Once bool
	// Now is the wall clock (default time.Now), injectable for tests.
	Now    func() time.Time
	Logger *slog.Logger
}

// commitFailuresNotReady is how many commits in a row may fail before Ready
// reports false.
const commitFailuresNotReady = 3

// pollWait is the longest the loop waits for records before it looks at its
// partitions again (retries, the idle rule, commits).
const pollWait = 100 * time.Millisecond

// tickInterval is how often the loop retries paused partitions, applies the
// idle rule and updates lag.
const tickInterval = 500 * time.Millisecond

// Driver runs a Processor over a Source: the consumer's run loop. It owns
// every rule of the run, per partition (runState): pause and retry of a
// failing write, commit timing, restore from the last commit, the ownership
// claim, the idle rule, lag and the partition-count guard (docs/consumer.md).
// It is used from one goroutine, except Ready.
type Driver struct {
	p   *Processor
	src Source
	cfg DriverConfig
	log *slog.Logger
	m   *Metrics

	ready          atomic.Bool
	haltedFlag     atomic.Bool
	commitFailures atomic.Int32

	lastCommit  time.Time
	lastLoopRun time.Time // when the loop last ran: a longer gap is not idle time
	fatal       error     // set by a fatal error: Run returns it
	stopping    bool      // the loop has ended: events take nothing
	ended       bool      // a finite source's EventEnd came

	// partitions is the topic's partition count the run is under: the count
	// at the first assignment (0 until then). halted is set when the topic's
	// count changes, or a partition was consumed under another count: the
	// run then takes no more records, writes and commits nothing, and is not
	// ready (docs/consumer.md, "Growing the topic").
	partitions atomic.Int32
	halted     error
	// countChanged is set by the count watcher (watchCounts); the loop halts
	// on it.
	countChanged atomic.Pointer[error]
}

// runState is the Driver's state of one assigned partition.
type runState struct {
	lastRecv    time.Time // wall time of the last record, or of the assignment
	lastAdvance time.Time // wall time up to which idle time was applied
	// committed is the offset the partition resumed from (-1 when none was
	// committed): the next offset to read before any record is handled.
	committed int64
	// caughtUp is set once the partition has read up to the log end since it
	// was assigned; only then may the idle rule advance its watermark.
	caughtUp bool
	// paused is set while a write of the partition keeps failing: the source
	// is paused and records already fetched are dropped, to be read again
	// from the position after the last handled record once a retry succeeds.
	paused bool
	// commitDue is set when a record closed windows whose files are still
	// being written behind: the partition commits once they are durable.
	commitDue bool
	// restore is set (with paused) when the partition must be restored from
	// its last commit and claimed before it takes records: its committed
	// offsets could not be fetched, its claim was not accepted, a newer
	// owner's window file or an aborted transaction showed that this
	// consumer may have lost it. tick retries; a revocation ends it.
	restore bool
	// confirm is set after a gap in the loop (checkGap): before the idle
	// rule next advances the watermark, the source's broker, not its cache,
	// must say the partition is at the log end.
	confirm bool
}

// NewDriver returns a Driver of p. The Processor must not be used by
// anything else while the Driver runs.
func NewDriver(p *Processor, cfg DriverConfig) *Driver {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = 5 * time.Second
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 100 * time.Second
	}
	return &Driver{p: p, cfg: cfg, log: cfg.Logger, m: p.cfg.Metrics}
}

// Ready reports whether the run is polling, its commits are not failing in a
// row, and it is not halted. It is safe to call from any goroutine.
func (d *Driver) Ready() bool {
	return d.ready.Load() && d.commitFailures.Load() < commitFailuresNotReady && !d.haltedFlag.Load()
}

// Run reads src until ctx is cancelled (or a finite source ends), then
// writes what is safe, commits and returns nil. It returns an error for a
// fatal source error, a fatal commit, a window shape that does not match the
// committed one, a halt (the partition count changed), and, with Once, a
// failed write. A Driver runs once.
func (d *Driver) Run(ctx context.Context, src Source) error {
	d.src = src
	d.ready.Store(true)
	defer d.ready.Store(false)
	d.lastCommit = d.cfg.Now()
	if !d.cfg.Once {
		// The watcher asks the source for the partition count: Run waits
		// for it to end before it returns, so it never meets the source's
		// close.
		stopWatch, watchDone := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(watchDone)
			d.watchCounts(stopWatch)
		}()
		defer func() {
			close(stopWatch)
			<-watchDone
		}()
	}
	runErr := d.loop(ctx)
	// Stop the source; a rebalance it hands over meanwhile completes, and
	// records are dropped (they are not committed).
	d.stopping = true
	src.Stop()
	drain := context.WithoutCancel(ctx)
	for {
		events, err := src.Poll(drain, pollWait)
		if err != nil {
			break // ErrStopped, or the source failed: nothing more comes
		}
		for i := range events {
			d.event(ctx, drain, &events[i], d.cfg.Now())
		}
	}
	if runErr != nil {
		return runErr
	}
	return d.stop(ctx)
}

// loop is Run's loop: it takes the source's batches, the writes of one batch
// sharing one budget of WriteTimeout, so that a group's poll never waits
// longer than that; between batches it commits and ticks.
func (d *Driver) loop(ctx context.Context) error {
	lastTick := d.cfg.Now()
	for ctx.Err() == nil && d.fatal == nil && !d.ended {
		events, err := d.src.Poll(ctx, pollWait)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		now := d.cfg.Now()
		d.checkGap(now)
		budget, cancel := d.budget(ctx)
		for i := range events {
			d.event(ctx, budget, &events[i], now)
			if d.fatal != nil || d.ended {
				break
			}
		}
		if d.fatal == nil && !d.cfg.Once {
			d.commitDue(budget)
			if now.Sub(lastTick) >= tickInterval && d.fatal == nil {
				lastTick = now
				d.tick(budget, now)
			}
		}
		cancel()
	}
	return nil
}

// budget bounds the writes of one batch: WriteTimeout, or ctx alone with
// Once (file mode has no poll to keep).
func (d *Driver) budget(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.cfg.Once {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d.cfg.WriteTimeout)
}

// stop ends Run: unless an error is fatal, it writes what is safe and
// commits; a finite source that ended closes every window.
func (d *Driver) stop(ctx context.Context) error {
	if d.fatal != nil {
		return d.fatal
	}
	if d.halted != nil {
		return d.halted
	}
	if d.ended {
		for _, st := range d.p.parts {
			if err := d.p.flush(ctx, st); err != nil {
				return err
			}
			d.p.committed(st)
		}
		return nil
	}
	d.log.Info("stopping: writing closed windows and side outputs, then committing")
	final, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.WriteTimeout)
	defer cancel()
	d.commitAll(final)
	return d.fatal
}

// event handles one event of the source. ctx is Run's, budget bounds the
// writes.
func (d *Driver) event(ctx, budget context.Context, ev *Event, now time.Time) {
	switch ev.Kind {
	case EventRecord:
		d.record(budget, ev, now)
	case EventAssigned:
		d.assigned(ctx, budget, ev)
	case EventRevoked:
		d.revoked(budget, ev)
	case EventSeekFailed:
		// A seek fails when the source no longer holds the partition: it is
		// restored again, or revoked by the coming rebalance.
		d.log.Warn("seeking the partition failed; it is restored again unless a rebalance revokes it", "partition", ev.Part, "err", ev.Err)
		if st := d.p.parts[ev.Part]; st != nil {
			d.restoreLater(st)
		}
	case EventEnd:
		d.ended = true
	}
}

// record handles one record received at now. ctx bounds its writes.
func (d *Driver) record(ctx context.Context, ev *Event, now time.Time) {
	if d.halted != nil || d.stopping {
		return // the partition count changed, or the run is ending: no record is taken
	}
	st := d.p.parts[ev.Part]
	if st == nil {
		// Fetched before the partition was revoked: not ours to handle.
		d.log.Debug("record from a partition not assigned here", "partition", ev.Part)
		return
	}
	if st.run.paused {
		return // fetched before the pause; read again after the resume
	}
	var (
		wrote bool
		err   error
	)
	if ev.Rec != nil || ev.Err != nil {
		wrote, err = d.p.handleParsed(ctx, st, ev.Offset, ev.Value, ev.Rec, ev.Err)
	} else {
		wrote, err = d.p.handle(ctx, st, ev.Offset, ev.Value)
	}
	if wrote || err != nil {
		now = d.cfg.Now() // writes may have taken a while
	}
	st.run.lastRecv, st.run.lastAdvance = now, now
	if err != nil {
		d.failed(st, err)
		return
	}
	if !wrote && !d.p.sideDue(st) {
		return
	}
	switch {
	case d.cfg.Once:
		// Nothing is committed from a finite input: a checkpoint only
		// writes out the side records (after the windows it waits for).
		if d.p.holdsSide(st) {
			d.commit(ctx, st)
		}
	case d.p.writing(st):
		// Commit once the window files are durable (commitDue), so that
		// encoding and writing them overlap with the next records.
		st.run.commitDue = true
	default:
		d.commit(ctx, st)
	}
}

// commitDue commits the partitions whose window files, handed to the
// write-behind, have all been written since a record closed them.
func (d *Driver) commitDue(ctx context.Context) {
	if d.halted != nil {
		return
	}
	for _, st := range d.p.parts {
		if st.run.commitDue && !st.run.paused && !d.p.writing(st) {
			d.commit(ctx, st)
		}
	}
}

// failed handles a failed write of a partition: a window file of a newer
// owner means this consumer may have lost the partition, which is then
// restored from its last commit and claimed again (restoreLater); with Once
// the run ends; any other failure pauses the partition until a retry
// succeeds.
func (d *Driver) failed(st *partition, err error) {
	switch {
	case d.cfg.Once:
		d.fatal = err
	case errors.Is(err, errCountChanged):
		d.halt(err)
	case errors.Is(err, lake.ErrFenced):
		d.m.PartitionFenced()
		d.log.Warn("a newer owner has written this partition's window files: dropping its state; it is restored from the last commit if this consumer still owns it",
			"partition", st.id, "epoch", st.epoch, "err", err)
		d.restoreLater(st)
	default:
		d.pause(st, err)
	}
}

// pause stops a partition whose writes fail, so that the loop keeps polling
// (a group sees a live member) while tick retries the writes.
func (d *Driver) pause(st *partition, err error) {
	d.log.Error("writing to the lake or the dead-letter topic failed; partition paused, retrying (the stream waits rather than lose data)", "partition", st.id, "err", err)
	if st.run.paused {
		return
	}
	d.src.Pause(st.id)
	st.run.paused = true
	d.m.PartitionPaused()
}

// unpause resumes a paused partition from the record after the last one
// handled: the records fetched meanwhile were dropped.
func (d *Driver) unpause(st *partition) {
	next := st.pos + 1
	if next <= 0 {
		next = st.run.committed
	}
	d.src.Resume(st.id, max(next, OffsetHere))
	st.run.paused = false
	d.m.PartitionResumed()
	d.log.Info("writes succeed again; partition resumed", "partition", st.id, "offset", next)
}

// Resume's offsets that are not positions in the log.
const (
	OffsetHere  int64 = -1 // where the source stands
	OffsetStart int64 = -2 // the log start
)

// commitAll commits every partition that is not paused, while ctx (the
// loop's budget) lasts; the rest wait for the next interval.
func (d *Driver) commitAll(ctx context.Context) {
	d.lastCommit = d.cfg.Now()
	if d.halted != nil {
		return
	}
	for _, st := range d.p.parts {
		if ctx.Err() != nil {
			return
		}
		if !st.run.paused {
			d.commit(ctx, st)
		}
	}
}

// commit writes the partition's side outputs and commits its checkpoint. It
// returns false when a write failed (the partition is then paused) or an
// aborted commit restored the partition. A failed commit is logged and
// retried at the next checkpoint: nothing is lost, as the uncommitted
// records are replayed. ctx bounds the writes and the commit.
func (d *Driver) commit(ctx context.Context, st *partition) bool {
	if d.halted != nil {
		return true // nothing is committed once halted
	}
	st.run.commitDue = false
	cp, ok, err := d.p.checkpoint(ctx, st)
	if err != nil {
		d.failed(st, err)
		return false
	}
	if !ok {
		return true
	}
	err = d.src.Commit(ctx, []Offset{{Part: st.id, Offset: cp.Offset, Metadata: cp.Metadata}}, cp.Rows)
	switch {
	case err == nil:
		d.p.committed(st)
		d.commitFailures.Store(0)
		d.m.Commit()
		d.log.Debug("committed", "partition", st.id, "offset", cp.Offset, "metadata", cp.Metadata)
	case errors.Is(err, ErrFatal):
		d.m.CommitError()
		d.fatal = err
	case errors.Is(err, ErrAborted):
		d.m.CommitError()
		d.m.TxnAbort()
		d.commitFailures.Add(1)
		d.log.Warn("commit aborted; restoring the partition from its last commit", "partition", st.id, "err", err)
		d.restoreLater(st)
		d.restore(ctx, st)
		return false // restored or still paused: not for the caller to resume
	default:
		d.m.CommitError()
		d.commitFailures.Add(1)
		d.log.Warn("commit failed; will retry", "partition", st.id, "offset", cp.Offset, "err", err)
	}
	return true
}

// tick retries a paused partition, applies the idle rule, updates lag, and
// commits on the interval. ctx bounds its writes (the loop's budget): one
// paused partition is retried per tick, so that a lake outage over many
// partitions cannot hold the loop longer than one write.
func (d *Driver) tick(ctx context.Context, now time.Time) {
	if d.halted != nil {
		return
	}
	if err := d.countChanged.Load(); err != nil {
		d.halt(*err)
		return
	}
	d.commitDue(ctx)
	for _, st := range d.p.parts {
		if !st.run.paused || now.Sub(st.run.lastRecv) < d.cfg.RetryBackoff {
			continue
		}
		st.run.lastRecv = now
		if st.run.restore {
			d.restore(ctx, st)
		} else if d.commit(ctx, st) {
			d.unpause(st)
		}
		break
	}
	for _, st := range d.p.parts {
		if st.run.paused {
			continue
		}
		lag, known := d.lag(ctx, st)
		if d.cfg.IdleClose <= 0 || !known || lag > 0 || !st.run.caughtUp || now.Sub(st.run.lastRecv) < d.cfg.IdleClose {
			continue
		}
		idle := now.Sub(st.run.lastAdvance).Truncate(time.Second)
		if idle < time.Second || (st.run.confirm && !d.atLogEnd(ctx, st)) {
			continue
		}
		st.run.confirm = false
		st.run.lastAdvance = st.run.lastAdvance.Add(idle)
		wrote, err := d.p.advance(ctx, st, idle)
		if err != nil {
			d.failed(st, err)
		} else if wrote {
			d.log.Info("idle partition: watermark advanced by wall-clock time", "partition", st.id, "by", idle)
			d.commit(ctx, st)
		}
	}
	if now.Sub(d.lastCommit) >= d.cfg.CommitInterval {
		d.commitAll(ctx)
	}
}

// sleep waits for d or until ctx is done, and then returns ctx.Err().
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// partList returns the partitions of offsets, for logs.
func partList(offsets []Offset) []int32 {
	out := make([]int32, len(offsets))
	for i, o := range offsets {
		out[i] = o.Part
	}
	return out
}
