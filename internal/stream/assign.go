package stream

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// assigned starts the partitions a rebalance gives this consumer: each is
// restored from the metadata committed with its offset, and claimed. Once
// Run is stopping (ctx is cancelled), it takes none of them: their records
// are dropped and nothing of theirs is committed. Every call to the source
// is bounded by budget, so the rebalance never holds the poll longer.
func (d *Driver) assigned(ctx, budget context.Context, ev *Event) {
	if d.stopping || ctx.Err() != nil {
		d.log.Info("stopping: the assigned partitions are not restored", "partitions", ev.Parts)
		return
	}
	if d.cfg.Once {
		for _, part := range ev.Parts {
			if err := d.p.Assign(part, InputSource, ""); err != nil {
				d.fatal = err
				return
			}
			d.p.parts[part].run = d.newRun(-1)
		}
		return
	}
	switch {
	case ev.CountErr != nil:
		d.log.Warn("asking the broker for the partition count failed", "err", ev.CountErr)
	case ev.Count == 0:
	case d.partitions.Load() == 0:
		d.partitions.Store(int32(ev.Count))
		d.checkCommittedCounts(budget, ev.Count)
	case ev.Count != int(d.partitions.Load()):
		d.halt(fmt.Errorf("the topic has %d partitions, and this consumer started with %d", ev.Count, d.partitions.Load()))
	}
	committed, err := d.committed(budget, ev.Parts)
	if err != nil {
		if ctx.Err() != nil {
			d.log.Warn("stopping before the assigned partitions were restored", "partitions", ev.Parts, "err", err)
			return
		}
		d.log.Error("fetching the committed offsets of the assigned partitions failed within the poll budget: they take no records until a restore succeeds",
			"partitions", ev.Parts, "budget", d.cfg.WriteTimeout, "err", err)
		for _, part := range ev.Parts {
			_ = d.p.Assign(part, PartitionSource(part), "")
			st := d.p.parts[part]
			st.run = d.newRun(-1)
			d.restoreLater(st)
		}
		return
	}
	for _, o := range committed {
		if !d.assign(o) {
			break
		}
	}
	d.log.Info("partitions assigned", "partitions", ev.Parts)
	if d.fatal == nil && d.halted == nil {
		// A halted consumer claims nothing: a claim would record the new
		// partition count and hide the change from the next start.
		d.claim(budget, committed)
	}
	if d.halted != nil || d.fatal != nil {
		d.src.Pause(ev.Parts...)
	}
}

// revoked commits (unless the assignment was lost) and forgets the
// partitions a rebalance takes away.
func (d *Driver) revoked(ctx context.Context, ev *Event) {
	if ev.Lost {
		d.log.Warn("assignment lost: not committing; the next owner replays from the last commit", "partitions", ev.Parts)
	}
	for _, part := range ev.Parts {
		st := d.p.parts[part]
		if st == nil {
			continue
		}
		if !ev.Lost && !d.stopping && !st.run.paused && ctx.Err() == nil {
			d.commit(ctx, st)
		}
		if st.run.paused {
			d.m.PartitionResumed()
		}
		d.p.Revoke(part)
	}
	d.log.Info("partitions revoked", "partitions", ev.Parts)
}

func (d *Driver) newRun(committed int64) runState {
	now := d.cfg.Now()
	return runState{lastRecv: now, lastAdvance: now, committed: committed}
}

// restoreLater drops a partition's state and pauses it; tick restores it
// from its last commit and claims it again.
func (d *Driver) restoreLater(st *partition) {
	d.p.reset(st)
	if !st.run.paused {
		d.src.Pause(st.id)
		st.run.paused = true
		d.m.PartitionPaused()
	}
	st.run.restore, st.run.commitDue = true, false
}

