package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/stream"
)

// GroupConfig configures OpenGroup and NewGroup.
type GroupConfig struct {
	// Props, Group, Client and InstanceID make OpenGroup's consumer
	// (groupConfig); EmitTopic and TransactionalID its emit producer, when
	// EmitTopic is set (emitConfig). NewGroup ignores them.
	Props                      Properties
	Group, Client, InstanceID  string
	EmitTopic, TransactionalID string

	Topic string
	// CommitInterval is how often partitions with new records are committed
	// when no window closes (side outputs are written first).
	CommitInterval time.Duration
	// IdleClose: when a caught-up partition has received nothing for this long
	// (wall clock), its watermark advances by the idle time that has elapsed.
	// Zero disables the rule.
	IdleClose time.Duration
	// RetryBackoff is the pause between attempts to write windows after a lake
	// error; the stream waits rather than lose data.
	RetryBackoff time.Duration
	// WriteTimeout bounds the lake and dead-letter writes (and the emit
	// transaction) done between two polls, so that the group always sees a
	// live member: keep it well under max.poll.interval.ms (see
	// WriteTimeoutFor). A write that runs out of time pauses its partition
	// until a retry succeeds.
	WriteTimeout time.Duration
	Logger       *slog.Logger
	Metrics      *stream.Metrics
	Now          func() time.Time // the wall clock, injectable for tests
	// Emit, when set, publishes the rows of closed windows in a transaction
	// with the offsets instead of committing offsets alone. The Processor
	// must keep rows (stream.Config.KeepRows). OpenGroup sets it from
	// EmitTopic.
	Emit *Emitter
	// WindowSize dates the window_start header of emitted rows.
	WindowSize time.Duration
}

// commitFailuresNotReady is how many commits in a row may fail before /readyz
// reports the consumer not ready.
const commitFailuresNotReady = 3

// Group runs a stream.Processor over the partitions a consumer group
// assigns: the consumer's Kafka source, and its commit protocol
// (docs/consumer.md).
type Group struct {
	c     *ckafka.Consumer
	p     *stream.Processor
	cfg   GroupConfig
	log   *slog.Logger
	ready atomic.Bool

	parts      map[int32]*partState
	lastCommit time.Time
	// commitFailures counts the commits that failed in a row; /readyz turns
	// not-ready at commitFailuresNotReady.
	commitFailures atomic.Int32
	fatal          error // set by a fatal emit error: Run returns it
	cooperative    bool  // the group's rebalance protocol is incremental

	pl     atomic.Pointer[poller] // the poll goroutine, while it runs
	fences map[int32]int          // seeks whose fence has not come through the stream yet

	close func() error // OpenGroup's: closes the consumer and the emitter
}

// partState is the poll loop's view of one assigned partition.
type partState struct {
	lastRecv    time.Time // wall time of the last record, or of the assignment
	lastAdvance time.Time // wall time up to which idle time was applied
	// committed is the offset the partition resumed from (-1 when none was
	// committed): the next offset to read before any record is handled.
	committed int64
	// caughtUp is set once the partition has read up to the log end since it
	// was assigned; only then may the idle rule advance its watermark.
	caughtUp bool
	// paused is set while a lake or dead-letter write of the partition keeps
	// failing: the partition is paused and records that were already fetched
	// are dropped, to be read again from the position after the last handled
	// record once a retry succeeds.
	paused bool
	// commitDue is set when a record closed windows whose files are still
	// being written behind: the partition commits once they are durable.
	commitDue bool
}

// OpenGroup creates the group's consumer (groupConfig) and, when
// cfg.EmitTopic is set, its emit producer (emitConfig, NewEmitter), routes
// their librdkafka logs to cfg.Logger, and wires them to p. A configuration
// librdkafka refuses is a *ConfigError. Close releases the clients.
func OpenGroup(ctx context.Context, p *stream.Processor, cfg GroupConfig) (*Group, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cm := groupConfig(cfg.Props, cfg.Group, cfg.Client, cfg.InstanceID)
	c, err := ckafka.NewConsumer(&cm)
	if err != nil {
		return nil, &ConfigError{What: "kafka", Err: err}
	}
	logsDone := forwardLogs(c.Logs(), cfg.Logger)
	closeConsumer := func() error {
		err := c.Close()
		<-logsDone
		return err
	}
	if cfg.EmitTopic != "" {
		metrics := cfg.Metrics
		if metrics == nil {
			metrics = p.Metrics()
		}
		cfg.Emit, err = NewEmitter(ctx, emitConfig(cfg.Props, cfg.Client, cfg.TransactionalID), cfg.EmitTopic, cfg.Logger, metrics)
		if err != nil {
			_ = closeConsumer()
			return nil, err
		}
	}
	g := NewGroup(c, p, cfg)
	g.close = func() error {
		err := closeConsumer()
		if cfg.Emit != nil {
			cfg.Emit.Close()
		}
		return err
	}
	return g, nil
}

