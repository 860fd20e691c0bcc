package dashboard

import (
	"testing"
	"time"
)

func mustAdd(t *testing.T, h *History, r Row, want AddResult) {
	t.Helper()
	if got := h.Add(r); got != want {
		t.Fatalf("Add(%s %s %d) = %d, want %d", r.Station, r.SCP, r.End, got, want)
	}
}

func TestHistoryAggregatesPerStationAndWindow(t *testing.T) {
	h := NewHistory(time.Hour, 0)
	mustAdd(t, h, row("59 ST", "NQR456W", "00-00-00", t0, 10, 20), Added)
	mustAdd(t, h, row("59 ST", "NQR456W", "00-00-01", t0, 1, 2), Added)
	mustAdd(t, h, row("59 ST", "1", "00-00-00", t0, 100, 200), Added) // same name, other lines: another station
	mustAdd(t, h, row("59 ST", "NQR456W", "00-00-00", t0+300, 5, 6), Added)

	if b, _ := h.Bucket(Station{"59 ST", "NQR456W"}, t0); b.Entries != 11 || b.Exits != 22 {
		t.Errorf("59 ST NQR456W at t0 = %d/%d, want 11/22", b.Entries, b.Exits)
	}
	if b, _ := h.Bucket(Station{"59 ST", "1"}, t0); b.Entries != 100 || b.Exits != 200 {
		t.Errorf("59 ST 1 at t0 = %d/%d, want 100/200", b.Entries, b.Exits)
	}
	if h.Len() != 4 || h.Buckets() != 3 || h.Newest() != t0+300 || h.Oldest() != t0 || h.WindowSeconds() != 300 {
		t.Errorf("Len %d Buckets %d Newest %d Oldest %d Window %d", h.Len(), h.Buckets(), h.Newest(), h.Oldest(), h.WindowSeconds())
	}
}

func TestHistoryDropsRepeats(t *testing.T) {
	h := NewHistory(time.Hour, 0)
	r := row("59 ST", "NQR456W", "00-00-00", t0, 10, 20)
	mustAdd(t, h, r, Added)
	seq := h.Seq()
	mustAdd(t, h, r, Duplicate) // a consumer restart re-sent it
	r.Entries = 99              // same key, other counts: still a repeat of the key
	mustAdd(t, h, r, Duplicate)
	if b, _ := h.Bucket(Station{"59 ST", "NQR456W"}, t0); b.Entries != 10 {
		t.Errorf("entries = %d after repeats, want 10", b.Entries)
	}
	if h.Seq() != seq {
		t.Errorf("a repeat changed the sequence number")
	}
}

func TestHistoryEvictsByEventTime(t *testing.T) {
	h := NewHistory(time.Hour, 0)
	for i := range int64(12) { // 12 windows of 5 minutes: one hour
		mustAdd(t, h, row("A", "1", "00", t0+i*300, 1, 1), Added)
	}
	if h.Oldest() != t0 || h.Len() != 12 {
		t.Fatalf("Oldest %d Len %d, want %d 12", h.Oldest(), h.Len(), t0)
	}
	// A window ending one hour after t0 pushes t0 out: ends must be > newest - 1h.
	mustAdd(t, h, row("B", "2", "00", t0+3600, 1, 1), Added)
	if h.Oldest() != t0+300 || h.Len() != 12 || h.Evicted() != 1 {
		t.Errorf("after one more window: Oldest %d Len %d Evicted %d", h.Oldest()-t0, h.Len(), h.Evicted())
	}
	if _, ok := h.Bucket(Station{"A", "1"}, t0); ok {
		t.Errorf("the evicted bucket is still there")
	}
	// Late rows at or before the horizon are not taken; within it they are.
	mustAdd(t, h, row("C", "3", "00", t0, 1, 1), TooOld)
	mustAdd(t, h, row("C", "3", "00", t0+300, 1, 1), Added)
	// A jump far ahead empties everything older.
	mustAdd(t, h, row("D", "4", "00", t0+24*3600, 1, 1), Added)
	if h.Len() != 1 || h.Buckets() != 1 || h.Oldest() != t0+24*3600 {
		t.Errorf("after a jump: Len %d Buckets %d", h.Len(), h.Buckets())
	}
	// An evicted key may come back once it is within the horizon again:
	// nothing of the old window is remembered, so it is not a repeat.
	if len(h.rows) != 1 || len(h.byEnd) != 1 || len(h.ends) != 1 {
		t.Errorf("indexes not emptied: rows %d byEnd %d ends %d", len(h.rows), len(h.byEnd), len(h.ends))
	}
}

