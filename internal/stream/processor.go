// Package stream is the consumer's pipeline: it feeds message values of each
// Kafka partition (or of a file) through a window.Engine, writes closed windows
// to the lake and rejected and late records to the side outputs, and decides
// what offset may be committed, so that the lake holds every (window, key) row
// exactly once across crashes, restarts and rebalances.
//
// The protocol is written down in docs/consumer.md. In short, per partition:
//   - closed windows are written first, to deterministic object names;
//   - side outputs (rejected, late) are written next, named by their first offset;
//   - then the offset C of the oldest record still in an open window is
//     committed, with metadata holding the watermark W and the last processed
//     offset P;
//   - a restart replays from C with the watermark restored to W: windows that
//     end at or before W were already written and are skipped, the open ones are
//     rebuilt exactly, and records at or before P write no side output again.
package stream

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// SideWriter stores rejected and late records. Write must be durable when it
// returns nil: a checkpoint commits past the records only after that.
type SideWriter interface {
	Write(ctx context.Context, kind lake.SideKind, source string, firstOffset int64, recs []lake.SideRecord) error
}

// Config configures a Processor.
type Config struct {
	// Records is the record type (default TurnstileRecords()): how values
	// parse, how keys sort, how rows are written.
	Records Records
	Spec    window.Spec
	Sink    *lake.Sink // window files
	Side    SideWriter // rejected and late records
	// Index writes the pandas index column; ignored for a record type
	// without one (Records.Indexed, ridership).
	Index bool
	// KeepRows keeps the rows of the windows written since the last commit,
	// encoded as emit messages, and hands them out with each Checkpoint,
	// for the emit topic.
	KeepRows bool
	// MaxFuture rejects a record whose TIMESTAMP lies more than this far ahead
	// of the wall clock (reason future_timestamp), so that one mis-clocked
	// record cannot move a watermark into the future. Zero turns the guard off.
	MaxFuture time.Duration
	// MaxSideBytes is how many bytes of rejected and late values a partition
	// gathers before Handle asks for a checkpoint (default 8 MiB).
	MaxSideBytes int
	// WriteAhead is how many closed windows may be encoded and written behind
	// the goroutine that feeds the Processor (default DefaultWriteAhead). The
	// files are written in order, and Checkpoint and Flush wait for them.
	WriteAhead int
	// WriteTimeout bounds one window file's write behind the feeding
	// goroutine (default DefaultWriteTimeout); a write that runs out of time
	// is retried like a failed one.
	WriteTimeout time.Duration
	// Now is the wall clock (default time.Now), injectable for tests.
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
}

// Processor runs the window engines of the partitions a consumer owns. It is
// not safe for concurrent use: one goroutine feeds it, as one Kafka poll loop
// does.
type Processor struct {
	cfg   Config
	keys  keyTable
	parts map[int32]*partition

	parse func(value []byte, rec *window.Record) error // the record type's
	rec   window.Record                                // what the engine takes of a value
	// futureLimit is the clock guard's last limit (Unix seconds): a record
	// at or before it passes without reading the clock, since the limit only
	// grows with the wall clock.
	futureLimit int64

	// The write-behind (writer.go): a slot per window in flight.
	slots   chan struct{}
	lastJob *writeJob
}

type partition struct {
	id     int32
	source string
	engine engine

	// guarded: the partition was restored without usable commit metadata, so
	// a replay may rebuild a window from part of its records; its window
	// files are then only created, never replaced (see Guard).
	guarded bool

	// epoch is the partition's ownership epoch (Claim): its window files
	// carry it, and never replace a file of a higher epoch.
	epoch uint64
	// partitions is the topic's partition count that the committed metadata
	// or the Claim recorded (0 when unknown).
	partitions int

	pos         int64 // offset of the last record handled, -1 for none
	replayUntil int64 // records at or before this offset were handled before a restart
	dirty       bool  // handled records since the last checkpoint

	rejected, late []lake.SideRecord
	sideBytes      int       // bytes of the values in rejected and late
	pending        []Message // rows written since the last commit, kept when Config.KeepRows
	wmGauge        prometheus.Gauge

	inflight []*writeJob // window files handed to the write-behind, in order
	retry    []*writeJob // window files whose write failed (first) or was skipped, to write again in order

	run runState // the Driver's rules of the run (driver.go)
}