// Close closes the clients OpenGroup made: the consumer (its error is
// returned), then the emit producer. Call it after Run has returned.
func (k *Group) Close() error {
	if k.close == nil {
		return nil
	}
	return k.close()
}

// NewGroup wires a subscribed-to-be consumer to a Processor.
func NewGroup(c *ckafka.Consumer, p *stream.Processor, cfg GroupConfig) *Group {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = p.Metrics()
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
	return &Group{c: c, p: p, cfg: cfg, log: cfg.Logger, parts: make(map[int32]*partState), fences: make(map[int32]int)}
}

// Ready reports whether the consumer has subscribed, is polling, and its
// commits are not failing in a row.
func (k *Group) Ready() bool {
	return k.ready.Load() && k.commitFailures.Load() < commitFailuresNotReady
}

// Run subscribes and processes records until ctx is cancelled, then writes
// what is safe, commits and returns nil. It returns an error for a fatal
// client error or a fatal emit-transaction error (a fenced producer).
func (k *Group) Run(ctx context.Context) error {
	rebalance := func(c *ckafka.Consumer, ev ckafka.Event) error {
		if pl := k.pl.Load(); pl != nil {
			return pl.rebalance(ev) // on the poll goroutine: Run's goroutine handles it
		}
		return k.rebalance(ctx, c, ev)
	}
	if err := k.c.SubscribeTopics([]string{k.cfg.Topic}, rebalance); err != nil {
		return fmt.Errorf("subscribe to %s: %w", k.cfg.Topic, err)
	}
	k.ready.Store(true)
	defer k.ready.Store(false)
	k.lastCommit = k.cfg.Now()
	return k.loop(ctx)
}

// stop ends Run: unless an error is fatal, it writes what is safe and
// commits.
func (k *Group) stop(ctx context.Context) error {
	if k.fatal != nil {
		return k.fatal
	}
	k.log.Info("stopping: writing closed windows and side outputs, then committing")
	final, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.WriteTimeout)
	defer cancelFinal()
	k.commitAll(final)
	return k.fatal
}

// loop is Run's loop: a poll goroutine (poller.go) hands records over in
// batches, and this goroutine handles them. The writes of one batch share one
// budget of WriteTimeout, so that the poll goroutine, which waits when the
// loop falls 4 batches behind, never leaves the group without a poll for
// longer than that.
func (k *Group) loop(ctx context.Context) error {
	pl := newPoller(k.c)
	k.pl.Store(pl)
	go pl.run()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	lastTick := k.cfg.Now()
	var (
		rest   []pollItem // items not handled when the loop stopped
		runErr error
	)
loop:
	for ctx.Err() == nil && k.fatal == nil {
		var items []pollItem
		select {
		case items = <-pl.out:
		case <-ticker.C:
		case <-ctx.Done():
			break loop
		}
		now := k.cfg.Now()
		budget, cancel := context.WithTimeout(ctx, k.cfg.WriteTimeout)
		rest, runErr = k.items(ctx, budget, items, now)
		if runErr == nil && k.fatal == nil {
			k.commitDue(budget)
			if now.Sub(lastTick) >= 500*time.Millisecond && k.fatal == nil {
				lastTick = now
				k.tick(budget, now)
			}
		}
		cancel()
		if runErr != nil {
			break
		}
	}
	// Stop the poll goroutine; a rebalance it hands over meanwhile is still
	// handled, records are dropped (they are not committed).
	close(pl.stop)
	for _, it := range rest {
		k.drain(ctx, it)
	}
	for items := range pl.out {
		for _, it := range items {
			k.drain(ctx, it)
		}
	}
	k.pl.Store(nil)
	if runErr != nil {
		return runErr
	}
	return k.stop(ctx)
}

