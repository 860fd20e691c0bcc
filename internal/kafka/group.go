package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/stream"
)

// GroupConfig holds the client settings of OpenGroup: the consumer group's
// Kafka clients. The rules of the run are the stream.Driver's
// (stream.DriverConfig).
type GroupConfig struct {
	// Props, Group, Client and InstanceID make the consumer (groupConfig);
	// EmitTopic and TransactionalID its emit producer, when EmitTopic is
	// set (emitConfig).
	Props                      Properties
	Group, Client, InstanceID  string
	EmitTopic, TransactionalID string
	Topic                      string
	Logger                     *slog.Logger
}

// Group is the consumer group's stream.Source: it subscribes to the topic,
// hands records and rebalances to a stream.Driver in batches from the poll
// goroutine (poller.go), and commits what the Driver checkpoints, in an emit
// transaction when the group publishes closed windows (Emitter).
type Group struct {
	c           *ckafka.Consumer
	topic       string
	emit        *Emitter // nil: offsets are committed alone
	log         *slog.Logger
	cooperative bool // the group's rebalance protocol is incremental

	pl      atomic.Pointer[poller] // the poll goroutine, while it runs
	fences  map[int32]int          // seeks whose fence has not come through the stream yet
	pending *pendingRebalance      // handed over in the last batch, completed at the next Poll
	events  []stream.Event         // Poll's batch, reused: valid until the next Poll
	stopped bool

	close func() error // closes the consumer and the emitter
	auth  *auth        // answers OAUTHBEARER token refreshes (oauth.go)
}

// pendingRebalance is a rebalance the Driver is handling: the callback
// waits on call until Poll or Stop completes it.
type pendingRebalance struct {
	call    *rebalanceCall
	revoked []ckafka.TopicPartition // unassigned once the Driver has committed
}

// OpenGroup creates the group's consumer (groupConfig) and, when
// cfg.EmitTopic is set, its emit producer (emitConfig, NewEmitter), and
// routes their librdkafka logs to cfg.Logger. A configuration librdkafka
// refuses is a *ConfigError. Close releases the clients.
func OpenGroup(ctx context.Context, cfg GroupConfig) (*Group, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c, auth, err := newConsumer(groupConfig(cfg.Props, cfg.Group, cfg.Client, cfg.InstanceID), cfg.Logger)
	if err != nil {
		return nil, &ConfigError{What: "kafka", Err: err}
	}
	logsDone := forwardLogs(c.Logs(), cfg.Logger)
	closeConsumer := func() error {
		err := c.Close()
		<-logsDone
		return err
	}
	var emit *Emitter
	if cfg.EmitTopic != "" {
		emit, err = NewEmitter(ctx, emitConfig(cfg.Props, cfg.Client, cfg.TransactionalID), cfg.EmitTopic, cfg.Logger)
		if err != nil {
			_ = closeConsumer()
			return nil, err
		}
	}
	g := NewGroup(c, emit, cfg)
	g.auth = auth
	g.close = func() error {
		err := closeConsumer()
		if emit != nil {
			emit.Close()
		}
		return err
	}
	return g, nil
}

// NewGroup wraps a consumer that is not subscribed yet; emit, when not nil,
// publishes the rows of each commit in a transaction with its offsets.
func NewGroup(c *ckafka.Consumer, emit *Emitter, cfg GroupConfig) *Group {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Group{c: c, topic: cfg.Topic, emit: emit, log: cfg.Logger, fences: make(map[int32]int)}
}

// Close closes the clients OpenGroup made: the consumer (its error is
// returned), then the emit producer. Call it after Run has returned.
func (g *Group) Close() error {
	if g.close == nil {
		return nil
	}
	return g.close()
}

// Run subscribes to the topic and runs d over the group until ctx is
// cancelled (stream.Driver.Run).
func (g *Group) Run(ctx context.Context, d *stream.Driver) error {
	rebalance := func(c *ckafka.Consumer, ev ckafka.Event) error {
		if pl := g.pl.Load(); pl != nil {
			return pl.rebalance(ev) // the Driver handles it (Poll)
		}
		return g.rebalanceClient(ev) // after Run (the consumer's close)
	}
	if err := g.c.SubscribeTopics([]string{g.topic}, rebalance); err != nil {
		return fmt.Errorf("subscribe to %s: %w", g.topic, err)
	}
	pl := newPoller(g.c)
	g.pl.Store(pl)
	go pl.run()
	defer g.pl.Store(nil)
	return d.Run(ctx, g)
}

