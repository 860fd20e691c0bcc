package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
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
	// AcceptPartitions, when positive, accepts committed metadata recorded
	// under another partition count when the topic has exactly this many
	// partitions now: the last step of the procedure in docs/consumer.md,
	// "Growing the topic". Without it such a partition halts the consumer.
	AcceptPartitions int
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
	// haltedFlag mirrors halted != nil for Ready, which runs on the metrics
	// server's goroutine.
	haltedFlag atomic.Bool

	parts      map[int32]*partState
	lastCommit time.Time
	// commitFailures counts the commits that failed in a row; /readyz turns
	// not-ready at commitFailuresNotReady.
	commitFailures atomic.Int32
	fatal          error // set by a fatal emit error: Run returns it
	cooperative    bool  // the group's rebalance protocol is incremental

	pl     atomic.Pointer[poller] // the poll goroutine, while it runs
	fences map[int32]int          // seeks whose fence has not come through the stream yet

	// partitions is the topic's partition count the group runs under: the
	// count at the first assignment (0 until then). halted is set when the
	// topic's count changes, or a partition was consumed under another
	// count: the consumer then takes no more records, writes and commits
	// nothing, and is not ready (docs/consumer.md, "Growing the topic").
	partitions atomic.Int32
	halted     error
	// countChanged is set by the count watcher (watchCounts) when the
	// topic's partition count is not the one the group runs under; the loop
	// halts on it.
	countChanged atomic.Pointer[error]
	lastLoopRun  time.Time // when the loop last ran: a longer gap is not idle time

	close func() error // OpenGroup's: closes the consumer and the emitter
	auth  *auth        // OpenGroup's: answers OAUTHBEARER token refreshes (oauth.go)
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
	// restore is set (with paused) when the partition must be restored from
	// its last commit and claimed before it takes records: its committed
	// offsets could not be fetched, its claim was not accepted, a newer
	// owner's window file or an aborted transaction showed that this
	// consumer may have lost it. tick retries the restore; a rebalance that
	// revokes the partition ends it.
	restore bool
	// confirm is set after a gap in the loop (checkGap): before the idle
	// rule next advances the watermark, the broker, not the client's cache,
	// must say the partition is at the log end (atLogEnd).
	confirm bool
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
	c, auth, err := newConsumer(cm, cfg.Logger)
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
	g.auth = auth
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
	return k.ready.Load() && k.commitFailures.Load() < commitFailuresNotReady && !k.isHalted()
}

