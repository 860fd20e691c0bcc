package sodatest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func rows() []Row {
	return []Row{
		{"transit_timestamp": "2025-01-14T02:00:00.000", "station_complex_id": "b", "payment_method": "omny", "fare_class_category": "x"},
		{"transit_timestamp": "2025-01-14T01:00:00.000", "station_complex_id": "a", "payment_method": "omny", "fare_class_category": "x"},
		{"transit_timestamp": "2025-01-14T01:00:00.000", "station_complex_id": "b", "payment_method": "omny", "fare_class_category": "x"},
		{"transit_timestamp": "2025-01-14T03:00:00.000", "station_complex_id": "O'Hare", "payment_method": "omny", "fare_class_category": "x"},
	}
}

func get(t *testing.T, base string, q url.Values) (int, []Row, string) {
	t.Helper()
	resp, err := http.Get(base + "/resource/5wq4-mkjj.json?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []Row
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, out, string(body)
}

func complexes(rs []Row) string {
	var b []string
	for _, r := range rs {
		b = append(b, r["transit_timestamp"].(string)[11:13]+r["station_complex_id"].(string))
	}
	return strings.Join(b, " ")
}

func TestQuery(t *testing.T) {
	base := Start(t, New(rows(), Options{}))
	tests := []struct {
		name   string
		q      url.Values
		status int
		want   string // rows as HHcomplex, or a piece of the error
	}{
		{"no order: as given", url.Values{}, 200, "02b 01a 01b 03O'Hare"},
		{"order", url.Values{"$order": {"transit_timestamp,station_complex_id"}}, 200, "01a 01b 02b 03O'Hare"},
		{"order desc", url.Values{"$order": {"transit_timestamp DESC"}}, 200, "03O'Hare 02b 01a 01b"},
		{"limit and offset", url.Values{"$order": {"transit_timestamp,station_complex_id"}, "$limit": {"2"}, "$offset": {"1"}}, 200, "01b 02b"},
		{"tuple after", url.Values{"$order": {"transit_timestamp,station_complex_id"},
			"$where": {"transit_timestamp > '2025-01-14T01:00:00' OR (transit_timestamp = '2025-01-14T01:00:00.000' AND station_complex_id > 'a')"}}, 200, "01b 02b 03O'Hare"},
		{"quoted quote", url.Values{"$where": {"station_complex_id = 'O''Hare'"}}, 200, "03O'Hare"},
		{"keywords any case", url.Values{"$where": {"station_complex_id = 'a' or station_complex_id <> 'b' and payment_method = 'omny'"}}, 200, "01a 03O'Hare"},
		{"limit too big", url.Values{"$limit": {"50001"}}, 400, "maximum is 50000"},
		{"limit not a number", url.Values{"$limit": {"ten"}}, 400, "$limit"},
		{"unknown parameter", url.Values{"$select": {"*"}}, 400, "unknown parameter $select"},
		{"column filter", url.Values{"borough": {"Bronx"}}, 400, "unknown parameter borough"},
		{"unknown column", url.Values{"$where": {"nope = 'x'"}}, 400, "no such column"},
		{"unknown order column", url.Values{"$order": {"nope"}}, 400, "no such column"},
		{"unterminated literal", url.Values{"$where": {"borough = 'x"}}, 400, "unterminated"},
		{"missing paren", url.Values{"$where": {"(borough = 'x'"}}, 400, "missing )"},
		{"trailing garbage", url.Values{"$where": {"borough = 'x' borough"}}, 400, "unexpected"},
		{"number literal", url.Values{"$where": {"borough = 3"}}, 400, "unexpected"},
		{"bad timestamp literal", url.Values{"$where": {"transit_timestamp > 'yesterday'"}}, 400, "floating timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got, body := get(t, base, tt.q)
			if status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, body, tt.status)
			}
			if status == 200 && complexes(got) != tt.want || status != 200 && !strings.Contains(body, tt.want) {
				t.Errorf("got %q / %s, want %q", complexes(got), body, tt.want)
			}
		})
	}
}

func TestFaultsTokenAndClock(t *testing.T) {
	var now atomic.Int64 // the data clock, Unix seconds: the handler reads it on its own goroutine
	now.Store(time.Date(2025, 1, 14, 1, 30, 0, 0, time.UTC).Unix())
	s := New(rows(), Options{AppToken: "t", Now: func() time.Time { return time.Unix(now.Load(), 0) }})
	base := Start(t, s)
	s.Fail(Fault{Status: 429, RetryAfter: "7"}, Fault{Status: 500})
	do := func(token string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", base+"/resource/5wq4-mkjj.json", nil)
		if token != "" {
			req.Header.Set("X-App-Token", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := do(""); resp.StatusCode != 403 {
		t.Errorf("without a token: %d, want 403", resp.StatusCode)
	}
	if resp, _ := do("t"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("first fault: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, _ := do("t"); resp.StatusCode != 500 {
		t.Errorf("second fault: %d", resp.StatusCode)
	}
	resp, body := do("t")
	var got []Row
	json.Unmarshal([]byte(body), &got)
	if resp.StatusCode != 200 || complexes(got) != "01a 01b" {
		t.Errorf("at 01:30: %d %q, want the two 01:00 rows", resp.StatusCode, complexes(got))
	}
	now.Add(2 * 3600)
	_, body = do("t")
	json.Unmarshal([]byte(body), &got)
	if complexes(got) != "02b 01a 01b 03O'Hare" {
		t.Errorf("at 03:30: %q, want every row", complexes(got))
	}
	if n := len(s.Requests()); n != 5 || s.Requests()[0].Status != 403 {
		t.Errorf("%d requests recorded: %+v", n, s.Requests())
	}
}

func TestClock(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Date(2025, 1, 14, 0, 0, 0, 0, time.UTC)
	c := Clock(start, 3600, func() time.Time { return wall })
	wall = wall.Add(2 * time.Second)
	if got := c(); !got.Equal(start.Add(2 * time.Hour)) {
		t.Errorf("after 2 s at x3600: %v, want %v", got, start.Add(2*time.Hour))
	}
}
