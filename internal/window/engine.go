package window

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// NoWatermark is the watermark of a partition that has seen no record yet.
const NoWatermark int64 = math.MinInt64

// Result says what Add did with one record.
type Result struct {
	Duplicate bool  // dropped: its (Dedup, Time) was already seen
	Added     int   // windows the record was added to
	Late      int   // windows the record missed because they were closed
	LateEnd   int64 // the end of the latest window it missed, when Late > 0
	SplitKey  bool  // its key was first seen on another partition (reported once per key)
}

// Record is one valid record as the Engine takes it: the caller extracts it
// from a parsed message. Add reads Key and Dedup and keeps neither.
type Record struct {
	Time int64 // event time, Unix seconds
	// Entries and Exits are the record's two counts, summed per key and
	// window (for a turnstile, its ENTRIES and EXITS).
	Entries, Exits int64
	// Key is the grouping key, encoded as the Keys' decode function reads
	// it: two records are summed in the same rows exactly when their Keys
	// are equal.
	Key []byte
	// Dedup identifies the record among those with the same Time (the
	// turnstile consumer passes its ID and STATION). A record whose Time and
	// Dedup repeat an earlier one's is a duplicate.
	Dedup []byte
}

// Closed is one emitted window: its bounds, the offsets of the records summed
// into it, and one row per key, sorted by key. Rows is only valid during the
// emit callback.
type Closed[K any] struct {
	Start, End           int64 // Unix seconds
	MinOffset, MaxOffset int64
	Rows                 []Row[K]
}

// Row is the sums of one key over one window.
type Row[K any] struct {
	Key            K
	Entries, Exits int64
}

// Engine holds the open windows, the watermark and the duplicate memory of
// one partition. It is not safe for concurrent use.
type Engine[K any] struct {
	spec      Spec
	keys      *Keys[K]
	partition int32
	wm        int64

	open []*win // sorted by start
	free []*win

	// The duplicate memory, one set per event time: the records of one second
	// sit together, so that a set is small and stays in cache.
	seen     map[int64]*fingerprints
	lastT    int64 // the event time of last, the set Add used last
	last     *fingerprints
	freeSets []*fingerprints

	span span // the windows of the last event time seen

	rows  []Row[K]
	cells []cell
	order []uint64
}

// span is the first and the last window start of the records at time t.
type span struct {
	t, first, last int64
	ok             bool
}

type win struct {
	start, end           int64
	minOffset, maxOffset int64
	cells                cells
}

// New returns an Engine for one partition. Engines of the same consumer share
// keys, and hash with its seed.
func New[K any](spec Spec, keys *Keys[K], partition int32) *Engine[K] {
	return &Engine[K]{
		spec:      spec,
		keys:      keys,
		partition: partition,
		wm:        NoWatermark,
		seen:      make(map[int64]*fingerprints),
	}
}

// Watermark returns the partition's watermark W in Unix seconds, or
// NoWatermark before the first record.
func (e *Engine[K]) Watermark() int64 { return e.wm }

// Restore sets the watermark of a fresh Engine to wm, as a restart does from
// the watermark stored with the committed offset. Windows that end at or
// before wm count as closed.
func (e *Engine[K]) Restore(wm int64) {
	if wm > e.wm {
		e.wm = wm
	}
}

// Advance moves the watermark forward by d seconds of wall-clock time, the rule
// for an idle partition. It does nothing before the first record.
func (e *Engine[K]) Advance(seconds int64) {
	if e.wm != NoWatermark && seconds > 0 {
		e.wm += seconds
	}
}

// OpenWindows returns the number of open windows.
func (e *Engine[K]) OpenWindows() int { return len(e.open) }

// OpenCells returns the number of open (key, window) pairs.
func (e *Engine[K]) OpenCells() int {
	n := 0
	for _, w := range e.open {
		n += w.cells.len()
	}
	return n
}