// items handles a batch of the poll goroutine's stream, each item's writes
// bounded by budget. When an item fails or is fatal, it returns the items
// after it, unhandled, and the failure.
func (k *Group) items(ctx, budget context.Context, items []pollItem, now time.Time) ([]pollItem, error) {
	for i, it := range items {
		if err := k.item(ctx, budget, it, now); err != nil || k.fatal != nil {
			return items[i+1:], err
		}
	}
	return nil, nil
}

// item handles one entry of the poll goroutine's stream. It returns an error
// for a fatal client error.
func (k *Group) item(ctx, budget context.Context, it pollItem, now time.Time) error {
	switch {
	case it.msg != nil:
		e := it.msg
		if e.TopicPartition.Error != nil {
			k.log.Warn("message error", "partition", e.TopicPartition.Partition, "err", e.TopicPartition.Error)
			return nil
		}
		if k.fences[e.TopicPartition.Partition] > 0 {
			return nil // fetched before a seek of its partition
		}
		k.handle(budget, e, now)
	case it.ev != nil:
		if e, ok := it.ev.(ckafka.Error); ok {
			if e.IsFatal() {
				return fmt.Errorf("kafka: fatal error: %w", e)
			}
			k.log.Warn("kafka client error (retrying)", "code", e.Code().String(), "err", e)
		}
	default:
		k.drain(ctx, it)
	}
	return nil
}

// drain handles the entries that do not carry records: rebalances and the
// fences of seeks.
func (k *Group) drain(ctx context.Context, it pollItem) {
	switch {
	case it.rebalance != nil:
		it.rebalance.done <- k.rebalance(ctx, k.c, it.rebalance.ev)
	case it.fence != nil:
		if k.fences[it.fence.part]--; k.fences[it.fence.part] <= 0 {
			delete(k.fences, it.fence.part)
		}
		if it.fence.err != nil && k.fatal == nil {
			k.fatal = it.fence.err
		}
	}
}

// seek runs do, a seek of a partition and what goes with it, on the poll
// goroutine between two polls, and drops the partition's records fetched
// before it; without a poll goroutine, it runs do now. An error from do is
// fatal.
func (k *Group) seek(part int32, do func() error) {
	if pl := k.pl.Load(); pl != nil {
		k.fences[part]++
		pl.call(part, do)
		return
	}
	if err := do(); err != nil && k.fatal == nil {
		k.fatal = err
	}
}

// handle processes one record received at now. ctx bounds its writes (the
// loop's budget).
func (k *Group) handle(ctx context.Context, msg *ckafka.Message, now time.Time) {
	part := msg.TopicPartition.Partition
	ps, ok := k.parts[part]
	if !ok || !k.p.Owns(part) {
		k.log.Warn("record from a partition not assigned here", "partition", part)
		return
	}
	if ps.paused {
		return // fetched before the pause; read again after the resume
	}
	wrote, err := k.p.Handle(ctx, part, int64(msg.TopicPartition.Offset), msg.Value)
	if wrote || err != nil {
		now = k.cfg.Now() // writes may have taken a while
	}
	ps.lastRecv, ps.lastAdvance = now, now
	if err != nil {
		k.pause(part, ps, err)
		return
	}
	if wrote {
		// Commit once the window files are durable: at once when they are
		// already written, else after a later batch (commitDue), so that
		// encoding and writing them overlap with the next records.
		if k.p.Writing(part) {
			ps.commitDue = true
		} else {
			k.commit(ctx, part)
		}
	}
}

// commitDue commits the partitions whose window files, handed to the
// write-behind, have all been written since a record closed them.
func (k *Group) commitDue(ctx context.Context) {
	for part, ps := range k.parts {
		if ps.commitDue && !ps.paused && !k.p.Writing(part) {
			k.commit(ctx, part)
		}
	}
}