// isHalted reports whether the partition count changed (safe to call from
// any goroutine).
func (k *Group) isHalted() bool { return k.haltedFlag.Load() }

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
	if k.halted != nil {
		return k.halted
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
	// The count watcher uses the consumer's handle: Run waits for it to end
	// before it returns, so that it never runs into the consumer's Close.
	stopWatch, watchDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watchDone)
		k.watchCounts(stopWatch)
	}()
	defer func() {
		close(stopWatch)
		<-watchDone
	}()
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
		k.checkGap(now)
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
		if _, ok := it.ev.(ckafka.OAuthBearerTokenRefresh); ok {
			k.auth.refresh(k.c)
			return nil
		}
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
		if it.fence.err != nil {
			// A seek fails when the client no longer holds the partition:
			// it is restored again, or revoked by the coming rebalance.
			k.log.Warn("seeking the partition failed; it is restored again unless a rebalance revokes it", "partition", it.fence.part, "err", it.fence.err)
			if ps := k.parts[it.fence.part]; ps != nil {
				k.restoreLater(it.fence.part, ps)
			}
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
	if k.halted != nil {
		return // the partition count changed: no record is taken
	}
	ps, ok := k.parts[part]
	if !ok || !k.p.Owns(part) {
		// Fetched before the partition was dropped (a newer owner's file, a
		// revocation): not ours to handle.
		k.log.Debug("record from a partition not assigned here", "partition", part)
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
		k.failed(part, ps, err)
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
	if k.halted != nil {
		return
	}
	for part, ps := range k.parts {
		if ps.commitDue && !ps.paused && !k.p.Writing(part) {
			k.commit(ctx, part)
		}
	}
}

// failed handles a failed write of a partition: a window file of a newer
// owner means this consumer may have lost the partition, which is then
// restored from its last commit and claimed again (restoreLater); any other
// failure pauses it until a retry succeeds.
func (k *Group) failed(part int32, ps *partState, err error) {
	if errors.Is(err, errCountChanged) {
		k.halt(err)
		return
	}
	if errors.Is(err, lake.ErrFenced) {
		k.cfg.Metrics.PartitionFenced()
		k.log.Warn("a newer owner has written this partition's window files: dropping its state; it is restored from the last commit if this consumer still owns it",
			"partition", part, "epoch", k.p.Epoch(part), "err", err)
		k.restoreLater(part, ps)
		return
	}
	k.pause(part, ps, err)
}

// restoreLater drops a partition's state in the processor and pauses it in
// the client; tick restores it from its last commit and claims it again.
func (k *Group) restoreLater(part int32, ps *partState) {
	k.p.Revoke(part)
	if !ps.paused {
		if err := k.c.Pause([]ckafka.TopicPartition{k.tp(part, ckafka.OffsetInvalid)}); err != nil {
			k.log.Debug("pausing the partition failed", "partition", part, "err", err)
		}
		ps.paused = true
		k.cfg.Metrics.PartitionPaused()
	}
	ps.restore, ps.commitDue = true, false
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
	if !ps.paused || k.parts[part] != ps {
		return // restored or dropped meanwhile
	}
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

// tick retries a paused partition, applies the idle rule, updates lag,
// watches the topic's partition count, and commits on the interval. ctx
// bounds its writes (the loop's budget): one paused partition is retried per
// tick, so that a lake outage over many partitions cannot hold the loop
// longer than one write.
func (k *Group) tick(ctx context.Context, now time.Time) {
	if k.halted != nil {
		return
	}
	if err := k.countChanged.Load(); err != nil {
		k.halt(*err)
		return
	}
	k.commitDue(ctx)
	retried := false
	for part, ps := range k.parts {
		if !ps.paused {
			continue
		}
		if retried || now.Sub(ps.lastRecv) < k.cfg.RetryBackoff {
			continue
		}
		retried = true
		ps.lastRecv = now
		if ps.restore {
			k.restore(ctx, part)
		} else if k.commit(ctx, part) {
			k.unpause(part, ps)
		}
	}
	for _, part := range k.p.Partitions() {
		ps := k.parts[part]
		if ps == nil || ps.paused {
			continue
		}
		lag, known := k.lag(part, ps)
		if k.cfg.IdleClose <= 0 || !known || lag > 0 || !ps.caughtUp || now.Sub(ps.lastRecv) < k.cfg.IdleClose {
			continue
		}
		idle := now.Sub(ps.lastAdvance).Truncate(time.Second)
		if idle < time.Second || (ps.confirm && !k.atLogEnd(ctx, part)) {
			continue
		}
		ps.confirm = false
		ps.lastAdvance = ps.lastAdvance.Add(idle)
		wrote, err := k.p.Advance(ctx, part, idle)
		if err != nil {
			k.failed(part, ps, err)
		} else if wrote {
			k.log.Info("idle partition: watermark advanced by wall-clock time", "partition", part, "by", idle)
			k.commit(ctx, part)
		}
	}
	if now.Sub(k.lastCommit) >= k.cfg.CommitInterval {
		k.commitAll(ctx)
	}
}

// maxLoopGap is the longest gap between two turns of the loop that still
// counts as the stream's time. The loop turns at least every 100 ms unless a
// batch's writes hold it; a longer gap is time in which this consumer did
// not run (a freeze: a long GC pause, SIGSTOP, a VM migration) or did not
// watch the stream, and none of it is idle time of the stream.
const maxLoopGap = 5 * time.Second

// checkGap restarts the idle rule's clocks after a gap in the loop longer
// than maxLoopGap: what the consumer knew of the log end before the gap is
// stale, so each partition must be seen caught up again, and idle for
// IdleClose again, before the rule may advance its watermark.
func (k *Group) checkGap(now time.Time) {
	last := k.lastLoopRun
	k.lastLoopRun = now
	if last.IsZero() || now.Sub(last) <= maxLoopGap {
		return
	}
	k.log.Warn("the consumer did not run for a while (a freeze, a long pause, or slow writes): the idle rule starts over", "gap", now.Sub(last).Round(time.Millisecond))
	for _, ps := range k.parts {
		ps.lastRecv, ps.lastAdvance, ps.caughtUp, ps.confirm = now, now, false, true
	}
}

// atLogEnd asks the broker, not the client's cache, whether the partition
// has handled everything up to the log end: the idle rule's check after a
// gap in the loop, when what the cache says may predate the gap. (It is not
// asked on every advance: on the consumer's handle the request waits behind
// the fetches, up to fetch.wait.max.ms.)
func (k *Group) atLogEnd(ctx context.Context, part int32) bool {
	timeout := time.Until(deadline(ctx, 5*time.Second))
	if timeout <= 0 {
		return false
	}
	low, high, err := k.c.QueryWatermarkOffsets(k.cfg.Topic, part, int(timeout.Milliseconds())+1)
	if err != nil {
		k.log.Debug("querying the log end failed; the idle rule waits", "partition", part, "err", err)
		return false
	}
	next, ok := k.next(part, k.parts[part], low)
	return ok && next >= high
}

// deadline returns ctx's deadline, or now + d when that is sooner or ctx
// has none.
func deadline(ctx context.Context, d time.Duration) time.Time {
	at := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(at) {
		return dl
	}
	return at
}

// countInterval is how often the loop asks the broker for the topic's
// partition count.
const countInterval = time.Second

// partitionCount asks the broker for the topic's partition count.
func (k *Group) partitionCount(ctx context.Context) (int, error) {
	timeout := time.Until(deadline(ctx, 5*time.Second))
	if timeout <= 0 {
		return 0, ctx.Err()
	}
	topic := k.cfg.Topic
	md, err := k.c.GetMetadata(&topic, false, int(timeout.Milliseconds())+1)
	if err != nil {
		return 0, err
	}
	t, ok := md.Topics[topic]
	if !ok || t.Error.Code() != ckafka.ErrNoError {
		return 0, fmt.Errorf("topic %s: %v", topic, t.Error)
	}
	return len(t.Partitions), nil
}

// watchCounts asks the broker for the topic's partition count every
// countInterval until stop is closed, on a goroutine of its own: a metadata
// request on the consumer's handle waits behind its fetches (up to
// fetch.wait.max.ms), which the loop must not. A changed count is handed to
// the loop through countChanged.
func (k *Group) watchCounts(stop <-chan struct{}) {
	t := time.NewTicker(countInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := k.checkCount(ctx)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, errCountChanged):
			k.countChanged.Store(&err)
			return
		default:
			k.log.Debug("asking the broker for the partition count failed", "err", err)
		}
	}
}

