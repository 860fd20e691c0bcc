package ridership

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/ridership/sodatest"
)

func TestPollPagesWithTiesAtPageEdges(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hours    int
		pageSize int
	}{
		{"page edges inside ties", 3, 7},      // 36 rows: 5 full pages and a short one
		{"exact multiple of the page", 3, 12}, // 36 rows: 3 full pages and an empty one
		{"one page", 1, 50000},
		{"page of one row", 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := tiedRows(tc.hours)
			srv := sodatest.New(rows, sodatest.Options{})
			cfg, sink, _, _, _ := testConfig(t, sodatest.Start(t, srv))
			cfg.PageSize = tc.pageSize
			s, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ids(sink.records(t)), expectedIDs(t, rows); !slices.Equal(got, want) {
				t.Fatalf("sent %d messages, want the %d rows once each in order\ngot  %v\nwant %v", len(got), len(want), got, want)
			}
			if s.Read != int64(len(rows)) || s.Sent != int64(len(rows)) || !s.OK() || !sink.closed {
				t.Errorf("summary %+v (sink closed %v), want %d read and sent", s, sink.closed, len(rows))
			}
			reqs := srv.Requests()
			if want := len(rows)/tc.pageSize + 1; len(reqs) != want {
				t.Errorf("%d requests, want %d", len(reqs), want)
			}
			for _, r := range reqs {
				if r.Query.Get("$order") != Order || r.Query.Get("$limit") != strconv.Itoa(tc.pageSize) || r.Status != 200 {
					t.Errorf("request %v answered %d, want $order=%s $limit=%d and 200", r.Query, r.Status, Order, tc.pageSize)
				}
			}
		})
	}
}

func TestPollRetries(t *testing.T) {
	tests := []struct {
		name   string
		faults []sodatest.Fault
		sleeps []time.Duration
	}{
		{"429 with Retry-After", []sodatest.Fault{{Status: 429, RetryAfter: "3"}}, []time.Duration{3 * time.Second}},
		{"429 without Retry-After", []sodatest.Fault{{Status: 429}}, []time.Duration{time.Second}},
		{"5xx with backoff", []sodatest.Fault{{Status: 500}, {Status: 503}, {Status: 502}},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{"huge Retry-After is capped", []sodatest.Fault{{Status: 503, RetryAfter: "86400"}}, []time.Duration{2 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := tiedRows(1)
			srv := sodatest.New(rows, sodatest.Options{})
			srv.Fail(tt.faults...)
			cfg, sink, sl, _, _ := testConfig(t, sodatest.Start(t, srv))
			if _, err := Run(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sl.d, tt.sleeps) {
				t.Errorf("waits %v, want %v", sl.d, tt.sleeps)
			}
			if got, want := ids(sink.records(t)), expectedIDs(t, rows); !slices.Equal(got, want) {
				t.Errorf("sent %d messages, want %d", len(got), len(want))
			}
		})
	}
}

func TestPollFailures(t *testing.T) {
	tests := []struct {
		name     string
		opts     sodatest.Options
		faults   []sodatest.Fault
		token    string
		want     string
		requests int
	}{
		{"400 is not retried", sodatest.Options{}, []sodatest.Fault{{Status: 400}}, "", "HTTP 400", 1},
		{"403 names the token", sodatest.Options{AppToken: "right"}, nil, "wrong-token-value", "check the app token", 1},
		{"too many 500s", sodatest.Options{}, slices.Repeat([]sodatest.Fault{{Status: 500}}, 11), "", "giving up after 10 retries", 11},
		{"unknown dataset", sodatest.Options{Dataset: "other-id"}, nil, "", "HTTP 404", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := sodatest.New(tiedRows(1), tt.opts)
			srv.Fail(tt.faults...)
			cfg, sink, _, logBuf, _ := testConfig(t, sodatest.Start(t, srv))
			cfg.AppToken = tt.token
			_, err := Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want an error with %q", err, tt.want)
			}
			if tt.token != "" && (strings.Contains(err.Error(), tt.token) || strings.Contains(logBuf.String(), tt.token)) {
				t.Errorf("the token shows in the error or the log: %v\n%s", err, logBuf)
			}
			if n := len(srv.Requests()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if len(sink.msgs) != 0 || !sink.closed {
				t.Errorf("sent %d messages (closed %v), want none and a closed sink", len(sink.msgs), sink.closed)
			}
		})
	}
}

