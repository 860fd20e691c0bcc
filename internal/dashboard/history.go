package dashboard

import (
	"cmp"
	"slices"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Station names a station as the page shows it: the MTA STATION name is not
// unique across lines ("23 ST" is on six), so LINENAME is part of it.
type Station struct {
	Name  string
	Lines string
}

// Bucket is the sum of ENTRIES and EXITS of all turnstiles of one station in
// one window. Seq is the history's sequence number when it last changed.
type Bucket struct {
	Station
	End            int64
	Entries, Exits int64
	Seq            uint64
}

// AddResult says what History.Add did with a row.
type AddResult int

// Results of History.Add.
const (
	Added     AddResult = iota // the row is new and counted
	Duplicate                  // a row with the same key (turnstile, window end) is already held
	TooOld                     // the window ended before the history's horizon
	Future                     // not counted: the window ends too far after the wall clock (Dashboard only)
)

type bucketKey struct {
	Station
	End int64
}

type bucketValue struct {
	entries, exits int64
	seq            uint64
}

// endIndex is what one window end holds, so that it can be evicted at once.
type endIndex struct {
	rowKeys  []string
	stations []Station
}

// History holds the recent window rows, aggregated per station and window
// end, within two bounds: window ends no older than Limit before the newest
// end seen (event time, not wall time, so a replay of old data works), and at
// most MaxRows rows (turnstile, window) in all. The oldest window ends are
// evicted first; the newest window end is never evicted by the row bound.
//
// Every change gets a sequence number, so that a client that has seen
// everything up to sequence N catches up with Since(N).
//
// History is not safe for concurrent use; Dashboard guards it.
type History struct {
	limit   int64 // seconds
	maxRows int

	rows    map[string]struct{} // window keys (turnstile.WindowKey) held, for dropping repeats
	buckets map[bucketKey]*bucketValue
	ends    []int64 // distinct window ends held, ascending
	byEnd   map[int64]*endIndex
	newest  int64
	seq     uint64
	evicted int64 // rows evicted so far
	window  int64 // last window length seen (end - start), seconds; 0 if unknown
}

// NewHistory returns an empty history that keeps window ends within limit of
// the newest one and at most maxRows rows (0: no row bound).
func NewHistory(limit time.Duration, maxRows int) *History {
	return &History{
		limit:   int64(limit / time.Second),
		maxRows: maxRows,
		rows:    map[string]struct{}{},
		buckets: map[bucketKey]*bucketValue{},
		byEnd:   map[int64]*endIndex{},
	}
}

// Limit returns the history's time bound.
func (h *History) Limit() time.Duration { return time.Duration(h.limit) * time.Second }

// Add counts a row into its station's bucket. A repeat of a key already held
// and a row whose window ended at or before the horizon (newest end - limit)
// change nothing.
func (h *History) Add(r Row) AddResult {
	if h.newest != 0 && r.End <= h.newest-h.limit {
		return TooOld
	}
	key := turnstile.WindowKey(&r.WindowCount)
	if _, ok := h.rows[key]; ok {
		return Duplicate
	}
	h.seq++
	h.rows[key] = struct{}{}
	st := Station{Name: r.Station, Lines: r.LineName}
	idx := h.byEnd[r.End]
	if idx == nil {
		idx = &endIndex{}
		h.byEnd[r.End] = idx
		i, _ := slices.BinarySearch(h.ends, r.End)
		h.ends = slices.Insert(h.ends, i, r.End)
	}
	idx.rowKeys = append(idx.rowKeys, key)
	bk := bucketKey{st, r.End}
	b := h.buckets[bk]
	if b == nil {
		b = &bucketValue{}
		h.buckets[bk] = b
		idx.stations = append(idx.stations, st)
	}
	b.entries += r.Entries
	b.exits += r.Exits
	b.seq = h.seq
	if r.Start != 0 && r.Start < r.End {
		h.window = r.End - r.Start
	}
	if r.End > h.newest {
		h.newest = r.End
	}
	h.evict()
	return Added
}

func (h *History) evict() {
	horizon := h.newest - h.limit
	for len(h.ends) > 0 && h.ends[0] <= horizon {
		h.evictOldest()
	}
	for h.maxRows > 0 && len(h.rows) > h.maxRows && len(h.ends) > 1 {
		h.evictOldest()
	}
}

func (h *History) evictOldest() {
	end := h.ends[0]
	idx := h.byEnd[end]
	for _, k := range idx.rowKeys {
		delete(h.rows, k)
	}
	for _, st := range idx.stations {
		delete(h.buckets, bucketKey{st, end})
	}
	h.evicted += int64(len(idx.rowKeys))
	delete(h.byEnd, end)
	h.ends = h.ends[1:]
}

// Bucket returns the current bucket of a station and window end.
func (h *History) Bucket(st Station, end int64) (Bucket, bool) {
	b, ok := h.buckets[bucketKey{st, end}]
	if !ok {
		return Bucket{}, false
	}
	return Bucket{Station: st, End: end, Entries: b.entries, Exits: b.exits, Seq: b.seq}, true
}

// Since returns the buckets held that changed after sequence number seq,
// ordered by window end, then station. Since(0) is the whole history.
func (h *History) Since(seq uint64) []Bucket {
	var out []Bucket
	for _, end := range h.ends {
		for _, st := range h.byEnd[end].stations {
			b := h.buckets[bucketKey{st, end}]
			if b.seq > seq {
				out = append(out, Bucket{Station: st, End: end, Entries: b.entries, Exits: b.exits, Seq: b.seq})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Bucket) int {
		return cmp.Or(cmp.Compare(a.End, b.End), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Lines, b.Lines))
	})
	return out
}

// Seq returns the sequence number of the last change.
func (h *History) Seq() uint64 { return h.seq }

// Len returns the number of rows (turnstile, window) held.
func (h *History) Len() int { return len(h.rows) }

// Buckets returns the number of (station, window end) buckets held.
func (h *History) Buckets() int { return len(h.buckets) }

// Newest returns the newest window end seen, Unix seconds (0: none yet).
func (h *History) Newest() int64 { return h.newest }

// Oldest returns the oldest window end held, Unix seconds (0: none).
func (h *History) Oldest() int64 {
	if len(h.ends) == 0 {
		return 0
	}
	return h.ends[0]
}

// Evicted returns how many rows were evicted so far.
func (h *History) Evicted() int64 { return h.evicted }

// WindowSeconds returns the window length of the last row that had a
// window_start header, or 0.
func (h *History) WindowSeconds() int64 { return h.window }
