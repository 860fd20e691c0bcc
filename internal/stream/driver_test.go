package stream

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// The Driver's rules, tested against a fake source, a fake clock and an
// in-memory lake: each test drives the Driver's steps (event, commitDue,
// tick, checkGap) as its loop does, with no broker and no sleep.

// fakeSource is a Source whose broker is a map: it records the calls.
type fakeSource struct {
	committed map[int32]Offset // the group's committed offsets
	claimErr  error            // the next claims fail with it
	commitErr error            // the next commits fail with it
	high      map[int32]int64  // log ends
	asked     int              // LogEnd calls with ask

	paused  map[int32]bool
	resumes []Offset // Part and the from offset
	commits []Offset
	claims  []Offset
}

func newFakeSource() *fakeSource {
	return &fakeSource{committed: map[int32]Offset{}, high: map[int32]int64{}, paused: map[int32]bool{}}
}

func (s *fakeSource) Poll(context.Context, time.Duration) ([]Event, error) { return nil, ErrStopped }
func (s *fakeSource) Stop()                                                {}
func (s *fakeSource) Pause(parts ...int32) {
	for _, p := range parts {
		s.paused[p] = true
	}
}
func (s *fakeSource) Resume(part int32, from int64) {
	s.paused[part] = false
	s.resumes = append(s.resumes, Offset{Part: part, Offset: from})
}
func (s *fakeSource) LogEnd(_ context.Context, part int32, ask bool) (int64, int64, bool) {
	if ask {
		s.asked++
	}
	h, ok := s.high[part]
	return 0, h, ok
}
func (s *fakeSource) PartitionCount(context.Context) (int, error) { return 1, nil }
func (s *fakeSource) Committed(_ context.Context, parts []int32) ([]Offset, error) {
	out := make([]Offset, len(parts))
	for i, p := range parts {
		o, ok := s.committed[p]
		if !ok {
			o = Offset{Part: p, Offset: -1}
		}
		out[i] = o
	}
	return out, nil
}
func (s *fakeSource) Commit(_ context.Context, offsets []Offset, _ []Message) error {
	if s.commitErr != nil {
		return s.commitErr
	}
	s.commits = append(s.commits, offsets...)
	for _, o := range offsets {
		s.committed[o.Part] = o
	}
	return nil
}
func (s *fakeSource) Claim(_ context.Context, offsets []Offset) error {
	if s.claimErr != nil {
		return s.claimErr
	}
	s.claims = append(s.claims, offsets...)
	for _, o := range offsets {
		s.committed[o.Part] = o
	}
	return nil
}

// flakyBucket fails every write while down.
type flakyBucket struct {
	*lake.MemBucket
	mu       sync.Mutex
	down     bool
	attempts int // writes tried while down
}

var errLakeOutage = errors.New("lake outage")

func (b *flakyBucket) setDown(down bool) { b.mu.Lock(); b.down = down; b.mu.Unlock() }
func (b *flakyBucket) check() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		b.attempts++
		return errLakeOutage
	}
	return nil
}
func (b *flakyBucket) Put(ctx context.Context, name string, data []byte) error {
	if err := b.check(); err != nil {
		return err
	}
	return b.MemBucket.Put(ctx, name, data)
}
func (b *flakyBucket) Create(ctx context.Context, name string, data []byte) error {
	if err := b.check(); err != nil {
		return err
	}
	return b.MemBucket.Create(ctx, name, data)
}
func (b *flakyBucket) Replace(ctx context.Context, name string, data []byte, f func([]byte) bool) error {
	if err := b.check(); err != nil {
		return err
	}
	return b.MemBucket.Replace(ctx, name, data, f)
}

// clock is the tests' wall clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                { return c.t }
func (c *clock) add(d time.Duration) time.Time { c.t = c.t.Add(d); return c.t }

// testDriver is a Driver over a fake source and a flaky in-memory lake,
// 5-minute windows with no delay.
type testDriver struct {
	*Driver
	src    *fakeSource
	bucket *flakyBucket
	clock  *clock
}