// TestPollFollowsLiveData: without --to, a short (here empty) page is the
// end for now; the poller waits the poll interval and asks again.
func TestPollFollowsLiveData(t *testing.T) {
	srv := sodatest.New(nil, sodatest.Options{})
	cfg, sink, sl, _, _ := testConfig(t, sodatest.Start(t, srv))
	cfg.To = time.Time{}
	cfg.PollInterval = 90 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := tiedRows(1)
	later := []sodatest.Row{mkRow("2025-01-14T05:00:00.000", "611", "omny", "Full Fare", "3")}
	sl.on = func(n int, d time.Duration) error {
		switch n {
		case 1: // after the empty page
			srv.Add(first...)
		case 2: // after the first rows
			srv.Add(later...)
		default:
			cancel()
		}
		return nil
	}
	s, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Interrupted {
		t.Errorf("summary %+v, want interrupted", s)
	}
	want := append(expectedIDs(t, first), expectedIDs(t, later)...)
	if got := ids(sink.records(t)); !slices.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if len(sl.d) != 3 || sl.d[0] != 90*time.Second || sl.d[2] != 90*time.Second {
		t.Errorf("waits %v, want three of the poll interval", sl.d)
	}
	reqs := srv.Requests()
	if len(reqs) == 0 || reqs[0].Query.Get("$where") != "" {
		t.Fatalf("first request %v, want no $where", reqs)
	}
	// empty; a full page of 7 and a short one of 5; the later row.
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	// The last page starts after the last of the first rows.
	if w := reqs[3].Query.Get("$where"); !strings.HasPrefix(w, "(transit_timestamp > '2025-01-14T00:00:00.000' OR") || !strings.Contains(w, "station_complex_id = 'TRAM1'") {
		t.Errorf("last $where %q, want it after the last row, TRAM1 at 00:00", w)
	}
}

func TestPollBadRows(t *testing.T) {
	good := tiedRows(1)
	bad := func(edit func(sodatest.Row)) sodatest.Row {
		r := mkRow("2025-01-14T00:00:00.000", "900", "omny", "Full Fare", "5")
		edit(r)
		return r
	}
	badRows := []sodatest.Row{
		bad(func(r sodatest.Row) { r["ridership"] = "abc" }),
		bad(func(r sodatest.Row) { r["ridership"] = "12.5"; r["payment_method"] = "p2" }),
		bad(func(r sodatest.Row) { delete(r, "borough"); r["payment_method"] = "p3" }),
		bad(func(r sodatest.Row) { r["transfers"] = "-1"; r["payment_method"] = "p4" }),
		bad(func(r sodatest.Row) { r["fare_class_category"] = nil; r["payment_method"] = "p5" }),
		bad(func(r sodatest.Row) { r["ridership"] = ""; r["payment_method"] = "p6" }),
	}
	// Accepted oddities: a number instead of a string, a ".0" fraction.
	odd := []sodatest.Row{
		bad(func(r sodatest.Row) { r["ridership"] = 12; r["payment_method"] = "q1" }),
		bad(func(r sodatest.Row) { r["ridership"] = "12.0"; r["transfers"] = "0.00"; r["payment_method"] = "q2" }),
	}
	srv := sodatest.New(slices.Concat(good, badRows, odd), sodatest.Options{})
	cfg, sink, _, _, rejects := testConfig(t, sodatest.Start(t, srv))
	cfg.PageSize = 5
	s, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(rejects.String(), "\n"), "\n")
	wantReasons := []string{`ridership "abc"`, `ridership "12.5"`, "borough is missing", `transfers "-1"`, "fare_class_category is missing", `ridership ""`}
	if len(lines) != len(wantReasons) {
		t.Fatalf("rejects:\n%s\nwant %d lines", rejects, len(wantReasons))
	}
	for _, reason := range wantReasons {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, "dataset 5wq4-mkjj page ") && strings.Contains(l, reason) {
				found = true
			}
		}
		if !found {
			t.Errorf("no reject line with %q in\n%s", reason, rejects)
		}
	}
	recs := sink.records(t)
	if want := len(good) + len(odd); len(recs) != want || s.Skipped != int64(len(badRows)) || s.Read != int64(len(good)+len(badRows)+len(odd)) {
		t.Errorf("sent %d, summary %+v; want %d sent, %d skipped", len(recs), s, want, len(badRows))
	}
	for _, r := range recs {
		if r.StationComplexID == "900" && (r.Ridership != 12 || r.Transfers != 0 && r.PaymentMethod == "q2") {
			t.Errorf("odd row read as %+v, want ridership 12", r)
		}
	}
}