// pause stops fetching a partition whose lake or dead-letter writes fail, so
// that the loop keeps polling (the group sees a live member) while tick
// retries the writes.
func (k *Group) pause(part int32, ps *partState, err error) {
	k.log.Error("writing to the lake or the dead-letter topic failed; partition paused, retrying (the stream waits rather than lose data)", "partition", part, "err", err)
	if ps.paused {
		return
	}
	if perr := k.c.Pause([]ckafka.TopicPartition{k.tp(part, ckafka.OffsetInvalid)}); perr != nil {
		k.log.Warn("pausing the partition failed; its records are dropped until the retry succeeds", "partition", part, "err", perr)
	}
	ps.paused = true
	k.cfg.Metrics.PartitionPaused()
}

// unpause resumes a paused partition from the record after the last one
// handled: the records fetched meanwhile were dropped.
func (k *Group) unpause(part int32, ps *partState) {
	next := k.p.Position(part) + 1
	if next <= 0 {
		next = ps.committed
	}
	k.seek(part, func() error {
		if next >= 0 {
			if err := k.c.Seek(k.tp(part, ckafka.Offset(next)), 0); err != nil {
				k.log.Warn("seeking the resumed partition failed", "partition", part, "offset", next, "err", err)
			}
		}
		if err := k.c.Resume([]ckafka.TopicPartition{k.tp(part, ckafka.OffsetInvalid)}); err != nil {
			k.log.Warn("resuming the partition failed", "partition", part, "err", err)
		}
		return nil
	})
	ps.paused = false
	k.cfg.Metrics.PartitionResumed()
	k.log.Info("writes succeed again; partition resumed", "partition", part, "offset", next)
}

func (k *Group) tp(part int32, offset ckafka.Offset) ckafka.TopicPartition {
	topic := k.cfg.Topic
	return ckafka.TopicPartition{Topic: &topic, Partition: part, Offset: offset}
}

// tick retries a paused partition, applies the idle rule, updates lag, and
// commits on the interval. ctx bounds its writes (the loop's budget): one
// paused partition is retried per tick, so that a lake outage over many
// partitions cannot hold the loop longer than one write.
func (k *Group) tick(ctx context.Context, now time.Time) {
	k.commitDue(ctx)
	retried := false
	for _, part := range k.p.Partitions() {
		ps := k.parts[part]
		if ps == nil {
			continue
		}
		if ps.paused {
			if retried || now.Sub(ps.lastRecv) < k.cfg.RetryBackoff {
				continue
			}
			retried = true
			ps.lastRecv = now
			if k.commit(ctx, part) {
				k.unpause(part, ps)
			}
			continue
		}
		lag, known := k.lag(part, ps)
		if k.cfg.IdleClose <= 0 || !known || lag > 0 || !ps.caughtUp || now.Sub(ps.lastRecv) < k.cfg.IdleClose {
			continue
		}
		idle := now.Sub(ps.lastAdvance).Truncate(time.Second)
		if idle < time.Second {
			continue
		}
		ps.lastAdvance = ps.lastAdvance.Add(idle)
		wrote, err := k.p.Advance(ctx, part, idle)
		if err != nil {
			k.pause(part, ps, err)
		} else if wrote {
			k.log.Info("idle partition: watermark advanced by wall-clock time", "partition", part, "by", idle)
			k.commit(ctx, part)
		}
	}
	if now.Sub(k.lastCommit) >= k.cfg.CommitInterval {
		k.commitAll(ctx)
	}
}

// lag returns the partition's lag (the high watermark minus the next offset to
// handle) when it is known, and notes when the partition has caught up with
// the log end since its assignment. Until its replay is done a restored
// partition is never caught up.
func (k *Group) lag(part int32, ps *partState) (int64, bool) {
	if k.p.Replaying(part) {
		return 0, false
	}
	low, high, err := k.c.GetWatermarkOffsets(k.cfg.Topic, part)
	if err != nil || high < 0 {
		return 0, false
	}
	next := k.p.Position(part) + 1
	if next <= 0 { // nothing handled since the assignment
		next = ps.committed
		if next < 0 {
			next = low // auto.offset.reset=earliest
		}
		if next < 0 {
			return 0, false
		}
	}
	lag := max(high-next, 0)
	if lag == 0 {
		ps.caughtUp = true
	}
	k.cfg.Metrics.SetLag(part, lag)
	return lag, true
}

