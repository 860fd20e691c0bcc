package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership/sodatest"
)

// The hourly ridership sample (testdata/ridership/README.md): 391 rows of
// 2025-01-14 and -15, as the API answers them and as a CSV export.
const (
	ridershipJSON = "../../testdata/ridership/sample.json"
	ridershipCSV  = "../../testdata/ridership/sample.csv"
	sampleRows    = 391
)

// ridershipSample returns the sample's rows and, by record ID, the station
// complex ID and the day of each, computed from the JSON rows themselves
// (not through the producer's reader).
func ridershipSample(t *testing.T) ([]sodatest.Row, map[string]sampleRow) {
	t.Helper()
	data, err := os.ReadFile(ridershipJSON)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := sodatest.LoadRows(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]sampleRow{}
	for _, r := range rows {
		ts, err := time.Parse("2006-01-02T15:04:05.000", r["transit_timestamp"].(string))
		if err != nil {
			t.Fatal(err)
		}
		complexID := r["station_complex_id"].(string)
		id := ridership.RecordID(ts.Unix(), complexID, r["payment_method"].(string), r["fare_class_category"].(string))
		want[id] = sampleRow{complexID: complexID, day: ts.Format(time.DateOnly)}
	}
	if len(rows) != sampleRows || len(want) != sampleRows {
		t.Fatalf("the sample has %d rows, %d distinct IDs; want %d", len(rows), len(want), sampleRows)
	}
	return rows, want
}

type sampleRow struct{ complexID, day string }