// restore starts a partition over from its last commit, as a new owner
// would, and claims it: the committed offset and metadata are fetched, the
// partition restarts from them, the claim is committed, and the source
// resumes at the committed offset. If this consumer no longer owns the
// partition, the claim is refused and the partition stays paused
// (run.restore) until the rebalance that revokes it; a failed fetch or claim
// is retried by tick, never fatal. ctx bounds the source's calls.
func (d *Driver) restore(ctx context.Context, st *partition) {
	part := st.id
	committed, err := d.committed(ctx, []int32{part})
	if err != nil || len(committed) != 1 {
		d.log.Warn("restoring the partition from its last commit: fetching the committed offset failed; retrying", "partition", part, "err", err)
		return
	}
	if !d.assign(committed[0]) {
		return // fatal: a shape or partition count that does not match
	}
	if !d.claim(ctx, committed) {
		return
	}
	from := committed[0].Offset
	if from < 0 {
		from = OffsetStart
	}
	d.src.Resume(part, from)
	d.log.Info("partition restored from its last commit and claimed", "partition", part, "offset", from, "epoch", d.p.parts[part].epoch)
}

// assign starts a partition from its committed offset and metadata, with a
// new run state (unpaused). It returns false, with the run stopping (a fatal
// error) or halted, when the metadata was committed under another window
// shape or partition count.
func (d *Driver) assign(o Offset) bool {
	part := o.Part
	if old := d.p.parts[part]; old != nil && old.run.paused {
		d.m.PartitionResumed()
	}
	usable := o.Metadata != ""
	if err := d.p.Assign(part, PartitionSource(part), o.Metadata); err != nil {
		var shape *ShapeError
		if errors.As(err, &shape) {
			d.fatal = fmt.Errorf("partition %d: %w", part, err)
			return false
		}
		d.log.Warn("ignoring commit metadata of an unknown format", "err", err)
		_ = d.p.Assign(part, PartitionSource(part), "")
		usable = false
	}
	st := d.p.parts[part]
	if !usable {
		// Offsets reset with Kafka's tools, committed by another program, or
		// a first start: what was written before is unknown.
		st.guarded = true
		d.log.Warn("partition has no turnstile-stream commit metadata: starting with no watermark, and existing window files are kept, never replaced",
			"partition", part, "committed_offset", o.Offset)
	}
	st.run = d.newRun(max(o.Offset, -1))
	if n, now := st.partitions, int(d.partitions.Load()); n != 0 && now != 0 && n != now && now != d.cfg.AcceptPartitions {
		d.halt(fmt.Errorf("partition %d was last committed with the topic at %d partitions, and the topic has %d now", part, n, now))
		return false
	}
	// Every commit records the count, a guarded partition's (which is never
	// claimed) included.
	st.partitions = int(d.partitions.Load())
	return true
}

// claim commits, for each restored partition of offsets that has a
// committed offset and usable metadata, that offset again with the metadata
// of Processor.Claim: the next ownership epoch. The group accepts it only
// from the partition's current owner, and until it does the partition takes
// no record. A partition without a commit, or without usable metadata, keeps
// epoch 0: it only creates window files, never replaces one (guarded), so
// it needs no claim. A refused claim pauses the partitions (restore, retried
// by tick). It returns whether every claim was committed.
func (d *Driver) claim(ctx context.Context, offsets []Offset) bool {
	var claims []Offset
	for _, o := range offsets {
		st := d.p.parts[o.Part]
		if o.Offset < 0 || o.Metadata == "" || st == nil || st.guarded {
			continue
		}
		meta, err := d.p.Claim(o.Part)
		if err != nil {
			continue
		}
		claims = append(claims, Offset{Part: o.Part, Offset: o.Offset, Metadata: meta})
	}
	if len(claims) == 0 {
		return true
	}
	err := d.src.Claim(ctx, claims)
	if err == nil {
		for _, o := range claims {
			d.log.Debug("partition claimed", "partition", o.Part, "epoch", d.p.parts[o.Part].epoch)
		}
		return true
	}
	d.log.Warn("claiming the partitions failed (this consumer may have lost them to another): they take no records until a claim succeeds or a rebalance revokes them",
		"partitions", partList(claims), "err", err)
	for _, o := range claims {
		if st := d.p.parts[o.Part]; st != nil {
			d.restoreLater(st)
		}
	}
	return false
}

