package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/stream/metricname"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

func TestBadFlagsExitWithUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--sink", "s3"},
		{"--kafka-bootstrap", "no-port"},
		{"--speed", "0"},
		{"--partitions", "0"},
		{"--consumer-metrics", "9090"},
		{"--log-level", "loud"},
		{"--source", "bus"},
		{"--source", "ridership", "--soda-speed", "0"},
		{"--source", "ridership", "--poll-interval", "0s"},
		{"--soda-port", "70000"},
		{"--no-such-flag"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), func() {}, args, &stdout, &stderr)
		if code != exitUsage {
			t.Errorf("run %q = %d, want %d", args, code, exitUsage)
		}
		if stderr.Len() == 0 {
			t.Errorf("run %q: no message on stderr", args)
		}
	}
}

func TestRunWithoutBinariesSaysToBuild(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), func() {}, []string{"--bin", filepath.Join(dir, "bin"), "--lake", filepath.Join(dir, "lake")}, &stdout, &stderr)
	if code != exitFailure {
		t.Fatalf("run = %d, want %d; stdout:\n%s", code, exitFailure, &stdout)
	}
	if !strings.Contains(stdout.String(), "make build") {
		t.Errorf("stdout does not tell to build:\n%s", &stdout)
	}
}

const sampleMetrics = `# HELP turnstile_consumer_records_rejected_total Invalid records, by reason.
# TYPE turnstile_consumer_records_rejected_total counter
turnstile_consumer_records_rejected_total{reason="fields"} 0
turnstile_consumer_records_rejected_total{reason="timestamp"} %s
turnstile_consumer_records_valid_total 1234
turnstile_consumer_windows_emitted_total 8
go_gc_duration_seconds{quantile="0.5"} 1.5e-05
`

func TestParseMetricsSumsOverLabels(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(strings.Replace(sampleMetrics, "%s", "2", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := m[metricname.RecordsRejected]; got != 2 {
		t.Errorf("rejected = %v, want 2", got)
	}
	if got := m[metricname.RecordsValid]; got != 1234 {
		t.Errorf("valid = %v, want 1234", got)
	}
	if got := m["go_gc_duration_seconds"]; got != 1.5e-05 {
		t.Errorf("go_gc_duration_seconds = %v, want 1.5e-05", got)
	}
	if _, err := parseMetrics(strings.NewReader("name{a=\"b\" 1\n")); err == nil {
		t.Error("unclosed labels parsed without error")
	}
}

// writeWindow writes a real window file through the lake package.
func writeWindow(t *testing.T, dir string, end time.Time, source string) {
	t.Helper()
	sink, err := lake.Open(context.Background(), "file://"+filepath.ToSlash(dir)+"/turnstile")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	rows := []turnstile.WindowCount{{
		Key: turnstile.Key{CA: "A002", Unit: "R051", SCP: "02-00-00", Station: "59 ST", LineName: "NQR456W", Division: "BMT", Desc: "REGULAR"},
		End: end.Unix(), Entries: 12, Exits: 7,
	}}
	if _, _, err := sink.PutWindows(context.Background(), end, source, rows, true); err != nil {
		t.Fatal(err)
	}
}

func TestCheckDecodesFilesAndReadsMetrics(t *testing.T) {
	dir := t.TempDir()
	end := time.Date(2024, 7, 22, 10, 15, 0, 0, time.UTC)
	writeWindow(t, dir, end, "p0")
	writeWindow(t, dir, end.Add(5*time.Minute), "p1")
	rejected := "0"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Replace(sampleMetrics, "%s", rejected, 1)))
	}))
	defer srv.Close()
	lakeDir := filepath.Join(dir, "turnstile")

	var out bytes.Buffer
	if code := runCheck(context.Background(), []string{"--dir", lakeDir, "--metrics", srv.URL, "--no-partial"}, &out, &out); code != exitOK {
		t.Fatalf("check = %d, want 0:\n%s", code, &out)
	}
	if !strings.Contains(out.String(), "2 window files") || !strings.Contains(out.String(), "0 rejected") {
		t.Errorf("check output:\n%s", &out)
	}

	rejected = "3"
	out.Reset()
	if code := runCheck(context.Background(), []string{"--dir", lakeDir, "--metrics", srv.URL}, &out, &out); code != exitFailure || !strings.Contains(out.String(), "rejected 3 records") {
		t.Errorf("check with rejected records = %d:\n%s", code, &out)
	}

	out.Reset()
	if code := runCheck(context.Background(), []string{"--dir", lakeDir, "--metrics", "", "--min-files", "3"}, &out, &out); code != exitFailure {
		t.Errorf("check with too few files = %d, want 1:\n%s", code, &out)
	}

	// A torn file fails the check; a leftover temporary file fails it with
	// --no-partial only.
	if err := os.WriteFile(filepath.Join(lakeDir, ".20240722T102500_p2.csv.gz.123.tmp"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := runCheck(context.Background(), []string{"--dir", lakeDir, "--metrics", ""}, &out, &out); code != exitOK {
		t.Errorf("check with a temporary file, no --no-partial = %d:\n%s", code, &out)
	}
	out.Reset()
	if code := runCheck(context.Background(), []string{"--dir", lakeDir, "--metrics", "", "--no-partial"}, &out, &out); code != exitFailure || !strings.Contains(out.String(), "unfinished writes") {
		t.Errorf("check --no-partial with a temporary file = %d:\n%s", code, &out)
	}
	if err := os.WriteFile(filepath.Join(lakeDir, "20240722T103000_p3.csv.gz"), []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := runCheck(context.Background(), []string{"--dir", lakeDir, "--metrics", ""}, &out, &out); code != exitFailure || !strings.Contains(out.String(), "20240722T103000_p3.csv.gz") {
		t.Errorf("check with a torn file = %d:\n%s", code, &out)
	}

	out.Reset()
	if code := runCheck(context.Background(), []string{"--min-files", "-1"}, &out, &out); code != exitUsage {
		t.Errorf("check --min-files -1 = %d, want 2", code)
	}
}

func TestRidershipRunWithoutSodaLocalSaysToBuild(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"producer", "consumer", "dashboard", "kafka-local"} { // all but soda-local
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), func() {}, []string{"--source", "ridership", "--bin", bin, "--lake", filepath.Join(dir, "lake")}, &stdout, &stderr)
	if code != exitFailure || !strings.Contains(stdout.String(), "soda-local is not built") || !strings.Contains(stdout.String(), "make build") {
		t.Errorf("run = %d, want %d and a word on soda-local; stdout:\n%s", code, exitFailure, &stdout)
	}
}

