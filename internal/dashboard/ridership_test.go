package dashboard

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// r0 is a ridership window end: 2025-01-14 09:00 (naive New York time read
// as UTC).
var r0 = time.Date(2025, 1, 14, 9, 0, 0, 0, time.UTC).Unix()

// rrow is a row of one station complex, payment method and fare class in
// the 1-hour window that ends at end.
func rrow(id, payment, fare string, end, riders, transfers int64) ridership.WindowRow {
	names := map[string][2]string{
		"611":   {"Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)", "Manhattan"},
		"636":   {"Jay St-MetroTech (A,C,F,R)", "Brooklyn"},
		"TRAM1": {"RIT-Manhattan (R042)", "Manhattan"},
	}
	return ridership.WindowRow{
		Key: ridership.Key{StationComplexID: id, StationComplex: names[id][0], Borough: names[id][1],
			PaymentMethod: payment, FareClassCategory: fare},
		Start: end - 3600, End: end, Ridership: riders, Transfers: transfers,
	}
}

func TestRidershipHistory(t *testing.T) {
	type add struct {
		r    ridership.WindowRow
		want AddResult
	}
	for _, tc := range []struct {
		name    string
		limit   time.Duration
		maxRows int
		adds    []add
		want    RidershipSummary // the counters (Added, ...) are not History's
	}{
		{
			name: "payment methods and fare classes sum per complex and window", limit: 24 * time.Hour,
			adds: []add{
				{rrow("611", "omny", "OMNY - Full Fare", r0, 100, 5), Added},
				{rrow("611", "metrocard", "Metrocard - Full Fare", r0, 20, 1), Added},
				{rrow("636", "omny", "OMNY - Full Fare", r0, 50, 2), Added},
				{rrow("611", "omny", "OMNY - Full Fare", r0+3600, 7, 0), Added},
			},
			want: RidershipSummary{Newest: r0 + 3600, Oldest: r0, WindowSeconds: 3600, HistorySeconds: 86400, Rows: 4,
				Hours: []RidershipHour{{r0, 170, 8}, {r0 + 3600, 7, 0}},
				Busiest: []ComplexCount{
					{ID: "611", Name: "Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)", Borough: "Manhattan", Ridership: 127, Transfers: 6, Latest: 7},
					{ID: "636", Name: "Jay St-MetroTech (A,C,F,R)", Borough: "Brooklyn", Ridership: 50, Transfers: 2, Latest: 0},
				}},
		},
		{
			name: "a repeated key counts once, even with other counts", limit: 24 * time.Hour,
			adds: []add{
				{rrow("636", "omny", "OMNY - Students", r0, 10, 1), Added},
				{rrow("636", "omny", "OMNY - Students", r0, 10, 1), Duplicate},
				{rrow("636", "omny", "OMNY - Students", r0, 99, 9), Duplicate},
				{rrow("636", "omny", "OMNY - Seniors & Disability", r0, 3, 0), Added},
			},
			want: RidershipSummary{Newest: r0, Oldest: r0, WindowSeconds: 3600, HistorySeconds: 86400, Rows: 2,
				Hours:   []RidershipHour{{r0, 13, 1}},
				Busiest: []ComplexCount{{ID: "636", Name: "Jay St-MetroTech (A,C,F,R)", Borough: "Brooklyn", Ridership: 13, Transfers: 1, Latest: 13}}},
		},
		{
			name: "windows at or before newest - limit go, and come back too old", limit: 2 * time.Hour,
			adds: []add{
				{rrow("611", "omny", "OMNY - Full Fare", r0, 1, 0), Added},
				{rrow("611", "omny", "OMNY - Full Fare", r0+3600, 2, 0), Added},
				{rrow("611", "omny", "OMNY - Full Fare", r0+7200, 4, 0), Added}, // evicts r0
				{rrow("636", "omny", "OMNY - Full Fare", r0, 8, 0), TooOld},
				{rrow("636", "omny", "OMNY - Full Fare", r0+3600, 16, 0), Added}, // late but inside
			},
			want: RidershipSummary{Newest: r0 + 7200, Oldest: r0 + 3600, WindowSeconds: 3600, HistorySeconds: 7200, Rows: 3,
				Hours: []RidershipHour{{r0 + 3600, 18, 0}, {r0 + 7200, 4, 0}},
				Busiest: []ComplexCount{
					{ID: "636", Name: "Jay St-MetroTech (A,C,F,R)", Borough: "Brooklyn", Ridership: 16},
					{ID: "611", Name: "Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)", Borough: "Manhattan", Ridership: 6, Latest: 4},
				}},
		},
		{
			name: "the row bound evicts the oldest windows but never the newest", limit: 24 * time.Hour, maxRows: 2,
			adds: []add{
				{rrow("611", "omny", "OMNY - Full Fare", r0, 1, 0), Added},
				{rrow("611", "omny", "OMNY - Full Fare", r0+3600, 2, 0), Added},
				{rrow("611", "omny", "OMNY - Students", r0+3600, 3, 0), Added}, // 3 rows: r0 goes
				{rrow("611", "omny", "OMNY - Seniors & Disability", r0+3600, 4, 0), Added},
			},
			want: RidershipSummary{Newest: r0 + 3600, Oldest: r0 + 3600, WindowSeconds: 3600, HistorySeconds: 86400, Rows: 3,
				Hours:   []RidershipHour{{r0 + 3600, 9, 0}},
				Busiest: []ComplexCount{{ID: "611", Name: "Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)", Borough: "Manhattan", Ridership: 9, Latest: 9}}},
		},
		{
			name: "ties go by station_complex_id", limit: 24 * time.Hour,
			adds: []add{
				{rrow("TRAM1", "omny", "OMNY - Full Fare", r0, 5, 0), Added},
				{rrow("636", "omny", "OMNY - Full Fare", r0, 5, 0), Added},
				{rrow("611", "omny", "OMNY - Full Fare", r0, 5, 0), Added},
			},
			want: RidershipSummary{Newest: r0, Oldest: r0, WindowSeconds: 3600, HistorySeconds: 86400, Rows: 3,
				Hours: []RidershipHour{{r0, 15, 0}},
				Busiest: []ComplexCount{
					{ID: "611", Name: "Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)", Borough: "Manhattan", Ridership: 5, Latest: 5},
					{ID: "636", Name: "Jay St-MetroTech (A,C,F,R)", Borough: "Brooklyn", Ridership: 5, Latest: 5},
					{ID: "TRAM1", Name: "RIT-Manhattan (R042)", Borough: "Manhattan", Ridership: 5, Latest: 5},
				}},
		},
		{
			name: "empty", limit: time.Hour,
			want: RidershipSummary{HistorySeconds: 3600, Hours: []RidershipHour{}, Busiest: []ComplexCount{}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewRidershipHistory(tc.limit, tc.maxRows)
			for i, a := range tc.adds {
				if got := h.Add(&a.r); got != a.want {
					t.Fatalf("add %d (%s %s %s end %+d): %d, want %d", i, a.r.StationComplexID, a.r.PaymentMethod,
						a.r.FareClassCategory, a.r.End-r0, got, a.want)
				}
			}
			if got := h.Summary(BusiestComplexes); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Summary:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestRidershipSummaryKeepsTheTop(t *testing.T) {
	h := NewRidershipHistory(24*time.Hour, 0)
	for i := range int64(BusiestComplexes + 5) {
		r := rrow("611", "omny", "OMNY - Full Fare", r0, i+1, 0)
		r.StationComplexID = string(rune('A' + i))
		h.Add(&r)
	}
	s := h.Summary(BusiestComplexes)
	if len(s.Busiest) != BusiestComplexes || s.Busiest[0].Ridership != BusiestComplexes+5 || s.Busiest[BusiestComplexes-1].Ridership != 6 {
		t.Errorf("Busiest = %+v, want the %d largest, most first", s.Busiest, BusiestComplexes)
	}
	if s.Hours[0].Ridership != (BusiestComplexes+5)*(BusiestComplexes+6)/2 {
		t.Errorf("the hour's total %d counts only the top complexes", s.Hours[0].Ridership)
	}
}

// ridershipEvent returns the summary of a "ridership" event.
func ridershipEvent(t *testing.T, ev sse) RidershipSummary {
	t.Helper()
	if ev.event != "ridership" {
		t.Fatalf("event %q, want ridership", ev.event)
	}
	var s RidershipSummary
	if err := json.Unmarshal(ev.data, &s); err != nil {
		t.Fatalf("ridership data %s: %v", ev.data, err)
	}
	return s
}

func TestDashboardRidershipMessages(t *testing.T) {
	now := time.Unix(r0, 0)
	d := New(Config{History: 24 * time.Hour, MaxFuture: time.Hour, Ridership: true, Now: func() time.Time { return now }})
	good := rrow("611", "omny", "OMNY - Full Fare", r0, 100, 4)
	future := rrow("611", "omny", "OMNY - Full Fare", r0+3*3600, 1, 0)
	wrongKey := rrow("636", "omny", "OMNY - Full Fare", r0, 1, 0)
	for _, tc := range []struct {
		name    string
		r       *ridership.WindowRow
		key     []byte // nil: the row's own
		value   []byte // nil: the row's own
		wantErr string
	}{
		{name: "a row", r: &good},
		{name: "its repeat", r: &good},
		{name: "from the future", r: &future},
		{name: "key of another row", r: &wrongKey, key: []byte("611|x|y|z|w|1")},
		{name: "not a ridership row", value: []byte("A002,R051,02-00-00,59 ST,NQR456W,BMT,REGULAR,2019-05-04 12:00:00,2019-05-04 12:05:00,1,2"), wantErr: "ridership window row"},
		{name: "empty value", value: []byte{}, wantErr: "empty"},
	} {
		var key, value []byte
		var headers []turnstile.Header
		if tc.r != nil {
			key, value, headers = ridership.EncodeWindowMessage(tc.r)
		}
		if tc.key != nil {
			key = tc.key
			tc.wantErr = "does not match"
		}
		if tc.value != nil {
			value = tc.value
		}
		err := d.AddRidershipMessage(key, value, headers)
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	s := d.State().Ridership
	if s == nil {
		t.Fatal("State has no ridership summary")
	}
	if s.Added != 1 || s.Duplicates != 1 || s.Future != 1 || s.Bad != 3 || s.TooOld != 0 || s.Rows != 1 || s.Newest != r0 {
		t.Errorf("summary counters %+v, want 1 added, 1 duplicate, 1 future, 3 bad, newest r0", *s)
	}
	if len(s.Busiest) != 1 || s.Busiest[0].Ridership != 100 || s.Busiest[0].Transfers != 4 {
		t.Errorf("Busiest = %+v", s.Busiest)
	}
	// The turnstile side saw none of it.
	if h := d.Health(); h.Added != 0 || h.Bad != 0 || h.Rows != 0 || !h.Turnstile {
		t.Errorf("turnstile health %+v changed by ridership messages", h)
	}
}

func TestRidershipEvents(t *testing.T) {
	d := New(Config{History: 24 * time.Hour, Ridership: true})
	r := rrow("636", "omny", "OMNY - Full Fare", r0, 42, 1)
	d.AddRidership(&r)

	c := d.Subscribe("")
	if ev := next(t, c); ev.event != "snapshot" {
		t.Fatalf("first event %q, want snapshot", ev.event)
	}
	if ev := next(t, c); ev.event != "health" {
		t.Fatalf("second event %q, want health", ev.event)
	}
	if s := ridershipEvent(t, next(t, c)); s.Newest != r0 || len(s.Hours) != 1 || s.Hours[0].Ridership != 42 {
		t.Errorf("snapshot's ridership summary %+v", s)
	}

	// The first Flush sends the first row's summary again (harmless: it is
	// absolute); one after a new row sends the new summary; one with
	// nothing new sends nothing.
	d.Flush()
	if s := ridershipEvent(t, next(t, c)); s.Rows != 1 {
		t.Errorf("first Flush's summary %+v, want the one row", s)
	}
	r2 := rrow("636", "omny", "OMNY - Full Fare", r0+3600, 8, 0)
	d.AddRidership(&r2)
	d.AddRidership(&r2) // a repeat changes nothing more
	d.Flush()
	d.Flush()
	s := ridershipEvent(t, next(t, c))
	if want := []RidershipHour{{r0, 42, 1}, {r0 + 3600, 8, 0}}; !reflect.DeepEqual(s.Hours, want) || s.Busiest[0].Ridership != 50 || s.Duplicates != 1 {
		t.Errorf("update's summary %+v, want hours %v, 636 at 50, 1 repeat", s, want)
	}
	select {
	case m := <-c.C():
		t.Errorf("a Flush without changes sent %q", m)
	default:
	}
}

func TestNoRidershipPanel(t *testing.T) {
	d := New(Config{History: time.Hour})
	r := rrow("636", "omny", "OMNY - Full Fare", r0, 42, 1)
	if got := d.AddRidership(&r); got != TooOld {
		t.Errorf("AddRidership without Config.Ridership = %d, want TooOld (dropped)", got)
	}
	c := d.Subscribe("")
	next(t, c) // snapshot
	next(t, c) // health
	select {
	case m := <-c.C():
		t.Errorf("without Config.Ridership a browser got %q", m)
	default:
	}
	if d.State().Ridership != nil {
		t.Error("State has a ridership summary without Config.Ridership")
	}
	if d2 := New(Config{NoTurnstile: true, Ridership: true}); d2.Health().Turnstile {
		t.Error("Health.Turnstile is true with Config.NoTurnstile")
	}
}