// committed fetches the committed offsets and metadata of the partitions,
// retrying until ctx is done: starting a partition without its metadata
// could rewrite a window file from a partial replay.
func (d *Driver) committed(ctx context.Context, parts []int32) ([]Offset, error) {
	for attempt := 1; ; attempt++ {
		got, err := d.src.Committed(ctx, parts)
		if err == nil {
			return got, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("fetch committed offsets (%d attempts): %w", attempt, err)
		}
		d.log.Warn("fetching committed offsets failed; retrying", "attempt", attempt, "err", err)
		if err := sleep(ctx, d.cfg.RetryBackoff); err != nil {
			return nil, fmt.Errorf("fetch committed offsets (%d attempts, last error: %v): %w", attempt, err, ctx.Err())
		}
	}
}

// countInterval is how often the watcher asks the source for the topic's
// partition count.
const countInterval = time.Second

// watchCounts asks the source for the topic's partition count every
// countInterval until stop is closed, on a goroutine of its own (a Kafka
// metadata request waits behind the fetches, which the loop must not). A
// changed count is handed to the loop through countChanged.
func (d *Driver) watchCounts(stop <-chan struct{}) {
	t := time.NewTicker(countInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := d.checkCount(ctx)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, errCountChanged):
			d.countChanged.Store(&err)
			return
		default:
			d.log.Debug("asking for the partition count failed", "err", err)
		}
	}
}

// errCountChanged is the error of checkCount when the topic's partition
// count is not the one the run is under.
var errCountChanged = errors.New("the topic's partition count changed")

// checkCount asks the source for the topic's partition count and returns an
// error wrapping errCountChanged when it is not the one the run is under.
// It is safe to call from any goroutine.
func (d *Driver) checkCount(ctx context.Context) error {
	want := int(d.partitions.Load())
	if want == 0 {
		return nil
	}
	n, err := d.src.PartitionCount(ctx)
	if err != nil {
		return fmt.Errorf("asking for the partition count: %w", err)
	}
	if n != want {
		return fmt.Errorf("%w: the topic grew from %d to %d partitions while this consumer ran", errCountChanged, want, n)
	}
	return nil
}

// checkCommittedCounts halts the run when any partition of the topic,
// assigned here or not, was last committed under another partition count
// than n (unless n is AcceptPartitions): a new partition's windows would
// then share keys with an old partition's.
func (d *Driver) checkCommittedCounts(ctx context.Context, n int) {
	if n == d.cfg.AcceptPartitions {
		return
	}
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	committed, err := d.committed(ctx, all)
	if err != nil {
		d.log.Warn("fetching the committed offsets of every partition failed; each assigned partition is still checked", "err", err)
		return
	}
	for _, o := range committed {
		if o.Metadata == "" {
			continue
		}
		m, err := ParseMetadata(o.Metadata)
		if err == nil && m.Partitions != 0 && m.Partitions != n {
			d.halt(fmt.Errorf("partition %d was last committed with the topic at %d partitions, and the topic has %d now", o.Part, m.Partitions, n))
			return
		}
	}
}

// halt stops taking records for good: a turnstile's records may now be
// split over two partitions, and a window written from either would hold a
// part of them. Nothing more is written or committed; the records since the
// last commits are read again by the consumer that starts after the
// procedure in docs/consumer.md, "Growing the topic".
func (d *Driver) halt(err error) {
	if d.halted != nil {
		return
	}
	d.halted = fmt.Errorf("%w: a turnstile's records may now be split over two partitions, so this consumer takes no more records, "+
		"writes no window and commits nothing (it is not ready); follow docs/consumer.md, \"Growing the topic\"", err)
	d.haltedFlag.Store(true)
	d.m.PartitionCountChanged(true)
	d.log.Error("partition count changed", "err", d.halted)
	var parts []int32
	for part := range d.p.parts {
		parts = append(parts, part)
	}
	if len(parts) > 0 {
		d.src.Pause(parts...)
	}
}