// ridershipRecords parses the messages of topic and checks each: a valid
// value, the key its station complex ID, each key in one partition. It
// returns how many times each ID arrived.
func ridershipRecords(t *testing.T, recs []*kgo.Record) map[string]int {
	t.Helper()
	ids := map[string]int{}
	partitionOf := map[string]int32{}
	for _, r := range recs {
		var rec ridership.Record
		if err := ridership.Parse(r.Value, &rec); err != nil {
			t.Fatalf("value %q: %v", r.Value, err)
		}
		if string(r.Key) != rec.StationComplexID {
			t.Errorf("key %q for a record of station complex %s", r.Key, rec.StationComplexID)
		}
		if p, ok := partitionOf[string(r.Key)]; ok && p != r.Partition {
			t.Errorf("station complex %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		partitionOf[string(r.Key)] = r.Partition
		ids[rec.ID]++
	}
	return ids
}

// checkOnce asserts that ids holds exactly the IDs of want, once each.
func checkOnce(t *testing.T, ids map[string]int, want map[string]sampleRow) {
	t.Helper()
	if len(ids) != len(want) {
		t.Errorf("%d distinct IDs arrived, want %d", len(ids), len(want))
	}
	for id, n := range ids {
		if _, ok := want[id]; !ok {
			t.Errorf("ID %s is not a row of the sample", id)
		} else if n != 1 {
			t.Errorf("ID %s arrived %d times", id, n)
		}
	}
}

// TestRidershipAPIToEmbeddedBroker follows the sample through the fake SODA
// endpoint with a token and a bounded --to: every row once in mta-ridership
// (the default topic of --source ridership), exit 0, and the token in no log
// line. A replay of the sample's CSV export publishes the same IDs.
func TestRidershipAPIToEmbeddedBroker(t *testing.T) {
	rows, want := ridershipSample(t)
	const token = "sekrit-app-token-42"
	srv := sodatest.New(rows, sodatest.Options{AppToken: token})
	url := sodatest.Start(t, srv)
	tokenFile := filepath.Join(t.TempDir(), "soda-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := kafkatest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := writeConfig(t, b.Addr())

	code, stdout, stderr := runProducer(context.Background(), "--source", "ridership", "--dataset", "5wq4-mkjj", "--soda-url", url,
		"--app-token-file", tokenFile, "--from", "2025-01-14", "--to", "2025-01-16", "--config", cfg, "--create-topic", "--partitions", "3")
	if code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing in Kafka mode", stdout)
	}
	for _, w := range []string{`msg="created topic" topic=mta-ridership partitions=3`, "app_token=true",
		"msg=summary read=391 sent=391 failed=0 skipped=0 resets=0 duplicates=0 undelivered=0 interrupted=false"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if strings.Contains(stderr, token) {
		t.Error("the app token was logged")
	}
	for _, r := range srv.Requests() {
		if r.AppToken != token || r.Status != http.StatusOK {
			t.Errorf("request %v: token %q, status %d; want the token and 200", r.Query, r.AppToken, r.Status)
		}
	}
	apiIDs := ridershipRecords(t, consumeAll(t, b.Addr(), ridership.Topic, sampleRows))
	checkOnce(t, apiIDs, want)

	// The CSV export of the same rows: the same IDs.
	code, _, stderr = runProducer(context.Background(), "--source", "ridership", "--input", ridershipCSV,
		"--topic", "ridership-from-csv", "--config", cfg, "--create-topic")
	if code != exitOK || !strings.Contains(stderr, "read=391 sent=391 failed=0 skipped=0") {
		t.Fatalf("CSV replay: exit code %d; stderr:\n%s", code, stderr)
	}
	csvIDs := ridershipRecords(t, consumeAll(t, b.Addr(), "ridership-from-csv", sampleRows))
	checkOnce(t, csvIDs, want)
}

// TestRidershipRestartSendsNothingTwice runs the API source three times with
// one --state-file: the first day, then up to the end of the sample, then
// the same again. Every row reaches the topic once; the third run sends
// nothing.
func TestRidershipRestartSendsNothingTwice(t *testing.T) {
	rows, want := ridershipSample(t)
	srv := sodatest.New(rows, sodatest.Options{})
	url := sodatest.Start(t, srv)
	b, err := kafkatest.Start(kafkatest.Topics(4, ridership.Topic))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := writeConfig(t, b.Addr())
	state := filepath.Join(t.TempDir(), "ridership.state")
	args := func(to string) []string {
		return []string{"--source", "ridership", "--dataset", "5wq4-mkjj", "--soda-url", url, "--state-file", state, "--to", to, "--config", cfg}
	}
	firstDay := 0
	for _, r := range want {
		if r.day == "2025-01-14" {
			firstDay++
		}
	}
	if firstDay == 0 || firstDay == sampleRows {
		t.Fatalf("%d rows on the first day: a split that tests nothing", firstDay)
	}

	code, _, stderr := runProducer(context.Background(), args("2025-01-15")...)
	if code != exitOK {
		t.Fatalf("first run: exit code %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "msg=summary read="+strconv.Itoa(firstDay)+" sent="+strconv.Itoa(firstDay)+" failed=0") {
		t.Errorf("first run: want %d rows sent; stderr:\n%s", firstDay, stderr)
	}
	st, err := ridership.LoadState(state)
	if err != nil || st.Dataset != "5wq4-mkjj" || !strings.HasPrefix(st.Cursor.TransitTimestamp, "2025-01-14T23:00:00") {
		t.Errorf("state after the first day = %+v, %v; want the cursor at the last hour of 2025-01-14", st, err)
	}

	code, _, stderr = runProducer(context.Background(), args("2025-01-16")...)
	if code != exitOK {
		t.Fatalf("second run: exit code %d; stderr:\n%s", code, stderr)
	}
	rest := sampleRows - firstDay
	if !strings.Contains(stderr, "msg=summary read="+strconv.Itoa(rest)+" sent="+strconv.Itoa(rest)+" failed=0") {
		t.Errorf("second run: want the %d rows of the second day sent; stderr:\n%s", rest, stderr)
	}

	code, _, stderr = runProducer(context.Background(), args("2025-01-16")...)
	if code != exitOK || !strings.Contains(stderr, "msg=summary read=0 sent=0 failed=0") {
		t.Errorf("third run: exit code %d, want 0 and nothing sent; stderr:\n%s", code, stderr)
	}

	checkOnce(t, ridershipRecords(t, consumeAll(t, b.Addr(), ridership.Topic, sampleRows)), want)
}

// TestRidershipRetriesTooManyRequests answers the first request 429: the
// producer waits (Retry-After: 1), asks again, and still sends every row.
func TestRidershipRetriesTooManyRequests(t *testing.T) {
	rows, want := ridershipSample(t)
	srv := sodatest.New(rows, sodatest.Options{})
	srv.Fail(sodatest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
	url := sodatest.Start(t, srv)
	b, err := kafkatest.Start(kafkatest.Topics(2, ridership.Topic))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := writeConfig(t, b.Addr())
	t.Setenv(ridership.TokenEnv, "")
	code, _, stderr := runProducer(context.Background(), "--source", "ridership", "--dataset", "5wq4-mkjj", "--soda-url", url,
		"--to", "2025-01-16", "--config", cfg)
	if code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	for _, w := range []string{`msg="SODA request failed; retrying"`, "HTTP 429", "retry_in=1s", "no SODA app token",
		"msg=summary read=391 sent=391 failed=0"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	var statuses []int
	for _, r := range srv.Requests() {
		statuses = append(statuses, r.Status)
	}
	if len(statuses) != 2 || statuses[0] != http.StatusTooManyRequests || statuses[1] != http.StatusOK {
		t.Errorf("the server answered %v, want [429 200]", statuses)
	}
	checkOnce(t, ridershipRecords(t, consumeAll(t, b.Addr(), ridership.Topic, sampleRows)), want)
}

// TestRidershipBadRowsAreSkippedAndCounted serves the sample plus two bad
// rows: each is logged as the turnstile replay logs its bad rows, counted
// as skipped, and the run goes on to send every good row (to stdout).
func TestRidershipBadRowsAreSkippedAndCounted(t *testing.T) {
	rows, want := ridershipSample(t)
	bad1 := cloneRow(rows[0])
	bad1["ridership"], bad1["fare_class_category"] = "12.5", "Bad Fare 1"
	bad2 := cloneRow(rows[1])
	bad2["transfers"], bad2["fare_class_category"] = "-3", "Bad Fare 2"
	srv := sodatest.New(append(rows, bad1, bad2), sodatest.Options{})
	url := sodatest.Start(t, srv)
	code, stdout, stderr := runProducer(context.Background(), "--source", "ridership", "--dataset", "5wq4-mkjj", "--soda-url", url,
		"--to", "2025-01-16", "--out", "-")
	if code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	for _, w := range []string{`level=WARN msg="skipping bad row" reject="dataset 5wq4-mkjj page 1 row `, `ridership \"12.5\": not a whole non-negative number`, `transfers \"-3\": not a whole non-negative number`,
		"read=393 sent=391 failed=0 skipped=2"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if n := strings.Count(stderr, `msg="skipping bad row"`); n != 2 {
		t.Errorf("%d bad rows logged, want 2", n)
	}
	ids := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		var rec ridership.Record
		if err := ridership.Parse([]byte(line), &rec); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		ids[rec.ID]++
	}
	checkOnce(t, ids, want)
}

func cloneRow(r sodatest.Row) sodatest.Row {
	out := sodatest.Row{}
	for k, v := range r {
		out[k] = v
	}
	return out
}

// TestRidershipFatalErrors checks that an error the run cannot get past ends
// it with exit code 1 and a message that says what to fix.
func TestRidershipFatalErrors(t *testing.T) {
	rows, _ := ridershipSample(t)
	url := sodatest.Start(t, sodatest.New(rows, sodatest.Options{AppToken: "right"}))
	dir := t.TempDir()
	wrongToken := filepath.Join(dir, "wrong-token")
	os.WriteFile(wrongToken, []byte("wrong\n"), 0o600)
	rightToken := filepath.Join(dir, "right-token")
	os.WriteFile(rightToken, []byte("right\n"), 0o600)
	otherState := filepath.Join(dir, "other.state")
	if err := ridership.SaveState(otherState, ridership.State{Dataset: "wujg-7c2s"}); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.state")
	os.WriteFile(corrupt, []byte("{"), 0o600)
	notExport := filepath.Join(dir, "notes.csv")
	os.WriteFile(notExport, []byte("a,b\n1,2\n"), 0o600)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"wrong token", []string{"--dataset", "5wq4-mkjj", "--app-token-file", wrongToken},
			[]string{`msg="ridership source failed"`, "HTTP 403", "(check the app token)"}},
		{"unknown dataset", []string{"--dataset", "abcd-1234", "--app-token-file", rightToken},
			[]string{`msg="ridership source failed"`, "HTTP 404"}},
		{"state file of another dataset", []string{"--dataset", "5wq4-mkjj", "--app-token-file", rightToken, "--state-file", otherState},
			[]string{"follows dataset wujg-7c2s, not 5wq4-mkjj (use another --state-file)"}},
		{"corrupt state file", []string{"--dataset", "5wq4-mkjj", "--app-token-file", rightToken, "--state-file", corrupt},
			[]string{"is corrupt (remove it to start again at --from)"}},
		{"not an export", []string{"--input", notExport},
			[]string{"header lacks column(s)", "is this an hourly ridership export?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--source", "ridership", "--soda-url", url, "--to", "2025-01-16", "--out", "-"}, tt.args...)
			if tt.args[0] == "--input" {
				args = append([]string{"--source", "ridership", "--out", "-"}, tt.args...)
			}
			code, stdout, stderr := runProducer(context.Background(), args...)
			if code != exitFailure {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitFailure, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

// TestRidershipStopsOnInterrupt follows the dataset without --to (polling)
// and interrupts it once the sample was sent: exit 0, the state file at the
// last row, nothing lost.
func TestRidershipStopsOnInterrupt(t *testing.T) {
	rows, want := ridershipSample(t)
	url := sodatest.Start(t, sodatest.New(rows, sodatest.Options{}))
	state := filepath.Join(t.TempDir(), "ridership.state")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--source", "ridership", "--dataset", "5wq4-mkjj", "--soda-url", url, "--state-file", state,
			"--poll-interval", "1h", "--out", "-", "--log-format", "json"}, &stdout, &stderr)
	}()
	// Wait for the page's progress line: the rows are delivered and the
	// cursor saved; the poller then waits --poll-interval.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), `"msg":"ridership page"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no page was logged:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the producer did not stop after the interrupt")
	}
	if code != exitOK {
		t.Fatalf("exit code %d after an interrupt; stderr:\n%s", code, stderr.String())
	}
	var summary struct {
		Msg         string `json:"msg"`
		Sent        int    `json:"sent"`
		Interrupted bool   `json:"interrupted"`
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, `"msg":"summary"`) {
			if err := json.Unmarshal([]byte(line), &summary); err != nil {
				t.Fatal(err)
			}
		}
	}
	if summary.Sent != sampleRows || !summary.Interrupted {
		t.Errorf("summary %+v, want %d sent and interrupted", summary, sampleRows)
	}
	ids := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
		var rec ridership.Record
		if err := ridership.Parse([]byte(line), &rec); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		ids[rec.ID]++
	}
	checkOnce(t, ids, want)
	if st, err := ridership.LoadState(state); err != nil || !strings.HasPrefix(st.Cursor.TransitTimestamp, "2025-01-15T23:00:00") {
		t.Errorf("state = %+v, %v; want the cursor at the sample's last hour", st, err)
	}
}