func TestPollTokenSentNeverLogged(t *testing.T) {
	const token = "tok-5ecret-value"
	srv := sodatest.New(append(tiedRows(1), mkRow("2025-01-14T00:00:00.000", "999", "omny", "x", "bad")), sodatest.Options{AppToken: token})
	srv.Fail(sodatest.Fault{Status: 429}, sodatest.Fault{Status: 500})
	cfg, sink, _, logBuf, rejects := testConfig(t, sodatest.Start(t, srv))
	cfg.AppToken = token
	cfg.Logger.Info("config", "cfg", cfg) // as a caller might
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests() {
		if r.AppToken != token {
			t.Errorf("request %v sent X-App-Token %q, want the token", r.Query, r.AppToken)
		}
		if strings.Contains(r.Query.Encode(), token) {
			t.Errorf("the token is in the URL: %v", r.Query)
		}
	}
	if len(sink.msgs) != 12 || rejects.Len() == 0 || !strings.Contains(logBuf.String(), "retrying") {
		t.Fatalf("sent %d, rejects %q, log:\n%s", len(sink.msgs), rejects, logBuf)
	}
	if strings.Contains(logBuf.String()+rejects.String(), token) {
		t.Errorf("the token shows in the log or the rejects:\n%s\n%s", logBuf, rejects)
	}
	if !strings.Contains(logBuf.String(), "app_token=true") {
		t.Errorf("the log does not say a token is used:\n%s", logBuf)
	}
}

func TestPollFromTo(t *testing.T) {
	rows := tiedRows(6) // hours 0-5
	srv := sodatest.New(rows, sodatest.Options{})
	cfg, sink, _, _, _ := testConfig(t, sodatest.Start(t, srv))
	cfg.From = time.Date(2025, 1, 14, 2, 0, 0, 0, time.UTC)
	cfg.To = time.Date(2025, 1, 14, 4, 0, 0, 0, time.UTC)
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	var want []sodatest.Row
	for _, r := range rows {
		if ts := r["transit_timestamp"].(string); ts >= "2025-01-14T02" && ts < "2025-01-14T04" {
			want = append(want, r)
		}
	}
	if got := ids(sink.records(t)); !slices.Equal(got, expectedIDs(t, want)) {
		t.Errorf("sent %d messages, want the %d rows of hours 2 and 3", len(got), len(want))
	}
	if w := srv.Requests()[0].Query.Get("$where"); w != "transit_timestamp >= '2025-01-14T02:00:00' AND transit_timestamp < '2025-01-14T04:00:00'" {
		t.Errorf("first $where %q", w)
	}
}