// commitAll commits every partition that is not paused, while ctx (the
// loop's budget) lasts; the rest wait for the next interval.
func (k *Group) commitAll(ctx context.Context) {
	k.lastCommit = k.cfg.Now()
	for _, part := range k.p.Partitions() {
		if ctx.Err() != nil {
			return
		}
		if ps := k.parts[part]; ps != nil && !ps.paused {
			k.commit(ctx, part)
		}
	}
}

// commit writes the partition's side outputs and commits its checkpoint. It
// returns false when a lake or dead-letter write failed (the partition is
// then paused). A failed commit is logged and retried at the next checkpoint:
// nothing is lost, as the uncommitted records are replayed. An aborted emit
// transaction rewinds the partition; a fatal one stops Run. ctx bounds the
// writes and the transaction.
func (k *Group) commit(ctx context.Context, part int32) bool {
	if ps := k.parts[part]; ps != nil {
		ps.commitDue = false
	}
	cp, ok, err := k.p.Checkpoint(ctx, part)
	if err != nil {
		if ps := k.parts[part]; ps != nil {
			k.pause(part, ps, err)
		}
		return false
	}
	if !ok {
		return true
	}
	offsets := []ckafka.TopicPartition{k.tp(part, ckafka.Offset(cp.Offset))}
	offsets[0].Metadata = &cp.Metadata
	if k.cfg.Emit != nil {
		var meta *ckafka.ConsumerGroupMetadata
		if meta, err = k.c.GetConsumerGroupMetadata(); err == nil {
			err = k.cfg.Emit.Commit(ctx, meta, k.cfg.WindowSize, cp.Rows, offsets)
		}
	} else {
		_, err = k.c.CommitOffsets(offsets)
	}
	switch {
	case err == nil:
		k.p.Committed(part)
		k.commitFailures.Store(0)
		k.cfg.Metrics.Commit()
		k.log.Debug("committed", "partition", part, "offset", cp.Offset, "metadata", cp.Metadata)
	case errors.Is(err, ErrFatal):
		k.cfg.Metrics.CommitError()
		k.fatal = err
	case errors.Is(err, ErrAborted):
		k.cfg.Metrics.CommitError()
		k.commitFailures.Add(1)
		k.log.Warn("emit transaction aborted; rewinding the partition to its last commit", "partition", part, "err", err)
		k.rewind(ctx, part)
	default:
		k.cfg.Metrics.CommitError()
		k.commitFailures.Add(1)
		k.log.Warn("commit failed; will retry", "partition", part, "offset", cp.Offset, "err", err)
	}
	return true
}

// rewind restores a partition to its last committed state, as a new owner
// would: the processor forgets it and restores it from the committed offset
// and metadata, and the consumer seeks back to that offset.
func (k *Group) rewind(ctx context.Context, part int32) {
	committed, err := k.committed(ctx, []ckafka.TopicPartition{k.tp(part, ckafka.OffsetInvalid)})
	if err != nil || len(committed) != 1 {
		k.fatal = fmt.Errorf("rewind partition %d after an aborted transaction: %w", part, err)
		return
	}
	k.p.Revoke(part)
	k.assign(committed[0], k.cfg.Now())
	offset := committed[0].Offset
	if offset < 0 {
		offset = ckafka.OffsetBeginning
	}
	k.seek(part, func() error {
		if err := k.c.Seek(k.tp(part, offset), 0); err != nil {
			return fmt.Errorf("rewind partition %d to offset %v after an aborted transaction: %w", part, offset, err)
		}
		return nil
	})
}

// assign starts a partition in the processor from its committed offset and
// metadata.
func (k *Group) assign(tp ckafka.TopicPartition, now time.Time) {
	meta := ""
	if tp.Metadata != nil {
		meta = *tp.Metadata
	}
	usable := meta != ""
	if err := k.p.Assign(tp.Partition, stream.Source(tp.Partition), meta); err != nil {
		k.log.Warn("ignoring commit metadata of an unknown format", "err", err)
		_ = k.p.Assign(tp.Partition, stream.Source(tp.Partition), "")
		usable = false
	}
	if !usable {
		// Offsets reset with Kafka's tools, committed by another program, or
		// a first start: what was written before is unknown.
		k.p.Guard(tp.Partition)
		k.log.Warn("partition has no turnstile-stream commit metadata: starting with no watermark, and existing window files are kept, never replaced",
			"partition", tp.Partition, "committed_offset", tp.Offset)
	}
	if old := k.parts[tp.Partition]; old != nil && old.paused {
		k.cfg.Metrics.PartitionResumed()
	}
	k.parts[tp.Partition] = &partState{lastRecv: now, lastAdvance: now, committed: max(int64(tp.Offset), -1)}
}