// Poll implements stream.Source: the poll goroutine's next batch, as
// events, valid until the next call. It first completes the rebalance
// handed over in the batch before.
func (g *Group) Poll(ctx context.Context, wait time.Duration) ([]stream.Event, error) {
	g.complete()
	pl := g.pl.Load()
	if pl == nil {
		return nil, stream.ErrStopped
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	var items []pollItem
	select {
	case it, ok := <-pl.out:
		if !ok {
			return nil, stream.ErrStopped
		}
		items = it
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, nil
	}
	events := g.events[:0]
	defer func() { g.events = events[:0] }()
	for _, it := range items {
		switch {
		case it.msg != nil:
			tp := it.msg.TopicPartition
			if tp.Error != nil {
				g.log.Warn("message error", "partition", tp.Partition, "err", tp.Error)
			} else if g.fences[tp.Partition] == 0 { // else fetched before a seek of its partition
				events = append(events, stream.Event{Kind: stream.EventRecord, Part: tp.Partition, Offset: int64(tp.Offset), Value: it.msg.Value})
			}
		case it.ev != nil:
			switch e := it.ev.(type) {
			case ckafka.OAuthBearerTokenRefresh:
				g.auth.refresh(g.c)
			case ckafka.Error:
				if e.IsFatal() {
					return nil, fmt.Errorf("kafka: fatal error: %w", e)
				}
				g.log.Warn("kafka client error (retrying)", "code", e.Code().String(), "err", e)
			}
		case it.fence != nil:
			if g.fences[it.fence.part]--; g.fences[it.fence.part] <= 0 {
				delete(g.fences, it.fence.part)
			}
			if it.fence.err != nil {
				events = append(events, stream.Event{Kind: stream.EventSeekFailed, Part: it.fence.part, Err: it.fence.err})
			}
		case it.rebalance != nil:
			if ev, ok := g.rebalance(ctx, it.rebalance); ok {
				events = append(events, ev)
			}
		}
	}
	return events, nil
}

// rebalance does the client's part of a rebalance handed over by the
// callback and returns the event for the Driver. An assignment is taken by
// the client at once (the partition count asked just before, as a metadata
// request would wait behind the fetches that the assignment starts); a
// revocation is unassigned when the Driver has committed (complete).
func (g *Group) rebalance(ctx context.Context, call *rebalanceCall) (stream.Event, bool) {
	g.cooperative = g.c.GetRebalanceProtocol() == "COOPERATIVE"
	switch e := call.ev.(type) {
	case ckafka.AssignedPartitions:
		ev := stream.Event{Kind: stream.EventAssigned, Parts: partitionList(e.Partitions)}
		if !g.stopped && ctx.Err() == nil {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ev.Count, ev.CountErr = g.PartitionCount(cctx)
			cancel()
		}
		if err := g.rebalanceClient(e); err != nil {
			call.done <- err
			return stream.Event{}, false
		}
		// A partition paused here before it was lost must not stay paused
		// in the client: its new state starts unpaused.
		if err := g.c.Resume(e.Partitions); err != nil {
			g.log.Warn("resuming the assigned partitions failed", "partitions", ev.Parts, "err", err)
		}
		g.pending = &pendingRebalance{call: call}
		return ev, true
	case ckafka.RevokedPartitions:
		g.pending = &pendingRebalance{call: call, revoked: e.Partitions}
		return stream.Event{Kind: stream.EventRevoked, Parts: partitionList(e.Partitions), Lost: g.c.AssignmentLost()}, true
	}
	call.done <- nil
	return stream.Event{}, false
}

// complete ends the rebalance the Driver has handled: a revocation is
// unassigned now, after the Driver's commits.
func (g *Group) complete() {
	p := g.pending
	if p == nil {
		return
	}
	g.pending = nil
	var err error
	if p.revoked != nil {
		err = g.rebalanceClient(ckafka.RevokedPartitions{Partitions: p.revoked})
	}
	p.call.done <- err
}

// rebalanceClient assigns or unassigns a rebalance's partitions in the
// client, with the group's protocol.
func (g *Group) rebalanceClient(ev ckafka.Event) error {
	cooperative := g.c.GetRebalanceProtocol() == "COOPERATIVE"
	switch e := ev.(type) {
	case ckafka.AssignedPartitions:
		if cooperative {
			return g.c.IncrementalAssign(e.Partitions)
		}
		return g.c.Assign(e.Partitions)
	case ckafka.RevokedPartitions:
		if cooperative {
			return g.c.IncrementalUnassign(e.Partitions)
		}
		return g.c.Unassign()
	}
	return nil
}

// Stop implements stream.Source: the poll goroutine stops after its
// current poll.
func (g *Group) Stop() {
	g.complete()
	if pl := g.pl.Load(); pl != nil && !g.stopped {
		close(pl.stop)
	}
	g.stopped = true
}

// Pause implements stream.Source.
func (g *Group) Pause(parts ...int32) {
	tps := make([]ckafka.TopicPartition, len(parts))
	for i, part := range parts {
		tps[i] = g.tp(part, ckafka.OffsetInvalid)
	}
	if err := g.c.Pause(tps); err != nil {
		g.log.Warn("pausing partitions failed; their records are dropped until they resume", "partitions", parts, "err", err)
	}
}

// Resume implements stream.Source: the seek runs on the poll goroutine
// between two polls, and the partition's records fetched before it are
// dropped (its fence).
func (g *Group) Resume(part int32, from int64) {
	pl := g.pl.Load()
	if pl == nil {
		return
	}
	g.fences[part]++
	pl.call(part, func() error {
		if from != stream.OffsetHere {
			offset := ckafka.Offset(from)
			if from == stream.OffsetStart {
				offset = ckafka.OffsetBeginning
			}
			if err := g.c.Seek(g.tp(part, offset), 0); err != nil {
				return fmt.Errorf("seek partition %d to offset %v: %w", part, offset, err)
			}
		}
		if err := g.c.Resume([]ckafka.TopicPartition{g.tp(part, ckafka.OffsetInvalid)}); err != nil {
			g.log.Warn("resuming the partition failed", "partition", part, "err", err)
		}
		return nil
	})
}

func partitionList(tps []ckafka.TopicPartition) []int32 {
	out := make([]int32, len(tps))
	for i, tp := range tps {
		out[i] = tp.Partition
	}
	return out
}
