package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sse is one parsed Server-Sent Event.
type sse struct {
	id, event string
	data      []byte
}

func parseEvent(t *testing.T, msg []byte) sse {
	t.Helper()
	var ev sse
	for _, line := range strings.Split(strings.TrimRight(string(msg), "\n"), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "id":
			ev.id = v
		case "event":
			ev.event = v
		case "data":
			ev.data = []byte(v)
		}
	}
	return ev
}

func payload(t *testing.T, ev sse) Payload {
	t.Helper()
	var p Payload
	if err := json.Unmarshal(ev.data, &p); err != nil {
		t.Fatalf("%s data %s: %v", ev.event, ev.data, err)
	}
	return p
}

func next(t *testing.T, c *Client) sse {
	t.Helper()
	select {
	case m, ok := <-c.C():
		if !ok {
			t.Fatal("client dropped")
		}
		return parseEvent(t, m)
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
	return sse{}
}

func TestSubscribeCatchesUp(t *testing.T) {
	d := New(Config{History: time.Hour})
	d.Add(row("A", "1", "00", t0, 10, 20))
	d.Add(row("B", "2", "00", t0, 1, 2))

	first := d.Subscribe("")
	snap := next(t, first)
	if snap.event != "snapshot" || snap.id == "" {
		t.Fatalf("first event %q id %q, want a snapshot with an id", snap.event, snap.id)
	}
	p := payload(t, snap)
	if !p.Reset || len(p.Buckets) != 2 || p.HistorySeconds != 3600 || p.Newest != t0 || p.WindowSeconds != 300 {
		t.Errorf("new browser's snapshot = %+v", p)
	}
	if ev := next(t, first); ev.event != "health" {
		t.Errorf("second event %q, want health", ev.event)
	}
	d.Unsubscribe(first)

	// Changes after the id the browser saw.
	d.Add(row("A", "1", "01", t0, 5, 5))
	d.Add(row("C", "3", "00", t0+300, 7, 8))

	again := d.Subscribe(snap.id)
	p = payload(t, next(t, again))
	if p.Reset || len(p.Buckets) != 2 {
		t.Fatalf("reconnect snapshot = %+v, want the 2 changed buckets without reset", p)
	}
	if b := p.Buckets[0]; b.Name != "A" || b.Entries != 15 || b.Exits != 25 {
		t.Errorf("changed bucket = %+v, want A with totals 15/25", b)
	}
	if b := p.Buckets[1]; b.Name != "C" || b.End != t0+300 {
		t.Errorf("new bucket = %+v", b)
	}
	d.Unsubscribe(again)

	// An id from another run of the dashboard, or garbage: everything, with reset.
	for _, id := range []string{"otherepoch-1", "x", strings.Split(snap.id, "-")[0] + "-999"} {
		c := d.Subscribe(id)
		if p := payload(t, next(t, c)); !p.Reset || len(p.Buckets) != 3 {
			t.Errorf("Subscribe(%q) = reset %v with %d buckets, want a full reset of 3", id, p.Reset, len(p.Buckets))
		}
		d.Unsubscribe(c)
	}
}

func TestFlushSendsChangedBuckets(t *testing.T) {
	d := New(Config{History: time.Hour})
	c := d.Subscribe("")
	next(t, c) // snapshot
	next(t, c) // health
	if n := d.Flush(); n != 0 {
		t.Errorf("Flush with nothing new sent %d buckets", n)
	}
	d.Add(row("A", "1", "00", t0, 10, 20))
	d.Add(row("A", "1", "01", t0, 1, 1))
	d.Add(row("A", "1", "01", t0, 1, 1)) // repeat
	d.Add(row("B", "1", "00", t0, 3, 3))
	if n := d.Flush(); n != 2 {
		t.Errorf("Flush sent %d buckets, want 2", n)
	}
	ev := next(t, c)
	p := payload(t, ev)
	if ev.event != "update" || ev.id == "" || p.Reset || len(p.Buckets) != 2 {
		t.Fatalf("update = %s %+v", ev.event, p)
	}
	got := map[string]int64{}
	for _, b := range p.Buckets {
		got[b.Name] = b.Entries
	}
	if got["A"] != 11 || got["B"] != 3 {
		t.Errorf("update totals = %v, want A 11 and B 3", got)
	}
	h := d.Health()
	if h.Added != 3 || h.Duplicates != 1 || h.Rows != 3 || h.NewestEnd != t0 || h.Clients != 1 {
		t.Errorf("health = %+v", h)
	}
}

func TestSlowBrowserIsDroppedOthersGetEverything(t *testing.T) {
	d := New(Config{History: time.Hour, ClientBuffer: 2})
	slow := d.Subscribe("")
	fast := d.Subscribe("")
	next(t, fast)
	next(t, fast)
	for i := range int64(10) {
		d.Add(row("A", "1", "00", t0+i*300, i, i))
		if d.Flush() != 1 {
			t.Fatal("Flush sent nothing")
		}
		if ev := next(t, fast); ev.event != "update" {
			t.Fatalf("fast browser got %q", ev.event)
		}
	}
	n := 0
	for range slow.C() { // drains, then sees the channel closed
		n++
	}
	if n != 4 { // snapshot, health and the 2 updates its queue held
		t.Errorf("slow browser had %d messages before it was dropped, want 4", n)
	}
	if d.Hub().Dropped() != 1 || d.Hub().Len() != 1 {
		t.Errorf("dropped %d, connected %d", d.Hub().Dropped(), d.Hub().Len())
	}
}

// readEvents reads SSE events from an HTTP response body into a channel.
func readEvents(body io.Reader) <-chan sse {
	ch := make(chan sse, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if ev.event != "" {
					ch <- ev
				}
				ev = sse{}
				continue
			}
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "id":
				ev.id = v
			case "event":
				ev.event = v
			case "data":
				ev.data = []byte(v)
			}
		}
	}()
	return ch
}