func newTestDriver(t *testing.T, cfg DriverConfig) *testDriver {
	t.Helper()
	spec, err := window.NewSpec(5*time.Minute, 5*time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := &flakyBucket{MemBucket: lake.NewMemBucket()}
	sink := &lake.Sink{Bucket: b, Layout: lake.Layout{Prefix: "turnstile"}}
	c := &clock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	p := New(Config{Spec: spec, Sink: sink, Side: LakeSide{Sink: sink}, Now: c.now})
	cfg.Now = c.now
	d := NewDriver(p, cfg)
	src := newFakeSource()
	d.src = src
	d.lastCommit = c.now() // as Run starts
	return &testDriver{Driver: d, src: src, bucket: b, clock: c}
}

// metadata is commit metadata of this test's shape: watermark none, the
// given position and epoch, one partition.
func metadata(pos int64, epoch uint64) string {
	return Metadata{Watermark: window.NoWatermark, Pos: pos, Epoch: epoch, Partitions: 1, Shape: "300/300/0"}.String()
}

// assign hands the Driver partition 0 with the committed offset and
// metadata in the fake source.
func (td *testDriver) assign(t *testing.T) *partition {
	t.Helper()
	ctx := t.Context()
	td.event(ctx, ctx, &Event{Kind: EventAssigned, Parts: []int32{0}, Count: 1}, td.clock.now())
	st := td.p.parts[0]
	if st == nil {
		t.Fatal("partition 0 not assigned")
	}
	return st
}

// record hands the Driver a record of partition 0 at the offset, stamped ts
// ("15:04:05" on 2024-07-22).
func (td *testDriver) record(t *testing.T, offset int64, ts string) {
	t.Helper()
	v := value("01", "2024-07-22 "+ts, fmt.Sprint(offset))
	td.event(t.Context(), t.Context(), &Event{Kind: EventRecord, Part: 0, Offset: offset, Value: v}, td.clock.now())
}

// settle waits until the partition's window files handed to the write-behind
// are done (a spin on their goroutines, not a timed wait), then commits the
// partitions that are due, as the loop does after each batch.
func (td *testDriver) settle(t *testing.T) {
	for _, st := range td.p.parts {
		for td.p.writing(st) {
			runtime.Gosched()
		}
	}
	td.commitDue(t.Context())
}

func (td *testDriver) windowFile(t *testing.T, end string) (epoch uint64, ok bool) {
	t.Helper()
	tm, _ := time.Parse(time.DateTime, "2024-07-22 "+end)
	name := lake.Layout{Prefix: "turnstile"}.WindowObject(tm, "p0")
	data, err := td.bucket.Get(t.Context(), name)
	if err != nil {
		return 0, false
	}
	ep, err := lake.WindowEpoch(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ep, true
}

// TestDriverPausesAndResumesOnFailingWrite: a window write that fails
// pauses the partition in the source, drops its records until a retry after
// RetryBackoff succeeds, then resumes it from the record after the last one
// handled.
func TestDriverPausesAndResumesOnFailingWrite(t *testing.T) {
	td := newTestDriver(t, DriverConfig{RetryBackoff: time.Second})
	td.src.committed[0] = Offset{Part: 0, Offset: 0, Metadata: metadata(-1, 0)}
	st := td.assign(t)
	td.bucket.setDown(true)
	td.record(t, 0, "10:01:00")
	td.record(t, 1, "10:06:00") // closes [10:00, 10:05)
	td.settle(t)
	if !td.src.paused[0] || !st.run.paused {
		t.Fatalf("after a failed window write: source paused %v, partition paused %v; want both", td.src.paused[0], st.run.paused)
	}
	if got := metricValue(td.m.paused); got != 1 {
		t.Errorf("partitions_paused %v, want 1", got)
	}
	td.record(t, 2, "10:07:00") // fetched before the pause: dropped
	if st.pos != 1 {
		t.Errorf("a record of a paused partition was handled: position %d, want 1", st.pos)
	}
	attempts := td.bucket.attempts
	td.tick(t.Context(), td.clock.add(500*time.Millisecond)) // before the backoff: no retry
	if td.bucket.attempts != attempts {
		t.Errorf("a paused partition retried its write %d times before RetryBackoff", td.bucket.attempts-attempts)
	}
	td.tick(t.Context(), td.clock.add(2*time.Second)) // the lake is still down
	if td.bucket.attempts == attempts {
		t.Error("a paused partition did not retry its write after RetryBackoff")
	}
	if len(td.src.resumes) != 0 || len(td.src.commits) != 0 {
		t.Fatalf("resumed %v, committed %v while the lake is down", td.src.resumes, td.src.commits)
	}
	td.bucket.setDown(false)
	td.tick(t.Context(), td.clock.add(2*time.Second))
	if want := []Offset{{Part: 0, Offset: 2}}; !slices.Equal(td.src.resumes, want) {
		t.Errorf("resumes %v, want %v (from the record after the last handled)", td.src.resumes, want)
	}
	if st.run.paused || metricValue(td.m.paused) != 0 {
		t.Errorf("partition still paused after a successful retry")
	}
	if len(td.src.commits) != 1 || td.src.commits[0].Offset != 1 {
		t.Errorf("commits %v, want one at offset 1 (the open window's oldest record)", td.src.commits)
	}
	if ep, ok := td.windowFile(t, "10:05:00"); !ok || ep != 1 {
		t.Errorf("window file: exists %v, epoch %d; want it written by the claimed epoch 1", ok, ep)
	}
}

// TestDriverCommitTiming: a partition commits as soon as the window files a
// record closed are durable, and otherwise only every CommitInterval.
func TestDriverCommitTiming(t *testing.T) {
	td := newTestDriver(t, DriverConfig{CommitInterval: 5 * time.Second})
	td.src.committed[0] = Offset{Part: 0, Offset: 0, Metadata: metadata(-1, 0)}
	td.assign(t)
	td.record(t, 0, "10:01:00")
	td.settle(t)
	td.tick(t.Context(), td.clock.add(4*time.Second))
	if len(td.src.commits) != 0 {
		t.Fatalf("committed %v before the interval, with no window closed", td.src.commits)
	}
	td.tick(t.Context(), td.clock.add(time.Second))
	if len(td.src.commits) != 1 || td.src.commits[0].Offset != 0 {
		t.Fatalf("commits %v after the interval, want one at offset 0 (its open window's oldest record)", td.src.commits)
	}
	td.record(t, 1, "10:06:00") // closes [10:00, 10:05)
	td.settle(t)
	if len(td.src.commits) != 2 || td.src.commits[1].Offset != 1 {
		t.Fatalf("commits %v, want a second one at offset 1 once the window file is written", td.src.commits)
	}
	if m, err := ParseMetadata(td.src.commits[1].Metadata); err != nil || m.Pos != 1 || m.Epoch != 1 {
		t.Errorf("commit metadata %q (%v), want pos=1 ep=1", td.src.commits[1].Metadata, err)
	}
}

// TestDriverIdleRule: a caught-up partition that has received nothing for
// IdleClose advances its watermark by the idle time, which closes and
// writes its window; a partition with lag does not; after a gap in the loop
// the clocks start over and the broker must confirm the log end.
func TestDriverIdleRule(t *testing.T) {
	for _, tc := range []struct {
		name      string
		high      int64 // the log end at the first tick
		highLater int64 // the log end after it: records came that the partition has not read
		gap       bool  // the loop stops for 15 s before the ticks
		wantWrite bool
	}{
		{"caught up and idle", 1, 1, false, true},
		{"lag", 1, 5, false, false},
		{"after a freeze, confirmed by the broker", 1, 1, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := newTestDriver(t, DriverConfig{IdleClose: 10 * time.Second, CommitInterval: time.Hour})
			td.src.committed[0] = Offset{Part: 0, Offset: 0, Metadata: metadata(-1, 0)}
			td.src.high[0] = tc.high
			td.assign(t)
			td.record(t, 0, "10:04:59") // its window closes one second of idle time later
			td.checkGap(td.clock.now())
			if tc.gap {
				td.checkGap(td.clock.add(15 * time.Second))
			}
			td.tick(t.Context(), td.clock.add(5*time.Second))
			if _, ok := td.windowFile(t, "10:05:00"); ok {
				t.Fatal("window written before IdleClose")
			}
			td.src.high[0] = tc.highLater
			for range 3 {
				td.tick(t.Context(), td.clock.add(4*time.Second))
			}
			td.settle(t)
			_, wrote := td.windowFile(t, "10:05:00")
			if wrote != tc.wantWrite {
				t.Errorf("window written: %v, want %v", wrote, tc.wantWrite)
			}
			if tc.gap && td.src.asked == 0 {
				t.Error("after a gap the idle rule advanced without asking the broker for the log end")
			}
			if !tc.gap && td.src.asked != 0 {
				t.Errorf("the broker was asked %d times without a gap (each ask waits behind fetches)", td.src.asked)
			}
		})
	}
}

// TestLoopGapIsNotIdleTime checks the idle rule's guard against a freeze:
// after a gap between two turns of the loop longer than maxLoopGap, every
// partition must be seen caught up again and idle again from the end of the
// gap; a short gap changes nothing.
func TestLoopGapIsNotIdleTime(t *testing.T) {
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
			td := newTestDriver(t, DriverConfig{})
			st := td.assign(t)
			t0 := td.clock.now()
			st.run = runState{lastRecv: t0.Add(-time.Minute), lastAdvance: t0.Add(-time.Minute), caughtUp: true}
			td.checkGap(t0)
			now := td.clock.add(tc.gap)
			td.checkGap(now)
			r := st.run
			if tc.reset {
				if !r.lastRecv.Equal(now) || !r.lastAdvance.Equal(now) || r.caughtUp || !r.confirm {
					t.Errorf("after a %s gap: lastRecv %s, lastAdvance %s, caughtUp %v, confirm %v; want the idle clocks at the end of the gap, caughtUp false and the log end to be asked of the broker",
						tc.gap, r.lastRecv, r.lastAdvance, r.caughtUp, r.confirm)
				}
			} else if !r.lastRecv.Equal(t0.Add(-time.Minute)) || !r.caughtUp {
				t.Errorf("a %s gap changed the idle state: lastRecv %s, caughtUp %v", tc.gap, r.lastRecv, r.caughtUp)
			}
		})
	}
}