// MinOpenOffset returns the smallest offset of a record in an open window. A
// restart that replays from it rebuilds every open window.
func (e *Engine[K]) MinOpenOffset() (int64, bool) {
	if len(e.open) == 0 {
		return 0, false
	}
	lowest := int64(math.MaxInt64)
	for _, w := range e.open {
		lowest = min(lowest, w.minOffset)
	}
	return lowest, true
}

// Ready reports whether some open window has ended at or before the watermark
// and waits to be emitted.
func (e *Engine[K]) Ready() bool {
	// Windows have equal sizes, so the one with the earliest start ends first.
	return len(e.open) > 0 && e.open[0].end <= e.wm
}

// Add adds one valid record at the given offset (a Kafka offset, or a line
// number). Records must come in offset order. A record whose Key is new and
// does not decode (NewKeys) is an error, and Add then changes nothing: the
// record is neither summed nor remembered as seen.
func (e *Engine[K]) Add(rec *Record, offset int64) (Result, error) {
	var r Result
	t := rec.Time
	if !e.span.ok || e.span.t != t {
		// Records mostly come in runs of one time: divide once per run.
		e.span = span{t: t, first: e.spec.firstStart(t), last: e.spec.lastStart(t), ok: true}
	}
	first, last := e.span.first, e.span.last
	lastEnd := last + e.spec.size
	if lastEnd <= e.wm {
		// Every window of the record is closed: late, whatever it repeats.
		r.Late = int((last-first)/e.spec.slide) + 1
		r.LateEnd = lastEnd
		e.observe(t)
		return r, nil
	}
	if e.last == nil || e.lastT != t {
		e.last, e.lastT = e.set(t, lastEnd), t
	}
	// The set is the time's own, so the hash leaves the time out.
	seen := hash128(rec.Dedup, e.keys.seed)
	if !e.last.add(seen) {
		r.Duplicate = true
		e.observe(t)
		return r, nil
	}

	id, split, err := e.keys.intern(rec.Key, e.partition)
	if err != nil {
		e.last.remove(seen)
		return Result{}, fmt.Errorf("record at offset %d: %w", offset, err)
	}
	r.SplitKey = split
	for start := first; start <= last; start += e.spec.slide {
		end := start + e.spec.size
		if end <= e.wm {
			r.Late++
			r.LateEnd = end
			continue
		}
		if e.window(start).add(id, rec.Entries, rec.Exits, offset, e.keys.Len()) {
			e.keys.hold(id)
		}
		r.Added++
	}
	e.observe(t)
	return r, nil
}

// observe moves the watermark up to t − delay.
func (e *Engine[K]) observe(t int64) {
	if w := t - e.spec.delay; w > e.wm {
		e.wm = w
	}
}

// set returns the duplicate memory of the records with event time t, whose
// last window ends at lastEnd.
func (e *Engine[K]) set(t, lastEnd int64) *fingerprints {
	if s := e.seen[t]; s != nil {
		return s
	}
	var s *fingerprints
	if n := len(e.freeSets); n > 0 {
		s = e.freeSets[n-1]
		e.freeSets = e.freeSets[:n-1]
		// Clear the set now rather than when it was freed: clearing streams
		// its memory into the cache just before the set fills up again.
		s.reset()
	} else {
		s = new(fingerprints)
	}
	s.lastEnd = lastEnd
	e.seen[t] = s
	return s
}

// window returns the open window that starts at start, opening it if needed.
func (e *Engine[K]) window(start int64) *win {
	i := len(e.open) - 1
	for ; i >= 0; i-- {
		if e.open[i].start == start {
			return e.open[i]
		}
		if e.open[i].start < start {
			break
		}
	}
	var w *win
	if n := len(e.free); n > 0 {
		w = e.free[n-1]
		e.free = e.free[:n-1]
	} else {
		w = new(win)
	}
	w.start, w.end = start, start+e.spec.size
	w.minOffset, w.maxOffset = math.MaxInt64, math.MinInt64
	e.open = slices.Insert(e.open, i+1, w)
	return w
}