// errCountChanged is the error of checkCount when the topic's partition
// count is not the one the group runs under.
var errCountChanged = errors.New("the topic's partition count changed")

// checkCount asks the broker for the topic's partition count and returns an
// error wrapping errCountChanged when it is not the one the group runs
// under. It is safe to call from any goroutine.
func (k *Group) checkCount(ctx context.Context) error {
	want := int(k.partitions.Load())
	if want == 0 {
		return nil
	}
	n, err := k.partitionCount(ctx)
	if err != nil {
		return fmt.Errorf("asking the broker for the partition count of %s: %w", k.cfg.Topic, err)
	}
	if n != want {
		return fmt.Errorf("%w: the topic %s grew from %d to %d partitions while this consumer ran", errCountChanged, k.cfg.Topic, want, n)
	}
	return nil
}

// checkCommittedCounts halts the consumer when any partition of the topic,
// assigned here or not, was last committed under another partition count
// than n (unless n is AcceptPartitions): a new partition's windows would
// then share keys with an old partition's.
func (k *Group) checkCommittedCounts(ctx context.Context, n int) {
	if n == k.cfg.AcceptPartitions {
		return
	}
	all := make([]ckafka.TopicPartition, n)
	for i := range all {
		all[i] = k.tp(int32(i), ckafka.OffsetInvalid)
	}
	committed, err := k.committed(ctx, all)
	if err != nil {
		k.log.Warn("fetching the committed offsets of every partition failed; each assigned partition is still checked", "err", err)
		return
	}
	for _, tp := range committed {
		if tp.Metadata == nil {
			continue
		}
		m, err := stream.ParseMetadata(*tp.Metadata)
		if err == nil && m.Partitions != 0 && m.Partitions != n {
			k.halt(fmt.Errorf("partition %d was last committed with the topic at %d partitions, and the topic has %d now", tp.Partition, m.Partitions, n))
			return
		}
	}
}