// TestDriverRestoresAfterAbortedCommit: a commit that took no effect (an
// aborted emit transaction) restores the partition from its last commit:
// the state is rebuilt from the committed metadata, claimed with the next
// epoch, and the source resumes at the committed offset.
func TestDriverRestoresAfterAbortedCommit(t *testing.T) {
	td := newTestDriver(t, DriverConfig{})
	td.src.committed[0] = Offset{Part: 0, Offset: 0, Metadata: metadata(-1, 0)}
	td.assign(t)
	td.src.commitErr = fmt.Errorf("emit: %w: boom", ErrAborted)
	td.record(t, 0, "10:01:00")
	td.record(t, 1, "10:06:00")
	td.settle(t)
	if got := metricValue(td.m.txnAborts); got != 1 {
		t.Errorf("transactions_aborted_total %v, want 1", got)
	}
	if want := []Offset{{Part: 0, Offset: 0}}; !slices.Equal(td.src.resumes, want) {
		t.Fatalf("resumes %v, want %v: the committed offset", td.src.resumes, want)
	}
	if len(td.src.claims) != 2 || !strings.Contains(td.src.claims[1].Metadata, "ep=2") {
		t.Fatalf("claims %v, want a second claim with ep=2", td.src.claims)
	}
	st := td.p.parts[0]
	if st.run.paused || st.pos != -1 || st.epoch != 2 {
		t.Errorf("after the restore: paused %v, position %d, epoch %d; want unpaused, nothing handled, epoch 2", st.run.paused, st.pos, st.epoch)
	}
	// The records are read again, and the commit goes through.
	td.src.commitErr = nil
	td.record(t, 0, "10:01:00")
	td.record(t, 1, "10:06:00")
	td.settle(t)
	if len(td.src.commits) != 1 || td.src.commits[0].Offset != 1 {
		t.Errorf("commits %v, want one at offset 1", td.src.commits)
	}
}

