package kafka

import (
	"context"
	"fmt"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/stream"
)

// The Group's calls to the broker for the stream.Driver: the log end, the
// partition count, committed offsets, commits and claims.

// LogEnd implements stream.Source: the client's cached watermarks, or the
// broker's with ask (on this handle the request waits behind the fetches,
// up to fetch.wait.max.ms).
func (g *Group) LogEnd(ctx context.Context, part int32, ask bool) (low, high int64, ok bool) {
	var err error
	if ask {
		timeout := time.Until(deadline(ctx, 5*time.Second))
		if timeout <= 0 {
			return 0, 0, false
		}
		low, high, err = g.c.QueryWatermarkOffsets(g.topic, part, int(timeout.Milliseconds())+1)
	} else {
		low, high, err = g.c.GetWatermarkOffsets(g.topic, part)
	}
	if err != nil {
		g.log.Debug("the log end is not known", "partition", part, "asked", ask, "err", err)
		return 0, 0, false
	}
	return low, high, true
}

// PartitionCount implements stream.Source: it asks the broker.
func (g *Group) PartitionCount(ctx context.Context) (int, error) {
	timeout := time.Until(deadline(ctx, 5*time.Second))
	if timeout <= 0 {
		return 0, ctx.Err()
	}
	topic := g.topic
	md, err := g.c.GetMetadata(&topic, false, int(timeout.Milliseconds())+1)
	if err != nil {
		return 0, fmt.Errorf("topic %s: %w", topic, err)
	}
	t, ok := md.Topics[topic]
	if !ok || t.Error.Code() != ckafka.ErrNoError {
		return 0, fmt.Errorf("topic %s: %v", topic, t.Error)
	}
	return len(t.Partitions), nil
}

// Committed implements stream.Source: one request, bounded by ctx and 10 s.
func (g *Group) Committed(ctx context.Context, parts []int32) ([]stream.Offset, error) {
	timeout := time.Until(deadline(ctx, 10*time.Second))
	if timeout <= 0 {
		return nil, fmt.Errorf("fetch committed offsets: %w", context.DeadlineExceeded)
	}
	tps := make([]ckafka.TopicPartition, len(parts))
	for i, part := range parts {
		tps[i] = g.tp(part, ckafka.OffsetInvalid)
	}
	got, err := g.c.Committed(tps, int(timeout.Milliseconds())+1)
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets: %w", err)
	}
	out := make([]stream.Offset, len(got))
	for i, tp := range got {
		out[i] = stream.Offset{Part: tp.Partition, Offset: max(int64(tp.Offset), -1)}
		if tp.Metadata != nil {
			out[i].Metadata = *tp.Metadata
		}
	}
	return out, nil
}

// Commit implements stream.Source: the offsets alone, or in an emit
// transaction with the rows (Emitter.Commit: its ErrAborted and ErrFatal
// are the stream's).
func (g *Group) Commit(ctx context.Context, offsets []stream.Offset, rows []stream.Message) error {
	tps := g.tps(offsets)
	if g.emit == nil {
		_, err := g.c.CommitOffsets(tps)
		return err
	}
	meta, err := g.c.GetConsumerGroupMetadata()
	if err != nil {
		return err
	}
	return g.emit.Commit(ctx, meta, rows, tps)
}

// Claim implements stream.Source: a plain offset commit, which the
// coordinator accepts only from the partitions' current owner.
func (g *Group) Claim(ctx context.Context, offsets []stream.Offset) error {
	_, err := g.c.CommitOffsets(g.tps(offsets))
	return err
}

func (g *Group) tps(offsets []stream.Offset) []ckafka.TopicPartition {
	tps := make([]ckafka.TopicPartition, len(offsets))
	for i, o := range offsets {
		tps[i] = g.tp(o.Part, ckafka.Offset(o.Offset))
		tps[i].Metadata = &offsets[i].Metadata
	}
	return tps
}

func (g *Group) tp(part int32, offset ckafka.Offset) ckafka.TopicPartition {
	topic := g.topic
	return ckafka.TopicPartition{Topic: &topic, Partition: part, Offset: offset}
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