// TestRestartMidPage: a run stopped in the middle of a page saves the cursor
// of the last delivered row; the next run sends the rest, nothing twice.
func TestRestartMidPage(t *testing.T) {
	rows := tiedRows(3)
	all := expectedIDs(t, rows)
	state := filepath.Join(t.TempDir(), "ridership.state")
	srv := sodatest.New(rows, sodatest.Options{})
	url := sodatest.Start(t, srv)

	cfg, sink1, _, _, _ := testConfig(t, url)
	cfg.StateFile = state
	ctx, cancel := context.WithCancel(context.Background())
	sink1.onSend = func(n int) {
		if n == 10 { // in the second page of 7
			cancel()
		}
	}
	s, err := Run(ctx, cfg)
	if err != nil || !s.Interrupted {
		t.Fatalf("first run: %+v, %v; want interrupted", s, err)
	}
	first := ids(sink1.records(t))
	if !slices.Equal(first, all[:10]) {
		t.Fatalf("first run sent %v, want the first 10 rows", first)
	}
	st, err := LoadState(state)
	if err != nil || st.Dataset != "5wq4-mkjj" || st.Cursor.IsZero() {
		t.Fatalf("state %+v, %v", st, err)
	}

	cfg2, sink2, _, _, _ := testConfig(t, url)
	cfg2.StateFile = state
	if _, err := Run(context.Background(), cfg2); err != nil {
		t.Fatal(err)
	}
	second := ids(sink2.records(t))
	if got := append(slices.Clone(first), second...); !slices.Equal(got, all) {
		t.Errorf("the two runs sent %d messages, want the %d rows once each:\nfirst  %v\nsecond %v", len(got), len(all), first, second)
	}
}

// TestCrashBeforeStateWrite: when the process dies after a page is
// delivered but before its state write, the state file still holds the
// previous page's cursor: the next run re-sends exactly that one page, with
// the same IDs.
func TestCrashBeforeStateWrite(t *testing.T) {
	rows := tiedRows(3)
	all := expectedIDs(t, rows)
	dir := t.TempDir()
	state := filepath.Join(dir, "ridership.state")
	srv := sodatest.New(rows, sodatest.Options{})
	url := sodatest.Start(t, srv)

	// The first run: two pages of 7, then it stops.
	cfg, sink1, _, _, _ := testConfig(t, url)
	cfg.StateFile = state
	ctx, cancel := context.WithCancel(context.Background())
	var afterPage1 []byte
	sink1.onSend = func(n int) {
		if n == 8 { // the first page's state is written by now
			var err error
			if afterPage1, err = os.ReadFile(state); err != nil {
				t.Error(err)
			}
		}
		if n == 14 {
			cancel()
		}
	}
	if _, err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	first := ids(sink1.records(t))
	// The crash: the second page's state write never happened.
	if err := os.WriteFile(state, afterPage1, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg2, sink2, _, _, _ := testConfig(t, url)
	cfg2.StateFile = state
	if _, err := Run(context.Background(), cfg2); err != nil {
		t.Fatal(err)
	}
	second := ids(sink2.records(t))
	if !slices.Equal(first, all[:14]) || !slices.Equal(second, all[7:]) {
		t.Errorf("first run sent %d, second %d; want rows 1-14, then 8-%d (one page again)", len(first), len(second), len(all))
	}
}

func TestStateFileOfAnotherDataset(t *testing.T) {
	state := filepath.Join(t.TempDir(), "s.json")
	if err := SaveState(state, State{Dataset: "wujg-7c2s", Cursor: Cursor{"2024-01-01T00:00:00.000", "1", "omny", "x"}}); err != nil {
		t.Fatal(err)
	}
	cfg, _, _, _, _ := testConfig(t, "http://127.0.0.1:1")
	cfg.StateFile = state
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "follows dataset wujg-7c2s") {
		t.Errorf("Run = %v, want a dataset mismatch error", err)
	}
	if err := os.WriteFile(state, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Run = %v, want a corrupt state error", err)
	}
}