// TestDriverFencing: a consumer that lost its partition without knowing it
// (a zombie) meets a window file of the newer owner's higher epoch: it
// drops the partition's state instead of replacing the file, its claim is
// refused, and it takes no records until the revocation; the newer owner's
// file stays.
func TestDriverFencing(t *testing.T) {
	zombie := newTestDriver(t, DriverConfig{RetryBackoff: time.Second})
	zombie.src.committed[0] = Offset{Part: 0, Offset: 0, Metadata: metadata(-1, 0)}
	zombie.assign(t) // epoch 1
	zombie.record(t, 0, "10:01:00")

	// The newer owner claims epoch 2 and writes the window from the same
	// lake.
	owner := newTestDriver(t, DriverConfig{})
	owner.bucket = zombie.bucket
	owner.p.cfg.Sink = zombie.p.cfg.Sink
	owner.src.committed[0] = Offset{Part: 0, Offset: 0, Metadata: metadata(-1, 1)}
	owner.assign(t)
	owner.record(t, 0, "10:02:00")
	owner.record(t, 1, "10:06:00")
	owner.settle(t)
	if ep, ok := zombie.windowFile(t, "10:05:00"); !ok || ep != 2 {
		t.Fatalf("owner's window file: exists %v, epoch %d; want epoch 2", ok, ep)
	}

	zombie.src.claimErr = errors.New("ILLEGAL_GENERATION")
	zombie.record(t, 1, "10:06:00") // closes the window: the write is refused
	zombie.settle(t)
	st := zombie.p.parts[0]
	if !st.run.paused || !st.run.restore || !zombie.src.paused[0] {
		t.Fatalf("after a fenced write: paused %v, restore %v, source paused %v; want all", st.run.paused, st.run.restore, zombie.src.paused[0])
	}
	if got := metricValue(zombie.m.fenced); got != 1 {
		t.Errorf("partitions_fenced_total %v, want 1", got)
	}
	zombie.tick(t.Context(), zombie.clock.add(2*time.Second)) // the restore's claim is refused
	if len(zombie.src.resumes) != 0 || !st.run.paused {
		t.Fatalf("the zombie resumed (%v) although its claim was refused", zombie.src.resumes)
	}
	zombie.record(t, 2, "10:07:00")
	if st.pos != -1 {
		t.Errorf("the fenced partition handled a record: position %d", st.pos)
	}
	if ep, _ := zombie.windowFile(t, "10:05:00"); ep != 2 {
		t.Errorf("window file epoch %d after the zombie's attempts, want the owner's 2", ep)
	}
	zombie.event(t.Context(), t.Context(), &Event{Kind: EventRevoked, Parts: []int32{0}}, zombie.clock.now())
	if zombie.p.parts[0] != nil || metricValue(zombie.m.paused) != 0 {
		t.Errorf("after the revocation the partition is still held (%v) or counted paused", zombie.p.parts[0] != nil)
	}
	if len(zombie.src.commits) != 0 {
		t.Errorf("the zombie committed %v", zombie.src.commits)
	}
}

// TestDriverStoppingTakesNoAssignment: an assignment that comes while the
// run stops is not restored, so nothing of it is committed.
func TestDriverStoppingTakesNoAssignment(t *testing.T) {
	td := newTestDriver(t, DriverConfig{})
	td.src.committed[0] = Offset{Part: 0, Offset: 0, Metadata: metadata(-1, 0)}
	td.stopping = true
	td.event(t.Context(), t.Context(), &Event{Kind: EventAssigned, Parts: []int32{0}, Count: 1}, td.clock.now())
	if len(td.p.parts) != 0 || len(td.src.claims) != 0 {
		t.Errorf("while stopping: partitions %d, claims %v; want none", len(td.p.parts), td.src.claims)
	}
}

// metricValue reads a counter or gauge.
func metricValue(m prometheus.Metric) float64 {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		return -1
	}
	if c := out.GetCounter(); c != nil {
		return c.GetValue()
	}
	return out.GetGauge().GetValue()
}