// halt stops taking records for good: a turnstile's records may now be
// split over two partitions, and a window written from either would hold a
// part of them. Nothing more is written or committed; the records since the
// last commits are read again by the consumer that starts after the
// procedure in docs/consumer.md, "Growing the topic".
func (k *Group) halt(err error) {
	if k.halted != nil {
		return
	}
	k.halted = fmt.Errorf("%w: a turnstile's records may now be split over two partitions, so this consumer takes no more records, "+
		"writes no window and commits nothing (it is not ready); follow docs/consumer.md, \"Growing the topic\"", err)
	k.haltedFlag.Store(true)
	k.cfg.Metrics.PartitionCountChanged(true)
	k.log.Error("partition count changed", "err", k.halted)
	var tps []ckafka.TopicPartition
	for part := range k.parts {
		tps = append(tps, k.tp(part, ckafka.OffsetInvalid))
	}
	if len(tps) > 0 {
		if err := k.c.Pause(tps); err != nil {
			k.log.Debug("pausing the partitions failed", "err", err)
		}
	}
}

// lag returns the partition's lag (the high watermark minus the next offset to
// handle) when it is known, from the client's cache, and notes when the
// partition has caught up with the log end since its assignment. Until its
// replay is done a restored partition is never caught up.
func (k *Group) lag(part int32, ps *partState) (int64, bool) {
	if k.p.Replaying(part) {
		return 0, false
	}
	low, high, err := k.c.GetWatermarkOffsets(k.cfg.Topic, part)
	if err != nil || high < 0 {
		return 0, false
	}
	next, ok := k.next(part, ps, low)
	if !ok {
		return 0, false
	}
	lag := max(high-next, 0)
	if lag == 0 {
		ps.caughtUp = true
	}
	k.cfg.Metrics.SetLag(part, lag)
	return lag, true
}

// next returns the next offset the partition will handle: after the last one
// handled, else the offset it resumed from, else the log start (low, for
// auto.offset.reset=earliest).
func (k *Group) next(part int32, ps *partState, low int64) (int64, bool) {
	if ps == nil {
		return 0, false
	}
	next := k.p.Position(part) + 1
	if next <= 0 { // nothing handled since the assignment
		next = ps.committed
		if next < 0 {
			next = low
		}
		if next < 0 {
			return 0, false
		}
	}
	return next, true
}

