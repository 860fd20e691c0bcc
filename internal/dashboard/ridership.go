package dashboard

import (
	"cmp"
	"slices"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// BusiestComplexes is how many station complexes RidershipSummary.Busiest
// lists.
const BusiestComplexes = 10

// ComplexCount is the ridership of one station complex: its rows (every
// payment method and fare class) summed over one window, or over several.
type ComplexCount struct {
	ID        string `json:"id"` // station_complex_id
	Name      string `json:"name"`
	Borough   string `json:"borough"`
	Ridership int64  `json:"ridership"`
	Transfers int64  `json:"transfers"`
	// Latest is the complex's ridership in the newest window held (only in
	// RidershipSummary.Busiest).
	Latest int64 `json:"latest"`
}

// RidershipHour is the ridership of every station complex in one window.
type RidershipHour struct {
	End       int64 `json:"end"` // window end, Unix seconds (naive New York time read as UTC)
	Ridership int64 `json:"ridership"`
	Transfers int64 `json:"transfers"`
}

// RidershipSummary is what the page's ridership panel shows: the "ridership"
// event and /api/state's "ridership" field. Its totals are absolute, so the
// newest summary replaces any earlier one.
type RidershipSummary struct {
	Newest         int64 `json:"newest"` // newest window end seen (0: none yet)
	Oldest         int64 `json:"oldest"` // oldest window end held
	WindowSeconds  int64 `json:"window"` // last window length seen
	HistorySeconds int64 `json:"history"`
	Rows           int   `json:"rows"` // (key, window) rows held
	// Hours is the total per window end held, oldest first: entries per
	// hour with 1-hour windows.
	Hours []RidershipHour `json:"hours"`
	// Busiest are the BusiestComplexes complexes with the most ridership
	// summed over every window held, most first (ties by ID).
	Busiest []ComplexCount `json:"busiest"`
	// What became of the ridership messages read so far.
	Added      int64 `json:"added"`
	Duplicates int64 `json:"duplicates"`
	TooOld     int64 `json:"too_old"`
	Future     int64 `json:"future"`
	Bad        int64 `json:"bad"`
}

// ridershipEnd is what one window end holds.
type ridershipEnd struct {
	rowKeys   []string
	complexes map[string]*ComplexCount // by station_complex_id
}

// RidershipHistory holds the recent ridership window rows, summed per
// station complex and window end, within the same two bounds as History:
// window ends no older than Limit before the newest end seen (event time),
// and at most maxRows rows; the oldest window ends go first, the newest is
// never evicted by the row bound. A row whose window key
// (ridership.AppendWindowKey) it already holds is a Duplicate.
//
// RidershipHistory is not safe for concurrent use; Dashboard guards it.
type RidershipHistory struct {
	limit   int64 // seconds
	maxRows int

	rows   map[string]struct{}
	ends   []int64 // ascending
	byEnd  map[int64]*ridershipEnd
	newest int64
	window int64
}

// NewRidershipHistory returns an empty ridership history that keeps window
// ends within limit of the newest one and at most maxRows rows (0: no row
// bound).
func NewRidershipHistory(limit time.Duration, maxRows int) *RidershipHistory {
	return &RidershipHistory{limit: int64(limit / time.Second), maxRows: maxRows,
		rows: map[string]struct{}{}, byEnd: map[int64]*ridershipEnd{}}
}

// Add counts a row into its complex's sum for the row's window end. A
// repeat of a window key already held and a row whose window ended at or
// before the horizon (newest end - limit) change nothing.
func (h *RidershipHistory) Add(r *ridership.WindowRow) AddResult {
	if h.newest != 0 && r.End <= h.newest-h.limit {
		return TooOld
	}
	key := string(ridership.AppendWindowKey(nil, r))
	if _, ok := h.rows[key]; ok {
		return Duplicate
	}
	h.rows[key] = struct{}{}
	e := h.byEnd[r.End]
	if e == nil {
		e = &ridershipEnd{complexes: map[string]*ComplexCount{}}
		h.byEnd[r.End] = e
		i, _ := slices.BinarySearch(h.ends, r.End)
		h.ends = slices.Insert(h.ends, i, r.End)
	}
	e.rowKeys = append(e.rowKeys, key)
	c := e.complexes[r.StationComplexID]
	if c == nil {
		c = &ComplexCount{ID: r.StationComplexID}
		e.complexes[r.StationComplexID] = c
	}
	c.Name, c.Borough = r.StationComplex, r.Borough
	c.Ridership += r.Ridership
	c.Transfers += r.Transfers
	h.window = r.End - r.Start // ParseWindowRow guarantees Start < End
	h.newest = max(h.newest, r.End)
	h.evict()
	return Added
}

func (h *RidershipHistory) evict() {
	for len(h.ends) > 0 && h.ends[0] <= h.newest-h.limit {
		h.evictOldest()
	}
	for h.maxRows > 0 && len(h.rows) > h.maxRows && len(h.ends) > 1 {
		h.evictOldest()
	}
}

func (h *RidershipHistory) evictOldest() {
	end := h.ends[0]
	for _, k := range h.byEnd[end].rowKeys {
		delete(h.rows, k)
	}
	delete(h.byEnd, end)
	h.ends = h.ends[1:]
}

// Len returns the number of (key, window) rows held.
func (h *RidershipHistory) Len() int { return len(h.rows) }

// Complex returns the sums of one station complex in the window ending at
// end.
func (h *RidershipHistory) Complex(id string, end int64) (ComplexCount, bool) {
	e := h.byEnd[end]
	if e == nil || e.complexes[id] == nil {
		return ComplexCount{}, false
	}
	return *e.complexes[id], true
}

// Summary returns the totals per window end and the top busiest complexes
// over every window held. The counters (Added, ...) are left to the caller.
func (h *RidershipHistory) Summary(top int) RidershipSummary {
	s := RidershipSummary{Newest: h.newest, WindowSeconds: h.window, HistorySeconds: h.limit, Rows: len(h.rows),
		Hours: make([]RidershipHour, 0, len(h.ends)), Busiest: []ComplexCount{}}
	if len(h.ends) > 0 {
		s.Oldest = h.ends[0]
	}
	totals := map[string]*ComplexCount{}
	for _, end := range h.ends {
		hour := RidershipHour{End: end}
		for id, c := range h.byEnd[end].complexes {
			hour.Ridership += c.Ridership
			hour.Transfers += c.Transfers
			t := totals[id]
			if t == nil {
				t = &ComplexCount{ID: id}
				totals[id] = t
			}
			t.Name, t.Borough = c.Name, c.Borough // the newest window's spelling
			t.Ridership += c.Ridership
			t.Transfers += c.Transfers
			if end == h.newest {
				t.Latest = c.Ridership
			}
		}
		s.Hours = append(s.Hours, hour)
	}
	for _, t := range totals {
		s.Busiest = append(s.Busiest, *t)
	}
	slices.SortFunc(s.Busiest, func(a, b ComplexCount) int {
		return cmp.Or(cmp.Compare(b.Ridership, a.Ridership), cmp.Compare(a.ID, b.ID))
	})
	if len(s.Busiest) > top {
		s.Busiest = s.Busiest[:top]
	}
	return s
}

// AddRidership counts a decoded ridership row into the ridership history.
// Browsers see it at the next Flush. As with Add, a row whose window ends
// more than MaxFuture after the clock is ignored (Future). Without
// Config.Ridership it does nothing and returns TooOld.
func (d *Dashboard) AddRidership(r *ridership.WindowRow) AddResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rhist == nil {
		return TooOld
	}
	now := d.now()
	d.lastMessage = now
	var res AddResult
	if d.maxFuture > 0 && r.End > now.Add(d.maxFuture).Unix() {
		res = Future
		if d.rcounts[Future] == 0 {
			d.log.Warn("ignoring ridership rows that end too far after the wall clock (a mis-clocked record?); counted in turnstile_dashboard_ridership_messages_total{result=\"future\"}, logged once",
				"window_end", time.Unix(r.End, 0).UTC().Format(time.RFC3339), "station_complex_id", r.StationComplexID, "max_future", d.maxFuture)
		}
	} else {
		res = d.rhist.Add(r)
	}
	d.rcounts[res]++
	d.rmessages.WithLabelValues(resultName(res)).Inc()
	if res == Added {
		d.rchanged = true
	}
	return res
}

// AddRidershipMessage decodes a message of the consumer's ridership emit
// topic (ridership.DecodeWindowMessage) and adds its row (AddRidership). A
// message that does not decode is counted as bad and its error returned.
func (d *Dashboard) AddRidershipMessage(key, value []byte, headers []turnstile.Header) error {
	r, err := ridership.DecodeWindowMessage(key, value, headers)
	if err != nil {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.lastMessage = d.now()
		if d.rhist != nil {
			d.rbad++
			d.rmessages.WithLabelValues("bad").Inc()
		}
		return err
	}
	d.AddRidership(&r)
	return nil
}

// ridershipLocked returns the ridership summary with its counters.
func (d *Dashboard) ridershipLocked() RidershipSummary {
	s := d.rhist.Summary(BusiestComplexes)
	s.Added, s.Duplicates, s.TooOld, s.Future = d.rcounts[Added], d.rcounts[Duplicate], d.rcounts[TooOld], d.rcounts[Future]
	s.Bad = d.rbad
	return s
}