// rebalance runs inside Poll. On assignment it restores each partition from
// the metadata committed with its offset; on revocation it commits and
// forgets the partitions. Both eager and cooperative (incremental) protocols
// are supported: with cooperative-sticky, only the partitions in the event
// are added or removed. ctx is Run's: once it is cancelled, an assignment
// stops waiting for the committed offsets and takes no partition.
func (k *Group) rebalance(ctx context.Context, c *ckafka.Consumer, ev ckafka.Event) error {
	k.cooperative = c.GetRebalanceProtocol() == "COOPERATIVE"
	switch e := ev.(type) {
	case ckafka.AssignedPartitions:
		committed, err := k.committed(ctx, e.Partitions)
		if err != nil {
			// Run is stopping. The client assigns the partitions itself when
			// the callback does not, but the processor owns none of them, so
			// their records are ignored and nothing of theirs is committed.
			k.log.Warn("stopping before the assigned partitions were restored", "partitions", partitionList(e.Partitions), "err", err)
			return err
		}
		now := k.cfg.Now()
		for _, tp := range committed {
			k.assign(tp, now)
		}
		k.log.Info("partitions assigned", "partitions", partitionList(e.Partitions), "incremental", k.cooperative)
		if k.cooperative {
			err = c.IncrementalAssign(e.Partitions)
		} else {
			err = c.Assign(e.Partitions)
		}
		if err == nil {
			// A partition paused here before it was lost must not stay paused
			// in the client: its new state starts unpaused.
			if rerr := c.Resume(e.Partitions); rerr != nil {
				k.log.Warn("resuming the assigned partitions failed", "partitions", partitionList(e.Partitions), "err", rerr)
			}
		}
		return err
	case ckafka.RevokedPartitions:
		if c.AssignmentLost() {
			k.log.Warn("assignment lost: not committing; the next owner replays from the last commit", "partitions", partitionList(e.Partitions))
		} else {
			budget, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.WriteTimeout)
			for _, tp := range e.Partitions {
				if ps := k.parts[tp.Partition]; ps != nil && !ps.paused && budget.Err() == nil {
					k.commit(budget, tp.Partition)
				}
			}
			cancel()
		}
		for _, tp := range e.Partitions {
			k.p.Revoke(tp.Partition)
			if ps := k.parts[tp.Partition]; ps != nil && ps.paused {
				k.cfg.Metrics.PartitionResumed()
			}
			delete(k.parts, tp.Partition)
		}
		k.log.Info("partitions revoked", "partitions", partitionList(e.Partitions), "incremental", k.cooperative)
		if k.cooperative {
			return c.IncrementalUnassign(e.Partitions)
		}
		return c.Unassign()
	}
	return nil
}

// committed fetches the committed offsets and metadata of the partitions,
// retrying until ctx is cancelled: starting a partition without its metadata
// could rewrite a window file from a partial replay.
func (k *Group) committed(ctx context.Context, parts []ckafka.TopicPartition) ([]ckafka.TopicPartition, error) {
	for attempt := 1; ; attempt++ {
		got, err := k.c.Committed(parts, 10000)
		if err == nil {
			return got, nil
		}
		k.log.Warn("fetching committed offsets failed; retrying", "attempt", attempt, "err", err)
		if err := sleep(ctx, k.cfg.RetryBackoff); err != nil {
			return nil, fmt.Errorf("fetch committed offsets: %w", err)
		}
	}
}

func partitionList(tps []ckafka.TopicPartition) []int32 {
	out := make([]int32, len(tps))
	for i, tp := range tps {
		out[i] = tp.Partition
	}
	return out
}

// sleep waits for d or until ctx is done, and then returns ctx.Err(): the
// package's one context-aware wait.
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