func wantEvent(t *testing.T, ch <-chan sse, name string) sse {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatalf("stream ended, want %s", name)
		}
		if ev.event != name {
			t.Fatalf("got event %q, want %q", ev.event, name)
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s event within 5s", name)
	}
	return sse{}
}

func TestEventStreamOverHTTP(t *testing.T) {
	d := New(Config{History: time.Hour})
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	d.Add(row("A", "1", "00", t0, 10, 20))
	d.Flush() // no browser yet: goes nowhere

	get := func(ctx context.Context, lastID string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
			t.Fatalf("GET /events: %s %q", resp.Status, ct)
		}
		return resp
	}
	ctx, cancel := context.WithCancel(context.Background())
	resp := get(ctx, "")
	defer resp.Body.Close()
	events := readEvents(resp.Body)
	snap := wantEvent(t, events, "snapshot")
	if p := payload(t, snap); !p.Reset || len(p.Buckets) != 1 {
		t.Fatalf("snapshot %+v", p)
	}
	wantEvent(t, events, "health")
	d.Add(row("B", "2", "00", t0, 3, 4))
	d.Flush()
	upd := wantEvent(t, events, "update")
	if p := payload(t, upd); len(p.Buckets) != 1 || p.Buckets[0].Name != "B" {
		t.Fatalf("update %+v", p)
	}
	cancel() // the browser goes away
	resp.Body.Close()

	d.Add(row("C", "3", "00", t0+300, 5, 6))
	resp = get(context.Background(), upd.id) // and reconnects with Last-Event-ID
	defer resp.Body.Close()
	events = readEvents(resp.Body)
	p := payload(t, wantEvent(t, events, "snapshot"))
	if p.Reset || len(p.Buckets) != 1 || p.Buckets[0].Name != "C" {
		t.Errorf("catch-up after reconnect = %+v, want only C", p)
	}

	// The page and its assets are served from the binary.
	for path, want := range map[string]string{"/": "<!doctype html>", "/static/app.js": "EventSource", "/static/style.css": "@media", "/healthz": "ok"} {
		r, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s, body without %q", path, r.Status, want)
		}
	}
	r, err := http.Get(srv.URL + "/api/state")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var st State
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Buckets) != 3 || st.Health.Rows != 3 {
		t.Errorf("/api/state = %d buckets, health %+v", len(st.Buckets), st.Health)
	}
}

// TestDashboardIgnoresRowsFromTheFuture feeds one row stamped 2099 among
// rows of the present: it must not become the newest window end, which
// would move the horizon past every real window and empty the history.
func TestDashboardIgnoresRowsFromTheFuture(t *testing.T) {
	now := time.Unix(t0, 0).Add(2 * time.Minute)
	d := New(Config{History: 2 * time.Hour, MaxFuture: time.Hour, Now: func() time.Time { return now }})
	for i, r := range []Row{
		row("59 ST", "NQR456W", "00-00-00", t0, 10, 20),
		row("59 ST", "NQR456W", "00-00-00", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), 1, 1),
		row("59 ST", "NQR456W", "00-00-01", t0, 1, 2),
		row("59 ST", "NQR456W", "00-00-02", t0+3600, 1, 2), // within --max-future of now: kept
		row("59 ST", "NQR456W", "00-00-03", t0+3600+180, 1, 2),
	} {
		want := []AddResult{Added, Future, Added, Added, Future}[i]
		if got := d.Add(r); got != want {
			t.Errorf("row %d (end %s): %s, want %s", i, r.EndTime(), resultName(got), resultName(want))
		}
	}
	h := d.Health()
	if h.Rows != 3 || h.NewestEnd != t0+3600 || h.OldestEnd != t0 || h.Future != 2 {
		t.Errorf("rows %d newest %d oldest %d future %d, want 3 rows from t0 to t0+1h and 2 ignored",
			h.Rows, h.NewestEnd-t0, h.OldestEnd-t0, h.Future)
	}
	// 0 turns the guard off.
	d = New(Config{History: time.Hour, Now: func() time.Time { return now }})
	d.Add(row("59 ST", "NQR456W", "00-00-00", t0, 10, 20))
	if got := d.Add(row("59 ST", "NQR456W", "00-00-00", t0+24*3600, 1, 1)); got != Added || d.Health().Rows != 1 {
		t.Errorf("guard off: %s, %d rows; want added, the old row evicted", resultName(got), d.Health().Rows)
	}
}