// ridershipFile returns a gzipped ridership window file of the given text.
func ridershipFile(t *testing.T, text string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCheckRidershipFiles(t *testing.T) {
	row := ridership.WindowRow{Key: ridership.Key{StationComplexID: "611", StationComplex: "Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)",
		Borough: "Manhattan", PaymentMethod: "omny", FareClassCategory: "OMNY - Full Fare"},
		Start: time.Date(2025, 1, 14, 0, 0, 0, 0, time.UTC).Unix(), End: time.Date(2025, 1, 14, 1, 0, 0, 0, time.UTC).Unix(), Ridership: 107, Transfers: 8}
	good := ridership.LakeColumns + "\n" + string(ridership.AppendWindowRow(nil, &row)) + "\n"
	for _, tc := range []struct {
		name, text string
		source     string
		wantCode   int
		want       string
	}{
		{"a ridership file", good, "ridership", exitOK, "1 window files"},
		{"two rows", good + string(ridership.AppendWindowRow(nil, &row)) + "\n", "ridership", exitOK, "2 rows"},
		{"read as turnstile", good, "turnstile", exitFailure, "header"},
		{"turnstile header", "CA,UNIT,SCP,STATION,LINENAME,DIVISION,DESC,window_start,window_end,ENTRIES,EXITS\n", "ridership", exitFailure, "want \"station_complex_id"},
		{"a bad row", good + "611,x,Manhattan,omny,f,2025-01-14 01:00:00,2025-01-14 00:00:00,1,0\n", "ridership", exitFailure, "line 3"},
		{"no rows", ridership.LakeColumns + "\n", "ridership", exitFailure, "no rows"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "20250114T010000_p0.csv.gz"), ridershipFile(t, tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code := runCheck(context.Background(), []string{"--source", tc.source, "--dir", dir, "--metrics", "", "--min-files", "1"}, &out, &out)
		if code != tc.wantCode || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: check = %d, want %d and %q:\n%s", tc.name, code, tc.wantCode, tc.want, &out)
		}
	}
	var out bytes.Buffer
	if code := runCheck(context.Background(), []string{"--source", "bus"}, &out, &out); code != exitUsage {
		t.Errorf("check --source bus = %d, want %d", code, exitUsage)
	}
}

// TestFeedStartStaysBehindTheWallClock checks that the synthetic feed's
// accelerated event clock stays at or behind the wall clock for the whole
// run, so that the consumer's clock guard never rejects it.
func TestFeedStartStaysBehindTheWallClock(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		speed float64
		run   time.Duration
	}{{60, 24 * time.Hour}, {120, time.Hour}, {1, time.Hour}, {0.5, time.Hour}} {
		start := feedStart(now, tc.speed, tc.run)
		for _, wall := range []time.Duration{0, tc.run / 2, tc.run} {
			event := start.Add(time.Duration(tc.speed * float64(wall)))
			if event.After(now.Add(wall)) {
				t.Errorf("speed %v, after %s: event clock %s is ahead of the wall clock %s", tc.speed, wall, event, now.Add(wall))
			}
		}
		if tc.speed > 1 && start.Add(time.Duration(tc.speed*float64(tc.run))).Before(now.Add(tc.run).Add(-time.Minute)) {
			t.Errorf("speed %v: the feed starts further back than needed (%s)", tc.speed, start)
		}
	}
}

// TestResumeAfterTheLakesWindows: a second `make run` over the same lake
// starts its feed after the newest window file, so that its windows are new
// files, unless that start would run the feed past the wall clock within
// resumeMargin.
func TestResumeAfterTheLakesWindows(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	start := feedStart(now, 60, feedAhead) // 2026-10-02 12:00
	for _, tc := range []struct {
		name   string
		files  []string
		want   time.Time
		wantOK bool
	}{
		{"windows of an earlier run", []string{"20261002T140500_p0.csv.gz", "20261002T141000_p1.csv.gz", "20261002T140000_p0.csv.gz"},
			time.Date(2026, 10, 2, 14, 10, 0, 0, time.UTC), true},
		{"windows before the start", []string{"20261001T100000_p0.csv.gz"}, time.Date(2026, 10, 1, 10, 0, 0, 0, time.UTC), false},
		{"windows too close to now", []string{"20261130T110000_p0.csv.gz"}, time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC), false},
		{"names of another form", []string{"notes.csv.gz"}, time.Time{}, false},
	} {
		got, ok := resumeAfter(start, tc.files, now, 60)
		if !got.Equal(tc.want) || ok != tc.wantOK {
			t.Errorf("%s: resumeAfter = %s, %v; want %s, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
		if ok && got.Add(time.Duration(60*float64(resumeMargin))).After(now.Add(resumeMargin)) {
			t.Errorf("%s: a feed from %s passes the wall clock within %s", tc.name, got, resumeMargin)
		}
	}
}