func TestHistoryRowBound(t *testing.T) {
	h := NewHistory(24*time.Hour, 5)
	for i := range int64(3) {
		mustAdd(t, h, row("A", "1", "00", t0+i*300, 1, 1), Added)
		mustAdd(t, h, row("A", "1", "01", t0+i*300, 1, 1), Added)
	}
	// 6 rows in 3 windows, bound 5: the oldest window (2 rows) went.
	if h.Len() != 4 || h.Oldest() != t0+300 {
		t.Errorf("Len %d Oldest +%d, want 4 +300", h.Len(), h.Oldest()-t0)
	}
	// The newest window is never evicted by the row bound, even if alone it is over it.
	for i := range 10 {
		mustAdd(t, h, row("B", "1", string(rune('a'+i)), t0+3600, 1, 1), Added)
	}
	if h.Oldest() != t0+3600 || h.Len() != 10 {
		t.Errorf("Len %d Oldest +%d, want 10 +3600", h.Len(), h.Oldest()-t0)
	}
}

func TestHistorySinceCatchesUp(t *testing.T) {
	h := NewHistory(time.Hour, 0)
	mustAdd(t, h, row("A", "1", "00", t0, 1, 1), Added)
	mustAdd(t, h, row("B", "1", "00", t0, 2, 2), Added)
	seen := h.Seq()
	mustAdd(t, h, row("B", "1", "01", t0, 3, 3), Added)     // changes B at t0
	mustAdd(t, h, row("A", "1", "00", t0+300, 4, 4), Added) // a new bucket

	all := h.Since(0)
	if len(all) != 3 {
		t.Fatalf("Since(0) = %d buckets, want 3: %+v", len(all), all)
	}
	// Ordered by window end, then station.
	if all[0].Name != "A" || all[1].Name != "B" || all[2].End != t0+300 {
		t.Errorf("Since(0) order: %+v", all)
	}
	got := h.Since(seen)
	if len(got) != 2 {
		t.Fatalf("Since(seen) = %+v, want B@t0 and A@t0+300", got)
	}
	if got[0].Name != "B" || got[0].Entries != 5 || got[1].Name != "A" || got[1].End != t0+300 {
		t.Errorf("Since(seen) = %+v", got)
	}
	if rest := h.Since(h.Seq()); len(rest) != 0 {
		t.Errorf("Since(current) = %+v, want nothing", rest)
	}
}

// TestHistoryKeepsTurnstilesThatDifferByASeparator adds two distinct
// turnstiles whose fields differ only in where a '|' sits: joined with '|'
// unescaped, their message keys would be equal and the second would be
// dropped as a repeat.
func TestHistoryKeepsTurnstilesThatDifferByASeparator(t *testing.T) {
	h := NewHistory(time.Hour, 0)
	a := row("59 ST", "NQR456W", "00-00-00", t0, 10, 20)
	b := a
	a.CA, a.Unit = "A002|R051", "X"
	b.CA, b.Unit = "A002", "R051|X"
	b.Entries, b.Exits = 1, 2
	mustAdd(t, h, a, Added)
	mustAdd(t, h, b, Added)
	if got, _ := h.Bucket(Station{"59 ST", "NQR456W"}, t0); got.Entries != 11 || got.Exits != 22 {
		t.Errorf("59 ST at t0 = %d/%d, want 11/22", got.Entries, got.Exits)
	}
}