// New returns a Processor.
func New(cfg Config) *Processor {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxSideBytes <= 0 {
		cfg.MaxSideBytes = DefaultMaxSideBytes
	}
	if cfg.WriteAhead <= 0 {
		cfg.WriteAhead = DefaultWriteAhead
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Records == nil {
		cfg.Records = TurnstileRecords()
	}
	if !cfg.Records.Indexed() {
		cfg.Index = false
	}
	return &Processor{cfg: cfg, keys: cfg.Records.newTable(hashSeed()), parse: cfg.Records.newParser(),
		parts: make(map[int32]*partition), slots: make(chan struct{}, cfg.WriteAhead)}
}

// Checkpoint is what a partition may commit: the offset to resume from and
// the metadata that the next owner passes to Assign.
type Checkpoint struct {
	Offset   int64
	Metadata string
	// Rows are the window rows written since the last commit, as emit
	// messages (with KeepRows).
	Rows []Message
}

// PartitionSource names the lake objects of a partition: "p3" for Kafka partition 3.
func PartitionSource(partition int32) string { return "p" + strconv.Itoa(int(partition)) }

// Assign starts a partition. metadata is what the last Checkpoint of the
// partition stored with its committed offset ("" when there is none). An
// error means the metadata cannot be used: a *ShapeError when it was
// committed under another window shape, which the caller must not override,
// else a format it does not know (the caller may Assign again with "" and
// Guard the partition).
//
// A partition assigned again starts over in the same state object, its run
// state (the Driver's) kept.
func (p *Processor) Assign(id int32, source, metadata string) error {
	st := p.start(id, source)
	if metadata != "" {
		m, err := ParseMetadata(metadata)
		if err != nil {
			return fmt.Errorf("partition %d: %w", id, err)
		}
		if m.Shape != "" && m.Shape != p.cfg.Spec.Shape() {
			return &ShapeError{Source: source, Committed: m.Shape, Configured: p.cfg.Spec.Shape()}
		}
		st.engine.Restore(m.Watermark)
		st.replayUntil = m.Pos
		st.epoch = m.Epoch
		st.partitions = m.Partitions
		p.cfg.Logger.Info("partition restored", "partition", id, "watermark", formatTime(m.Watermark), "replay_until_offset", m.Pos, "epoch", m.Epoch)
	}
	p.setWatermark(st)
	return nil
}

// start (re)starts a partition with no watermark and no position: a new
// state object, or the one it has, its writes settled and its window
// engine released first.
func (p *Processor) start(id int32, source string) *partition {
	st := p.parts[id]
	if st == nil {
		st = &partition{}
		p.parts[id] = st
	} else {
		p.settle(st)
		st.engine.Release()
		*st = partition{run: st.run}
	}
	st.id, st.source, st.pos, st.replayUntil = id, source, -1, -1
	st.engine = p.keys.newEngine(p.cfg.Spec, id)
	st.wmGauge = p.cfg.Metrics.watermarkGauge(id)
	return st
}

// reset drops what a partition holds since its last commit, keeping the
// partition assigned (and its run state): the Driver restores it from its
// last commit before it takes records again.
func (p *Processor) reset(st *partition) {
	p.start(st.id, st.source)
	p.updateOpen()
}

// ShapeError is Assign's error for commit metadata written under another
// window shape: the lake already holds windows of that shape under this
// prefix, and a window of the new shape rebuilt from the committed position
// would miss the records before it.
type ShapeError struct {
	Source                string
	Committed, Configured string // window.Spec.Shape
}

func (e *ShapeError) Error() string {
	describe := func(shape string) string {
		if spec, err := window.ParseShape(shape); err == nil {
			return spec.String()
		}
		return shape
	}
	return fmt.Sprintf("%s was committed with windows of %s, but this consumer is configured with %s: "+
		"one lake prefix and one consumer group hold one window shape; to change it, use a new consumer group "+
		"and a new lake prefix (docs/consumer.md, \"Changing the window shape\")",
		e.Source, describe(e.Committed), describe(e.Configured))
}

// Claim makes this consumer the newest owner of a restored partition: it
// takes the committed epoch + 1 and returns the metadata to commit, with the
// committed offset, before anything is written. The consumer group accepts
// that commit only from the partition's current owner, so every owner holds
// a higher epoch than every owner before it. Window files carry their
// writer's epoch, and a file of a higher epoch is never replaced
// (lake.Sink.ReplaceWindowData): an owner that lost the partition without
// knowing it cannot change what the new owner wrote.
func (p *Processor) Claim(id int32) (string, error) {
	st, ok := p.parts[id]
	if !ok {
		return "", fmt.Errorf("partition %d is not assigned", id)
	}
	st.epoch++
	return p.metadata(st, st.replayUntil), nil
}

func (p *Processor) metadata(st *partition, pos int64) string {
	return Metadata{Watermark: st.engine.Watermark(), Pos: pos, Epoch: st.epoch,
		Partitions: st.partitions, Shape: p.cfg.Spec.Shape()}.String()
}

// Committed tells the Processor that the last Checkpoint of a partition was
// committed: until then, every Checkpoint returns the partition's state again,
// with all the rows emitted since the last commit.
func (p *Processor) Committed(id int32) {
	if st, ok := p.parts[id]; ok {
		p.committed(st)
	}
}

func (p *Processor) committed(st *partition) {
	st.dirty = false
	st.pending = st.pending[:0]
}

// Revoke forgets a partition: its open windows are rebuilt by its next owner.
func (p *Processor) Revoke(id int32) {
	if st, ok := p.parts[id]; ok {
		p.settle(st)
		st.engine.Release() // its open windows' keys may be forgotten
	}
	delete(p.parts, id)
	p.cfg.Metrics.forget(id)
	p.updateOpen()
}

// maxSide is how many rejected and late records a partition gathers before
// Handle asks for a checkpoint, which writes them out: a flood of bad input
// must not grow memory without bound. Config.MaxSideBytes bounds their bytes
// the same way.
const maxSide = 10_000

// DefaultMaxSideBytes is the default of Config.MaxSideBytes.
const DefaultMaxSideBytes = 8 << 20

// maxDetail caps the length of a side record's detail text; the value itself
// is always written whole.
const maxDetail = 256

// Handle processes one message value at an offset of an assigned partition.
// It returns true when the caller should commit the partition's Checkpoint
// now: it wrote window files, or it holds maxSide side records. An error means
// a window could not be written; the windows stay open and the next Handle or
// Checkpoint tries again.
func (p *Processor) Handle(ctx context.Context, id int32, offset int64, value []byte) (bool, error) {
	st, ok := p.parts[id]
	if !ok {
		return false, fmt.Errorf("partition %d is not assigned", id)
	}
	wrote, err := p.handle(ctx, st, offset, value)
	return wrote || p.sideDue(st), err
}

// holdsSide reports whether the partition holds side records to write.
func (p *Processor) holdsSide(st *partition) bool { return len(st.rejected)+len(st.late) > 0 }

// sideDue reports whether the partition holds enough side records to write
// them out now.
func (p *Processor) sideDue(st *partition) bool {
	return len(st.rejected)+len(st.late) >= maxSide || st.sideBytes >= p.cfg.MaxSideBytes
}

func (p *Processor) handle(ctx context.Context, st *partition, offset int64, value []byte) (bool, error) {
	var rec *window.Record
	err := p.parse(value, &p.rec)
	if err == nil {
		rec = &p.rec
	}
	return p.handleParsed(ctx, st, offset, value, rec, err)
}

// handleParsed is handle after the parse: rec is what the window engine takes
// of the value, or nil when the parse failed with parseErr. File mode parses
// ahead, on a goroutine of its own, and calls it directly.
func (p *Processor) handleParsed(ctx context.Context, st *partition, offset int64, value []byte, rec *window.Record, parseErr error) (bool, error) {
	m := p.cfg.Metrics
	replay := offset <= st.replayUntil
	st.pos = offset
	st.dirty = true
	m.recordsIn.Inc()
	if replay {
		m.replayed.Inc()
	}
	err := parseErr
	if err == nil {
		err = p.checkClock(rec.Time)
	}
	if err != nil {
		if !replay {
			reason := turnstile.ReasonOf(err)
			m.rejected.WithLabelValues(string(reason)).Inc()
			st.rejected = append(st.rejected, p.sideRecord(st, offset, value, string(reason), err.Error(), 0))
			st.sideBytes += len(value)
		}
		return p.emit(ctx, st)
	}
	m.valid.Inc()
	r, err := st.engine.Add(rec, offset)
	if err != nil {
		return false, fmt.Errorf("partition %d: %w", st.id, err)
	}
	if r.SplitKey {
		m.splitKeys.Inc()
		p.cfg.Logger.Warn("a "+p.cfg.Records.Name()+" key shows up on two partitions: its windows are split; such a topic needs a single partition",
			"key", p.cfg.Records.describeKey(rec.Key), "partition", st.id)
	}
	if !replay {
		if r.Duplicate {
			m.duplicates.Inc()
		}
		if r.Late > 0 {
			m.late.Inc()
			st.late = append(st.late, p.sideRecord(st, offset, value, "late",
				fmt.Sprintf("missed %d closed window(s); watermark was past their end", r.Late), r.LateEnd))
			st.sideBytes += len(value)
		}
	}
	return p.emit(ctx, st)
}

// checkClock is the clock guard: a record stamped more than MaxFuture ahead
// of the wall clock is rejected, so that it never moves a watermark.
func (p *Processor) checkClock(timestamp int64) error {
	if p.cfg.MaxFuture <= 0 || timestamp <= p.futureLimit {
		return nil
	}
	p.futureLimit = p.cfg.Now().Add(p.cfg.MaxFuture).Unix()
	if timestamp <= p.futureLimit {
		return nil
	}
	return &turnstile.RejectError{Reason: turnstile.ReasonFuture, Detail: fmt.Sprintf(
		"TIMESTAMP %s is more than %s ahead of the wall clock (--max-future)", formatTime(timestamp), p.cfg.MaxFuture)}
}

func (p *Processor) sideRecord(st *partition, offset int64, value []byte, reason, detail string, windowEnd int64) lake.SideRecord {
	if len(detail) > maxDetail {
		detail = truncateUTF8(detail, maxDetail-len("…")) + "…"
	}
	rec := lake.SideRecord{Reason: reason, Detail: detail, Source: st.source, Offset: offset, Value: string(value)}
	if st.source != InputSource {
		part := st.id
		rec.Partition = &part
	}
	if windowEnd != 0 {
		rec.WindowEnd = formatTime(windowEnd)
	}
	return rec
}

// emit writes every window of the partition that its watermark has closed.
func (p *Processor) emit(ctx context.Context, st *partition) (bool, error) {
	p.setWatermark(st)
	if len(st.inflight) > 0 {
		if err := p.collect(ctx, st, false); err != nil {
			return false, err
		}
	}
	if !st.engine.Ready() {
		return false, nil
	}
	if len(st.retry) > 0 {
		if err := p.retryWrites(ctx, st); err != nil {
			return false, err
		}
	}
	err := st.engine.Emit(func(c *closedWindow) error { return p.writeWindow(ctx, st, c) })
	p.updateOpen()
	return err == nil, err
}

func (p *Processor) writeWindow(ctx context.Context, st *partition, c *closedWindow) error {
	if c.Rows.Len() == 0 {
		return nil // no file for an empty emission
	}
	return p.submit(ctx, st, c)
}

// Advance moves the watermark of an idle partition forward by the given
// wall-clock time and writes the windows that closes. It returns true when it
// wrote window files.
func (p *Processor) Advance(ctx context.Context, id int32, idle time.Duration) (bool, error) {
	st, ok := p.parts[id]
	if !ok {
		return false, nil
	}
	return p.advance(ctx, st, idle)
}

func (p *Processor) advance(ctx context.Context, st *partition, idle time.Duration) (bool, error) {
	st.engine.Advance(int64(idle / time.Second))
	return p.emit(ctx, st)
}

// Checkpoint writes the partition's pending side outputs and returns what to
// commit. ok is false when nothing changed since the last commit. The caller
// reports a successful commit with Committed.
func (p *Processor) Checkpoint(ctx context.Context, id int32) (cp Checkpoint, ok bool, err error) {
	st, found := p.parts[id]
	if !found {
		return Checkpoint{}, false, nil
	}
	return p.checkpoint(ctx, st)
}

func (p *Processor) checkpoint(ctx context.Context, st *partition) (cp Checkpoint, ok bool, err error) {
	if _, err := p.emit(ctx, st); err != nil {
		return Checkpoint{}, false, err
	}
	if err := p.settleWrites(ctx, st); err != nil {
		return Checkpoint{}, false, err
	}
	if !st.dirty {
		return Checkpoint{}, false, nil
	}
	if err := p.flushSide(ctx, st); err != nil {
		return Checkpoint{}, false, err
	}
	next := st.pos + 1
	if low, open := st.engine.MinOpenOffset(); open && low < next {
		next = low
	}
	pos := max(st.pos, st.replayUntil)
	return Checkpoint{Offset: next, Metadata: p.metadata(st, pos), Rows: st.pending}, true, nil
}

// settleWrites waits until every window file handed to the write-behind for
// the partition is durable, writing the failed ones again.
func (p *Processor) settleWrites(ctx context.Context, st *partition) error {
	if err := p.collect(ctx, st, true); err != nil {
		return err
	}
	return p.retryWrites(ctx, st)
}

func (p *Processor) flushSide(ctx context.Context, st *partition) error {
	for _, side := range []struct {
		kind lake.SideKind
		recs *[]lake.SideRecord
	}{{lake.Rejected, &st.rejected}, {lake.Late, &st.late}} {
		recs := *side.recs
		if len(recs) == 0 {
			continue
		}
		if err := p.cfg.Side.Write(ctx, side.kind, st.source, recs[0].Offset, recs); err != nil {
			return fmt.Errorf("write %s records of %s: %w", side.kind, st.source, err)
		}
		*side.recs = recs[:0]
	}
	st.sideBytes = 0
	return nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Flush closes every window of the partition, as at the end of a finite
// input, and writes the side outputs.
func (p *Processor) Flush(ctx context.Context, id int32) error {
	st, ok := p.parts[id]
	if !ok {
		return nil
	}
	return p.flush(ctx, st)
}

func (p *Processor) flush(ctx context.Context, st *partition) error {
	if err := p.settleWrites(ctx, st); err != nil {
		return err
	}
	err := st.engine.Flush(func(c *closedWindow) error { return p.writeWindow(ctx, st, c) })
	p.updateOpen()
	if err == nil {
		err = p.settleWrites(ctx, st)
	}
	if err != nil {
		return err
	}
	return p.flushSide(ctx, st)
}

func (p *Processor) setWatermark(st *partition) {
	if wm := st.engine.Watermark(); wm != window.NoWatermark {
		st.wmGauge.Set(float64(wm))
	}
}

// InputSource is the source name of file mode (--input).
const InputSource = "input"

func (p *Processor) updateOpen() {
	windows, cells := 0, 0
	for _, st := range p.parts {
		windows += st.engine.OpenWindows()
		cells += st.engine.OpenCells()
	}
	p.cfg.Metrics.windowsOpen.Set(float64(windows))
	p.cfg.Metrics.cellsOpen.Set(float64(cells))
	p.cfg.Metrics.keys.Set(float64(p.keys.Live()))
}

func formatTime(unix int64) string {
	if unix == window.NoWatermark {
		return "none"
	}
	return time.Unix(unix, 0).UTC().Format(time.DateTime)
}
