package stream

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// gateBucket is a MemBucket whose writes can be held (gate) or failed, and
// which records the order of the writes that succeeded.
type gateBucket struct {
	*lake.MemBucket
	gate chan struct{} // when not nil, each write waits until it is closed
	mu   sync.Mutex
	fail bool
	put  []string
}

var errLakeDown = errors.New("lake down")

func (b *gateBucket) write(ctx context.Context, name string, data []byte, create bool, replace func([]byte) bool) error {
	if b.gate != nil {
		<-b.gate
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail {
		return errLakeDown
	}
	var err error
	switch {
	case replace != nil:
		err = b.MemBucket.Replace(ctx, name, data, replace)
	case create:
		err = b.MemBucket.Create(ctx, name, data)
	default:
		err = b.MemBucket.Put(ctx, name, data)
	}
	if err == nil {
		b.put = append(b.put, name)
	}
	return err
}

func (b *gateBucket) Put(ctx context.Context, name string, data []byte) error {
	return b.write(ctx, name, data, false, nil)
}

func (b *gateBucket) Replace(ctx context.Context, name string, data []byte, replace func([]byte) bool) error {
	return b.write(ctx, name, data, false, replace)
}

func (b *gateBucket) Create(ctx context.Context, name string, data []byte) error {
	return b.write(ctx, name, data, true, nil)
}

func (b *gateBucket) setFail(v bool) { b.mu.Lock(); b.fail = v; b.mu.Unlock() }

func (b *gateBucket) written() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.put)
}

func newGateProcessor(t *testing.T, gate chan struct{}) (*Processor, *gateBucket) {
	t.Helper()
	spec, err := window.NewSpec(5*time.Minute, 5*time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := &gateBucket{MemBucket: lake.NewMemBucket(), gate: gate}
	sink := &lake.Sink{Bucket: b, Layout: lake.Layout{Prefix: "turnstile"}}
	p := New(Config{Spec: spec, Sink: sink, Side: LakeSide{Sink: sink}, Index: true, KeepRows: true})
	if err := p.Assign(0, PartitionSource(0), ""); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// TestCheckpointWaitsForWritesBehind checks that windows written behind the
// feeding goroutine land in the order they closed, and that Checkpoint
// returns only once they are all durable: its offset covers them.
func TestCheckpointWaitsForWritesBehind(t *testing.T) {
	ctx := context.Background()
	gate := make(chan struct{})
	p, b := newGateProcessor(t, gate)
	for i, ts := range []string{"2024-07-22 10:01:00", "2024-07-22 10:06:00", "2024-07-22 10:11:00", "2024-07-22 10:16:00"} {
		if _, err := p.Handle(ctx, 0, int64(i), value("01", ts, ts)); err != nil {
			t.Fatal(err)
		}
	}
	// Three windows are closed and held at the gate.
	type result struct {
		cp  Checkpoint
		err error
	}
	done := make(chan result, 1)
	go func() {
		cp, _, err := p.Checkpoint(ctx, 0)
		done <- result{cp, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("Checkpoint returned (offset %d, err %v) while its window files were not written", r.cp.Offset, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := []string{"turnstile/20240722T100500_p0.csv.gz", "turnstile/20240722T101000_p0.csv.gz", "turnstile/20240722T101500_p0.csv.gz"}
	if got := b.written(); !slices.Equal(got, want) {
		t.Errorf("written %q, want %q in this order", got, want)
	}
	if r.cp.Offset != 3 || len(r.cp.Rows) != 3 {
		t.Errorf("checkpoint offset %d with %d rows, want 3 and 3", r.cp.Offset, len(r.cp.Rows))
	}
}

// TestFailedWriteBehindIsRetriedInOrder checks a lake outage: a window whose
// write behind failed makes Checkpoint fail, a later window is not written
// before it, and once the lake is back both land in order and the
// checkpoint covers them.
func TestFailedWriteBehindIsRetriedInOrder(t *testing.T) {
	ctx := context.Background()
	p, b := newGateProcessor(t, nil)
	if _, err := p.Handle(ctx, 0, 0, value("01", "2024-07-22 10:01:00", "a")); err != nil {
		t.Fatal(err)
	}
	b.setFail(true)
	if _, err := p.Handle(ctx, 0, 1, value("01", "2024-07-22 10:06:00", "b")); err != nil { // closes 10:05, written behind
		t.Fatal(err)
	}
	if _, _, err := p.Checkpoint(ctx, 0); !errors.Is(err, errLakeDown) {
		t.Fatalf("checkpoint during the outage: %v, want %v", err, errLakeDown)
	}
	// The next window closes while the first is still unwritten: the retry
	// comes first and fails, so the new window stays open.
	if _, err := p.Handle(ctx, 0, 2, value("01", "2024-07-22 10:11:00", "c")); !errors.Is(err, errLakeDown) {
		t.Fatalf("handle during the outage: %v, want %v", err, errLakeDown)
	}
	if got := b.written(); len(got) != 0 {
		t.Fatalf("written during the outage: %q", got)
	}
	b.setFail(false)
	cp, ok, err := p.Checkpoint(ctx, 0)
	if err != nil || !ok {
		t.Fatalf("checkpoint after the outage: %v %v", ok, err)
	}
	want := []string{"turnstile/20240722T100500_p0.csv.gz", "turnstile/20240722T101000_p0.csv.gz"}
	if got := b.written(); !slices.Equal(got, want) {
		t.Errorf("written %q, want %q in this order", got, want)
	}
	if cp.Offset != 2 || len(cp.Rows) != 2 {
		t.Errorf("checkpoint offset %d with %d rows, want 2 and 2", cp.Offset, len(cp.Rows))
	}
}

// TestHandleWaitsForAWriteSlotWithinItsContext checks that a full
// write-ahead holds the feeding goroutine no longer than its context (in
// Kafka mode, the loop's write budget): during a lake outage the writes in
// flight may take their whole timeout, and a loop blocked on them would let
// the group drop the member. The window that found no slot stays in the
// engine and is written, in order, once the lake is back.
func TestHandleWaitsForAWriteSlotWithinItsContext(t *testing.T) {
	gate := make(chan struct{})
	p, b := newGateProcessor(t, gate)
	stamps := []string{"2024-07-22 10:01:00", "2024-07-22 10:06:00", "2024-07-22 10:11:00", "2024-07-22 10:16:00"}
	for i, ts := range stamps { // three windows close and wait at the gate: every slot is taken
		if _, err := p.Handle(t.Context(), 0, int64(i), value("01", ts, ts)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := p.Handle(ctx, 0, 4, value("01", "2024-07-22 10:21:00", "e")) // closes a fourth window
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Handle with every write slot taken: %v, want the context's deadline", err)
		}
	case <-time.After(10 * time.Second):
		close(gate)
		t.Fatal("Handle waited for a write slot past its context's deadline")
	}
	close(gate)
	cp, ok, err := p.Checkpoint(t.Context(), 0)
	if err != nil || !ok {
		t.Fatalf("checkpoint once the lake is back: %v %v", ok, err)
	}
	want := []string{"turnstile/20240722T100500_p0.csv.gz", "turnstile/20240722T101000_p0.csv.gz",
		"turnstile/20240722T101500_p0.csv.gz", "turnstile/20240722T102000_p0.csv.gz"}
	if got := b.written(); !slices.Equal(got, want) {
		t.Errorf("written %q, want %q in this order", got, want)
	}
	if cp.Offset != 4 || len(cp.Rows) != 4 {
		t.Errorf("checkpoint offset %d with %d rows, want 4 and 4", cp.Offset, len(cp.Rows))
	}
}