// commitAll commits every partition that is not paused, while ctx (the
// loop's budget) lasts; the rest wait for the next interval.
func (k *Group) commitAll(ctx context.Context) {
	k.lastCommit = k.cfg.Now()
	if k.halted != nil {
		return
	}
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
// then paused) or an aborted transaction restored the partition. A failed
// commit is logged and retried at the next checkpoint: nothing is lost, as
// the uncommitted records are replayed. An aborted emit transaction restores
// the partition from its last commit (restore); a fatal one stops Run. ctx bounds the
// writes and the transaction.
func (k *Group) commit(ctx context.Context, part int32) bool {
	if k.halted != nil {
		return true // nothing is committed once halted
	}
	if ps := k.parts[part]; ps != nil {
		ps.commitDue = false
	}
	cp, ok, err := k.p.Checkpoint(ctx, part)
	if err != nil {
		if ps := k.parts[part]; ps != nil {
			k.failed(part, ps, err)
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
		k.log.Warn("emit transaction aborted; restoring the partition from its last commit", "partition", part, "err", err)
		if ps := k.parts[part]; ps != nil {
			k.restoreLater(part, ps)
			k.restore(ctx, part)
		}
		return false // restored or still paused: not for the caller to resume
	default:
		k.cfg.Metrics.CommitError()
		k.commitFailures.Add(1)
		k.log.Warn("commit failed; will retry", "partition", part, "offset", cp.Offset, "err", err)
	}
	return true
}

// restore starts a partition over from its last commit, as a new owner
// would, and claims it: the committed offset and metadata are fetched, the
// processor restores the partition from them, the claim is committed, and
// the client seeks back to the committed offset and resumes. If this
// consumer no longer owns the partition, the group refuses the claim and
// the partition stays paused (ps.restore) until the rebalance that revokes
// it; a failed fetch or claim is retried by tick, never fatal. ctx bounds
// the broker calls.
func (k *Group) restore(ctx context.Context, part int32) {
	committed, err := k.committed(ctx, []ckafka.TopicPartition{k.tp(part, ckafka.OffsetInvalid)})
	if err != nil || len(committed) != 1 {
		k.log.Warn("restoring the partition from its last commit: fetching the committed offset failed; retrying", "partition", part, "err", err)
		return
	}
	k.p.Revoke(part)
	if !k.assign(committed[0]) {
		return // fatal: a shape or partition count that does not match
	}
	if !k.claim(ctx, committed) {
		return
	}
	offset := committed[0].Offset
	if offset < 0 {
		offset = ckafka.OffsetBeginning
	}
	k.seek(part, func() error {
		if err := k.c.Seek(k.tp(part, offset), 0); err != nil {
			return fmt.Errorf("seek partition %d to its committed offset %v: %w", part, offset, err)
		}
		if err := k.c.Resume([]ckafka.TopicPartition{k.tp(part, ckafka.OffsetInvalid)}); err != nil {
			k.log.Warn("resuming the restored partition failed", "partition", part, "err", err)
		}
		return nil
	})
	k.log.Info("partition restored from its last commit and claimed", "partition", part, "offset", offset, "epoch", k.p.Epoch(part))
}

// assign starts a partition in the processor from its committed offset and
// metadata, replacing its partState (unpaused). It returns false, with the
// consumer stopping (a fatal error) or halted, when the metadata was
// committed under another window shape or partition count.
func (k *Group) assign(tp ckafka.TopicPartition) bool {
	part := tp.Partition
	meta := ""
	if tp.Metadata != nil {
		meta = *tp.Metadata
	}
	usable := meta != ""
	if err := k.p.Assign(part, stream.Source(part), meta); err != nil {
		var shape *stream.ShapeError
		if errors.As(err, &shape) {
			k.fatal = fmt.Errorf("partition %d: %w", part, err)
			return false
		}
		k.log.Warn("ignoring commit metadata of an unknown format", "err", err)
		_ = k.p.Assign(part, stream.Source(part), "")
		usable = false
	}
	if !usable {
		// Offsets reset with Kafka's tools, committed by another program, or
		// a first start: what was written before is unknown.
		k.p.Guard(part)
		k.log.Warn("partition has no turnstile-stream commit metadata: starting with no watermark, and existing window files are kept, never replaced",
			"partition", part, "committed_offset", tp.Offset)
	}
	if old := k.parts[part]; old != nil && old.paused {
		k.cfg.Metrics.PartitionResumed()
	}
	now := k.cfg.Now()
	k.parts[part] = &partState{lastRecv: now, lastAdvance: now, committed: max(int64(tp.Offset), -1)}
	if n, now := k.p.CommittedPartitions(part), int(k.partitions.Load()); n != 0 && now != 0 && n != now && now != k.cfg.AcceptPartitions {
		k.halt(fmt.Errorf("partition %d was last committed with the topic at %d partitions, and the topic has %d now", part, n, now))
		return false
	}
	// Every commit records the count, a guarded partition's (which is never
	// claimed) included.
	k.p.SetPartitionCount(part, int(k.partitions.Load()))
	return true
}

// claim commits, for each restored partition of tps that has a committed
// offset and usable metadata, that offset again with the metadata of
// Processor.Claim: the next ownership epoch. The group accepts it only from
// the partition's current owner, and until it does the partition takes no
// record. A partition without a commit, or without usable metadata, keeps
// epoch 0: it only creates window files, never replaces one (Guard), so it
// needs no claim. A refused claim pauses the partitions (restore, retried
// by tick). It returns whether every claim was committed.
func (k *Group) claim(ctx context.Context, tps []ckafka.TopicPartition) bool {
	var offsets []ckafka.TopicPartition
	for _, tp := range tps {
		if tp.Offset < 0 || tp.Metadata == nil || *tp.Metadata == "" || !k.p.Owns(tp.Partition) || k.p.Guarded(tp.Partition) {
			continue
		}
		meta, err := k.p.Claim(tp.Partition)
		if err != nil {
			continue
		}
		claim := k.tp(tp.Partition, tp.Offset)
		claim.Metadata = &meta
		offsets = append(offsets, claim)
	}
	if len(offsets) == 0 {
		return true
	}
	_, err := k.c.CommitOffsets(offsets)
	if err == nil {
		for _, tp := range offsets {
			k.log.Debug("partition claimed", "partition", tp.Partition, "epoch", k.p.Epoch(tp.Partition))
		}
		return true
	}
	k.log.Warn("claiming the partitions failed (this consumer may have lost them to another): they take no records until a claim succeeds or a rebalance revokes them",
		"partitions", partitionList(offsets), "err", err)
	for _, tp := range offsets {
		if ps := k.parts[tp.Partition]; ps != nil {
			k.restoreLater(tp.Partition, ps)
		}
	}
	return false
}

// rebalance runs inside Poll. On assignment it restores each partition from
// the metadata committed with its offset, and claims it; on revocation it
// commits and forgets the partitions. Both eager and cooperative
// (incremental) protocols are supported: with cooperative-sticky, only the
// partitions in the event are added or removed. ctx is Run's: once it is
// cancelled, an assignment stops waiting for the committed offsets and takes
// no partition. Every broker call here is bounded by WriteTimeout, so the
// handler never holds the poll longer.
func (k *Group) rebalance(ctx context.Context, c *ckafka.Consumer, ev ckafka.Event) error {
	k.cooperative = c.GetRebalanceProtocol() == "COOPERATIVE"
	budget, cancel := context.WithTimeout(ctx, k.cfg.WriteTimeout)
	defer cancel()
	switch e := ev.(type) {
	case ckafka.AssignedPartitions:
		if ctx.Err() != nil {
			// Run is stopping (or the consumer closing): the client takes
			// the assignment, so that its close goes on (a close that meets
			// an assignment the callback refused hangs), but the processor
			// owns none of the partitions: their records are ignored and
			// nothing of theirs is committed.
			k.log.Info("stopping: the assigned partitions are not restored", "partitions", partitionList(e.Partitions))
			if k.cooperative {
				return c.IncrementalAssign(e.Partitions)
			}
			return c.Assign(e.Partitions)
		}
		// Asked before the assignment starts fetches, which a metadata
		// request on this handle would wait behind.
		count, cerr := k.partitionCount(budget)
		var err error
		if k.cooperative {
			err = c.IncrementalAssign(e.Partitions)
		} else {
			err = c.Assign(e.Partitions)
		}
		if err != nil {
			return err
		}
		// A partition paused here before it was lost must not stay paused
		// in the client: its new state starts unpaused.
		if rerr := c.Resume(e.Partitions); rerr != nil {
			k.log.Warn("resuming the assigned partitions failed", "partitions", partitionList(e.Partitions), "err", rerr)
		}
		if cerr != nil {
			k.log.Warn("asking the broker for the partition count failed", "err", cerr)
		} else if k.partitions.Load() == 0 {
			k.partitions.Store(int32(count))
			k.checkCommittedCounts(budget, count)
		} else if count != int(k.partitions.Load()) {
			k.halt(fmt.Errorf("the topic %s has %d partitions, and this consumer started with %d", k.cfg.Topic, count, k.partitions.Load()))
		}
		committed, err := k.committed(budget, e.Partitions)
		if err != nil {
			if ctx.Err() != nil {
				// Run is stopping: the processor owns none of the
				// partitions, so their records are ignored and nothing of
				// theirs is committed.
				k.log.Warn("stopping before the assigned partitions were restored", "partitions", partitionList(e.Partitions), "err", err)
				return nil
			}
			k.log.Error("fetching the committed offsets of the assigned partitions failed within the poll budget: they take no records until a restore succeeds",
				"partitions", partitionList(e.Partitions), "budget", k.cfg.WriteTimeout, "err", err)
			now := k.cfg.Now()
			for _, tp := range e.Partitions {
				ps := &partState{lastRecv: now, lastAdvance: now, committed: -1}
				k.parts[tp.Partition] = ps
				k.restoreLater(tp.Partition, ps)
			}
			return nil
		}
		for _, tp := range committed {
			if !k.assign(tp) {
				break
			}
		}
		k.log.Info("partitions assigned", "partitions", partitionList(e.Partitions), "incremental", k.cooperative)
		if k.fatal == nil && k.halted == nil {
			// A halted consumer claims nothing: a claim would record the
			// new partition count and hide the change from the next start.
			k.claim(budget, committed)
		}
		if k.halted != nil || k.fatal != nil {
			if perr := c.Pause(e.Partitions); perr != nil {
				k.log.Debug("pausing the partitions failed", "err", perr)
			}
		}
		return nil
	case ckafka.RevokedPartitions:
		if c.AssignmentLost() {
			k.log.Warn("assignment lost: not committing; the next owner replays from the last commit", "partitions", partitionList(e.Partitions))
		} else {
			for _, tp := range e.Partitions {
				if ps := k.parts[tp.Partition]; ps != nil && !ps.paused && budget.Err() == nil {
					k.commit(budget, tp.Partition)
				}
			}
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
// retrying until ctx is done: starting a partition without its metadata
// could rewrite a window file from a partial replay.
func (k *Group) committed(ctx context.Context, parts []ckafka.TopicPartition) ([]ckafka.TopicPartition, error) {
	for attempt := 1; ; attempt++ {
		timeout := time.Until(deadline(ctx, 10*time.Second))
		if timeout <= 0 {
			return nil, fmt.Errorf("fetch committed offsets: %w", context.DeadlineExceeded)
		}
		got, err := k.c.Committed(parts, int(timeout.Milliseconds())+1)
		if err == nil {
			return got, nil
		}
		k.log.Warn("fetching committed offsets failed; retrying", "attempt", attempt, "err", err)
		if err := sleep(ctx, k.cfg.RetryBackoff); err != nil {
			return nil, fmt.Errorf("fetch committed offsets (%d attempts, last error: %v): %w", attempt, err, ctx.Err())
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