// add adds a record to the window and reports whether it opened a cell for
// key.
func (w *win) add(key int32, entries, exits, offset int64, keys int) bool {
	w.minOffset = min(w.minOffset, offset)
	w.maxOffset = max(w.maxOffset, offset)
	return w.cells.add(key, entries, exits, keys)
}

// Emit closes every window that ended at or before the watermark, in order of
// end, and calls emit with each. A window is forgotten only after emit
// returns nil; on error Emit stops and returns it, and the window stays open
// to be emitted again.
func (e *Engine[K]) Emit(emit func(*Closed[K]) error) error {
	return e.emitUpTo(e.wm, emit)
}

// Flush closes and emits every open window, as at the end of a finite input,
// and forgets every record. The Engine takes no more records after Flush.
func (e *Engine[K]) Flush(emit func(*Closed[K]) error) error {
	return e.emitUpTo(math.MaxInt64, emit)
}

func (e *Engine[K]) emitUpTo(limit int64, emit func(*Closed[K]) error) error {
	for len(e.open) > 0 {
		// Windows have equal sizes, so the one with the earliest start ends first.
		w := e.open[0]
		if w.end > limit {
			break
		}
		closed := Closed[K]{Start: w.start, End: w.end, MinOffset: w.minOffset, MaxOffset: w.maxOffset, Rows: e.rowsOf(w)}
		if err := emit(&closed); err != nil {
			return err
		}
		e.open = slices.Delete(e.open, 0, 1)
		e.close(w)
	}
	e.forget(limit)
	return nil
}

// close releases the keys of a window that is no longer open, and keeps the
// window for reuse.
func (e *Engine[K]) close(w *win) {
	w.cells.each(e.keys.release)
	w.cells.reset()
	e.free = append(e.free, w)
}

// Release drops every open window without emitting it and forgets every
// record, releasing the window's keys to the shared Keys: call it when the
// partition is revoked and its Engine dropped, or the keys of its open
// windows are never forgotten. The Engine takes no more records after
// Release.
func (e *Engine[K]) Release() {
	for _, w := range e.open {
		e.close(w)
	}
	e.open = e.open[:0]
	e.forget(math.MaxInt64)
}

// forget drops the duplicate memory of records whose windows all end at or
// before limit. Add never consults it again: such a record is late.
func (e *Engine[K]) forget(limit int64) {
	for t, set := range e.seen {
		if set.lastEnd <= limit {
			delete(e.seen, t)
			e.freeSets = append(e.freeSets, set)
			if set == e.last {
				e.last = nil
			}
		}
	}
}

// rowsOf returns the rows of a window sorted by key, so that a window always
// produces the same file.
func (e *Engine[K]) rowsOf(w *win) []Row[K] {
	rank := e.keys.ranks()
	rows := e.rows[:0]
	if n := w.cells.len(); n*bits.Len(uint(n)) >= 4*len(e.keys.order) {
		// The window holds a good part of all keys: walking every key in
		// order and looking each up is cheaper than sorting.
		for _, id := range e.keys.order {
			if c, ok := w.cells.get(id); ok {
				rows = append(rows, Row[K]{Key: *e.keys.Key(id), Entries: c.entries, Exits: c.exits})
			}
		}
		e.rows = rows
		return rows
	}
	cells := w.cells.appendTo(e.cells[:0])
	e.cells = cells
	// Sort (rank, position) pairs packed in one integer: sorting plain integers
	// is several times faster than sorting cells with a comparison function.
	order := e.order[:0]
	for i, c := range cells {
		order = append(order, uint64(rank[c.key])<<32|uint64(i))
	}
	slices.Sort(order)
	e.order = order
	for _, o := range order {
		c := &cells[uint32(o)]
		rows = append(rows, Row[K]{Key: *e.keys.Key(c.key), Entries: c.entries, Exits: c.exits})
	}
	e.rows = rows
	return rows
}
