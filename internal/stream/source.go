package stream

import (
	"context"
	"errors"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// Source is the port through which a Driver reads records and commits them.
// An adapter fills it (the Kafka consumer group in internal/kafka, a file in
// FileSource); the Driver runs the loop and owns every rule of the run:
// which partition takes records, when it pauses and resumes, when it
// commits, when it is restored, and when the idle rule moves its watermark.
//
// A Source is used from the Driver's goroutine only, except PartitionCount,
// which the Driver calls from a goroutine of its own. Offsets are the
// source's positions within a partition: Kafka offsets, or 1-based line
// numbers.
type Source interface {
	// Poll returns the next events, in the source's order, waiting at most
	// wait for the first; an empty batch when none came. A rebalance event
	// (EventAssigned, EventRevoked) ends its batch, and the source completes
	// the rebalance only when Poll (or Stop) is called again: the Driver has
	// handled it by then. After Stop, Poll returns the events still in
	// flight and then ErrStopped. Any other error is fatal.
	Poll(ctx context.Context, wait time.Duration) ([]Event, error)
	// Stop ends the polling: see Poll.
	Stop()
	// Pause stops the delivery of the partitions' records. Records already
	// fetched may still come; the Driver drops them.
	Pause(parts ...int32)
	// Resume delivers a paused partition's records again from offset from
	// (from < 0: where the source stands). Records of the partition fetched
	// before the call never come. When the source cannot seek there, an
	// EventSeekFailed comes instead.
	Resume(part int32, from int64)
	// LogEnd returns the partition's log start and end (the offset after the
	// last record). With ask, the source asks its broker rather than its
	// cache; ctx bounds the request. ok is false when it does not know.
	LogEnd(ctx context.Context, part int32, ask bool) (low, high int64, ok bool)
	// PartitionCount returns the topic's partition count now. It is called
	// from a goroutine of its own.
	PartitionCount(ctx context.Context) (int, error)
	// Committed returns the committed offset and metadata of each partition
	// (Offset -1 and no Metadata when none was committed).
	Committed(ctx context.Context, parts []int32) ([]Offset, error)
	// Commit commits a checkpoint of each offset, with the window rows
	// written since the partitions' last commits, encoded as emit messages
	// (a source that publishes them does so in one transaction with the
	// offsets). An error wrapping
	// ErrAborted means nothing of it took effect and the partitions must be
	// restored from their last commit; ErrFatal ends the run; any other
	// error is retried at the next checkpoint.
	Commit(ctx context.Context, offsets []Offset, rows []Message) error
	// Claim commits the offsets as they are, outside any transaction: the
	// claim of a new ownership epoch (Processor.Claim). It fails when this
	// consumer no longer owns a partition.
	Claim(ctx context.Context, offsets []Offset) error
}

// Offset is a partition's committed position: the offset to resume from and
// the metadata of its Checkpoint.
type Offset struct {
	Part     int32
	Offset   int64
	Metadata string
}

// EventKind tells what an Event carries.
type EventKind uint8

// The kinds of events.
const (
	// EventRecord is a record: Part, Offset, Value, and optionally Rec or
	// Err, when the source parsed it ahead.
	EventRecord EventKind = iota
	// EventAssigned gives the partitions Parts to this consumer. Count is
	// the topic's partition count, asked before the assignment started
	// (CountErr when that failed; 0 with no error: the source has no count).
	EventAssigned
	// EventRevoked takes the partitions Parts away. With Lost, another
	// consumer may own them already: nothing of theirs is committed.
	EventRevoked
	// EventSeekFailed: a Resume of partition Part could not seek (Err).
	EventSeekFailed
	// EventEnd: a finite source has no more records.
	EventEnd
)

// Event is one entry of a Source's stream.
type Event struct {
	Kind   EventKind
	Part   int32
	Offset int64
	Value  []byte
	// Rec is what the window engine takes of Value, when the source parsed
	// it ahead (Parse); Err is the parse's error for a rejected value. A
	// record with neither is parsed by the Processor.
	Rec *window.Record
	Err error

	Parts    []int32
	Lost     bool
	Count    int
	CountErr error
}

// ErrStopped is Poll's error once a stopped source has handed over every
// event.
var ErrStopped = errors.New("source stopped")

// ErrAborted marks a Commit that took no effect: the partitions are restored
// from their last commit.
var ErrAborted = errors.New("commit aborted")

// ErrFatal marks a Commit after which the run must stop.
var ErrFatal = errors.New("fatal commit error")