func TestCursorAfterQuotes(t *testing.T) {
	c := Cursor{"2025-01-14T00:00:00.000", "O'Hare", "omny", "it's"}
	want := "(transit_timestamp > '2025-01-14T00:00:00.000' OR (transit_timestamp = '2025-01-14T00:00:00.000' AND " +
		"(station_complex_id > 'O''Hare' OR (station_complex_id = 'O''Hare' AND (payment_method > 'omny' OR " +
		"(payment_method = 'omny' AND (fare_class_category > 'it''s')))))))"
	if got := c.After(); got != want {
		t.Errorf("After =\n%s\nwant\n%s", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg, _, _, _, _ := testConfig(t, "http://x")
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no source", func(c *Config) { c.Dataset = "" }, "choose a source"},
		{"both sources", func(c *Config) { c.Inputs = []string{"x.csv"} }, "exclusive"},
		{"state file with a replay", func(c *Config) { c.Dataset, c.Inputs, c.StateFile = "", []string{"x"}, "s" }, "--state-file"},
		{"page too big", func(c *Config) { c.PageSize = 50001 }, "page size"},
		{"from after to", func(c *Config) { c.From = c.To }, "not before"},
		{"no sink", func(c *Config) { c.Sink = nil }, "Sink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			tt.edit(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate of a good config = %v", err)
	}
}

func TestReadAppToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	os.WriteFile(file, []byte("  abc123\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	t.Setenv(TokenEnv, "from-env")
	for _, tt := range []struct {
		file, want string
		err        bool
	}{{file, "abc123", false}, {"", "from-env", false}, {empty, "", true}, {filepath.Join(dir, "none"), "", true}} {
		got, err := ReadAppToken(tt.file)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ReadAppToken(%q) = %q, %v; want %q, error %v", tt.file, got, err, tt.want, tt.err)
		}
	}
}

// failingSink accepts messages but reports each as failed delivery.
type failingSink struct{ memSink }

func (s *failingSink) Send(ctx context.Context, key, value []byte) error {
	s.msgs = append(s.msgs, msg{string(key), string(value)})
	s.counters.Failed.Add(1)
	return nil
}

// TestStateWaitsForDelivery: a page whose messages fail delivery does not
// move the cursor, so the next run sends it again.
func TestStateWaitsForDelivery(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	srv := sodatest.New(tiedRows(1), sodatest.Options{})
	cfg, _, _, _, _ := testConfig(t, sodatest.Start(t, srv))
	sink := &failingSink{memSink{counters: cfg.Counters}}
	cfg.Sink, cfg.StateFile = sink, state
	s, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "failed delivery") || s.OK() {
		t.Fatalf("Run = %+v, %v; want a delivery error", s, err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file written although nothing was delivered (stat: %v)", err)
	}
	if len(sink.msgs) != 7 || len(srv.Requests()) != 1 {
		t.Errorf("%d messages, %d requests; want the first page only", len(sink.msgs), len(srv.Requests()))
	}
}

// TestLiveFeedOnAClock: the sample served on a data clock that moves one
// hour per poll, as tools/soda-local --speed does: every row is sent once,
// in order, hour after hour.
func TestLiveFeedOnAClock(t *testing.T) {
	rows, err := sodatest.LoadRows(readSample(t, "sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hour atomic.Int64 // data hours since 2025-01-14 00:00, read by the server's goroutine
	start := time.Date(2025, 1, 14, 0, 0, 0, 0, time.UTC)
	srv := sodatest.New(rows, sodatest.Options{Now: func() time.Time { return start.Add(time.Duration(hour.Load()) * time.Hour) }})
	cfg, sink, sl, _, _ := testConfig(t, sodatest.Start(t, srv))
	cfg.To, cfg.PageSize = time.Time{}, 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sl.on = func(int, time.Duration) error {
		if hour.Add(1) > 48 {
			cancel()
		}
		return nil
	}
	if _, err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(sink.records(t)), expectedIDs(t, rows); !slices.Equal(got, want) {
		t.Errorf("sent %d messages, want the %d sample rows once each, in order", len(got), len(want))
	}
	if len(sl.d) != 49 {
		t.Errorf("%d polls, want one per data hour (49)", len(sl.d))
	}
}
