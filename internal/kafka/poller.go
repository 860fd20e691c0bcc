package kafka

import (
	"sync"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// The poll goroutine. Taking a record out of librdkafka through the Go
// binding (a cgo call, copies of the key and value, a Message) costs about
// as much as windowing it, so one goroutine polls and hands the records over
// in batches, in the order of Poll, while the stream.Driver's goroutine
// takes them through Group.Poll and does everything else: the Processor, the
// commits and the rebalances stay on one goroutine, as with a single loop.
//
//   - A rebalance callback runs inside Poll, on the poll goroutine. It hands
//     over the records polled before it, then the event, and waits until the
//     Driver has handled both (Group.Poll completes it at the Driver's next
//     call), so that the callback's work (commit, revoke, assign) happens at
//     the same point of the record stream as in a single loop.
//   - A Seek (Group.Resume: resuming a paused partition, restoring one from
//     its last commit) runs on the poll goroutine too, between two polls, and
//     a fence follows it in the stream: Group.Poll drops the partition's
//     records handed over before the fence, which were fetched before the
//     seek, as a single loop never sees them.

// pollBatch is how many records the poll goroutine hands over at once.
const pollBatch = 256

// pollItem is one entry of the stream handed over by the poll goroutine.
type pollItem struct {
	msg       *ckafka.Message
	ev        ckafka.Event // an error event, or a token refresh (oauth.go)
	rebalance *rebalanceCall
	fence     *fence
}

type rebalanceCall struct {
	ev   ckafka.Event
	done chan error
}

// fence follows a partition's seek in the stream; err is a fatal failure of
// the seek.
type fence struct {
	part int32
	err  error
}

type pollerCall struct {
	part int32
	do   func() error
}

type poller struct {
	c     *ckafka.Consumer
	out   chan []pollItem
	stop  chan struct{}
	batch []pollItem

	mu    sync.Mutex
	calls []pollerCall // run between two polls, each followed by its fence
}

func newPoller(c *ckafka.Consumer) *poller {
	return &poller{c: c, out: make(chan []pollItem, 4), stop: make(chan struct{}), batch: make([]pollItem, 0, pollBatch)}
}

// run polls until stop is closed, then closes out.
func (pl *poller) run() {
	defer close(pl.out)
	for {
		select {
		case <-pl.stop:
			pl.flush()
			return
		default:
		}
		pl.mu.Lock()
		calls := pl.calls
		pl.calls = nil
		pl.mu.Unlock()
		for _, call := range calls {
			pl.batch = append(pl.batch, pollItem{fence: &fence{part: call.part, err: call.do()}})
		}
		timeout := 100
		if len(pl.batch) > 0 {
			timeout = 0
		}
		switch e := pl.c.Poll(timeout).(type) {
		case nil:
			pl.flush()
		case *ckafka.Message:
			pl.batch = append(pl.batch, pollItem{msg: e})
			if len(pl.batch) >= pollBatch {
				pl.flush()
			}
		default:
			pl.batch = append(pl.batch, pollItem{ev: e})
			pl.flush()
		}
	}
}

func (pl *poller) flush() {
	if len(pl.batch) == 0 {
		return
	}
	pl.out <- pl.batch
	pl.batch = make([]pollItem, 0, pollBatch)
}

// rebalance runs inside Poll: it hands the event over and waits for its
// result.
func (pl *poller) rebalance(ev ckafka.Event) error {
	pl.flush()
	call := &rebalanceCall{ev: ev, done: make(chan error, 1)}
	pl.out <- []pollItem{{rebalance: call}}
	return <-call.done
}

// call runs do on the poll goroutine before its next poll.
func (pl *poller) call(part int32, do func() error) {
	pl.mu.Lock()
	pl.calls = append(pl.calls, pollerCall{part: part, do: do})
	pl.mu.Unlock()
}
