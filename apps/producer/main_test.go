package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/mta"
	"github.com/turnstile-stream/turnstile-stream/internal/publish/metrics"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

var sample = []string{"../../testdata/mta/turnstile_240720.txt", "../../testdata/mta/turnstile_240724_pandas.csv"}

// syncBuffer collects output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runProducer runs the program and returns its exit code, stdout and stderr.
func runProducer(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr syncBuffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// writeConfig writes a properties file for an embedded broker: the address
// plus the producer half of kafkatest.ClientDefaults, and extra lines.
func writeConfig(t *testing.T, addr string, extra ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kafka.properties")
	content := "# embedded broker\nbootstrap.servers=" + addr + "\n" +
		fmt.Sprintf("enable.metrics.push=%v\n", kafkatest.ClientDefaults["enable.metrics.push"]) +
		strings.Join(extra, "\n") + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	noBootstrap := filepath.Join(dir, "no-bootstrap.properties")
	os.WriteFile(noBootstrap, []byte("security.protocol=SASL_SSL\n"), 0o600)
	badProperty := filepath.Join(dir, "bad.properties")
	os.WriteFile(badProperty, []byte("bootstrap.servers=127.0.0.1:1\nno.such.property=1\n"), 0o600)
	emptyToken := filepath.Join(dir, "empty-token")
	os.WriteFile(emptyToken, []byte(" \n"), 0o600)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "no source", args: []string{"--out", "-"}, wantErr: "choose a source"},
		{name: "both sources", args: []string{"--synthetic", "--input", sample[0], "--out", "-"}, wantErr: "exclusive"},
		{name: "unknown flag", args: []string{"--synthetic", "--bogus"}, wantErr: "flag provided but not defined: -bogus"},
		{name: "stray argument", args: []string{"--synthetic", "extra", "--out", "-"}, wantErr: `unexpected argument "extra"`},
		{name: "missing input file", args: []string{"--input", "nope.csv", "--out", "-"}, wantErr: "nope.csv: no such file"},
		{name: "negative speed", args: []string{"--input", sample[0], "--speed", "-1", "--out", "-"}, wantErr: "--speed -1"},
		{name: "negative max delta", args: []string{"--input", sample[0], "--max-delta", "-5", "--out", "-"}, wantErr: "--max-delta -5"},
		{name: "zero rate", args: []string{"--synthetic", "--rate", "0", "--out", "-"}, wantErr: "rate 0"},
		{name: "no turnstiles", args: []string{"--synthetic", "--turnstiles", "0", "--out", "-"}, wantErr: "turnstiles 0"},
		{name: "bad start", args: []string{"--synthetic", "--start", "yesterday", "--out", "-"}, wantErr: `--start "yesterday"`},
		{name: "bad log format", args: []string{"--synthetic", "--log-format", "xml", "--out", "-"}, wantErr: `--log-format: want text or json, got "xml"`},
		{name: "bad log level", args: []string{"--synthetic", "--log-level", "loud", "--out", "-"}, wantErr: `--log-level: want debug, info, warn or error, got "loud"`},
		{name: "bad metrics address", args: []string{"--synthetic", "--metrics-addr", "9102", "--out", "-"}, wantErr: `--metrics-addr "9102"`},
		{name: "create topic without kafka", args: []string{"--synthetic", "--create-topic", "--out", "-"}, wantErr: "--create-topic needs Kafka"},
		{name: "no partitions", args: []string{"--synthetic", "--create-topic", "--partitions", "0", "--config", noBootstrap}, wantErr: "--partitions 0"},
		{name: "kafka without config", args: []string{"--synthetic"}, wantErr: "--config FILE is required"},
		{name: "missing config file", args: []string{"--synthetic", "--config", filepath.Join(dir, "none.properties")}, wantErr: "none.properties: no such file"},
		{name: "config without bootstrap", args: []string{"--synthetic", "--config", noBootstrap}, wantErr: "bootstrap.servers is not set"},
		{name: "bad from", args: []string{"--input", sample[0], "--from", "2024-13-01", "--out", "-"}, wantErr: `--from "2024-13-01": want YYYY-MM-DD`},
		{name: "bad to", args: []string{"--input", sample[0], "--to", "tomorrow", "--out", "-"}, wantErr: `--to "tomorrow": want YYYY-MM-DD`},
		{name: "from not before to", args: []string{"--input", sample[0], "--from", "2024-07-22", "--to", "2024-07-21 12:00:00", "--out", "-"}, wantErr: "--from 2024-07-22 is not before --to 2024-07-21 12:00:00"},
		{name: "from with synthetic", args: []string{"--synthetic", "--from", "2024-07-22", "--out", "-"}, wantErr: "--from, --to and --temp-dir are for --input replays"},
		{name: "missing temp dir", args: []string{"--input", sample[0], "--temp-dir", filepath.Join(dir, "none"), "--out", "-"}, wantErr: "--temp-dir: stat " + filepath.Join(dir, "none") + ": no such file"},
		{name: "temp dir is a file", args: []string{"--input", sample[0], "--temp-dir", noBootstrap, "--out", "-"}, wantErr: "not a directory"},
		{name: "glob matching nothing", args: []string{"--input", filepath.Join(dir, "turnstile_*.txt"), "--out", "-"}, wantErr: "turnstile_*.txt: no file matches"},
		{name: "bad glob", args: []string{"--input", filepath.Join(dir, "turnstile_[.txt"), "--out", "-"}, wantErr: "bad glob pattern"},
		{name: "empty directory", args: []string{"--input", t.TempDir(), "--out", "-"}, wantErr: "directory holds no file"},
		{name: "bad gs url", args: []string{"--input", "gs://", "--out", "-"}, wantErr: "--input gs://: want gs://BUCKET/PREFIX"},
		{name: "bad bucket", args: []string{"--input", "gs://My_Bucket/raw", "--out", "-"}, wantErr: `"My_Bucket" is not a GCS bucket name`},
		{name: "unknown kafka property", args: []string{"--synthetic", "--count", "1", "--config", badProperty}, wantErr: "no.such.property"},
		{name: "unknown source", args: []string{"--source", "bus", "--synthetic", "--out", "-"}, wantErr: `--source "bus": want turnstile or ridership`},
		{name: "dataset without --source ridership", args: []string{"--dataset", "5wq4-mkjj", "--out", "-"}, wantErr: "choose a source: --input FILE... or --synthetic"},
		{name: "dataset with turnstile files", args: []string{"--input", sample[0], "--dataset", "5wq4-mkjj", "--out", "-"}, wantErr: "--dataset, --soda-url, --app-token-file, --poll-interval and --state-file are for --source ridership"},
		{name: "ridership without a source", args: []string{"--source", "ridership", "--out", "-"}, wantErr: "choose a ridership source: --dataset ID (the SODA API) or --input FILE... (CSV exports)"},
		{name: "ridership dataset and input", args: []string{"--source", "ridership", "--dataset", "5wq4-mkjj", "--input", "../../testdata/ridership/sample.csv", "--out", "-"}, wantErr: "--dataset and --input are exclusive"},
		{name: "ridership synthetic", args: []string{"--source", "ridership", "--synthetic", "--out", "-"}, wantErr: "--synthetic is a turnstile source"},
		{name: "ridership speed", args: []string{"--source", "ridership", "--dataset", "5wq4-mkjj", "--speed", "60", "--out", "-"}, wantErr: "--speed, --max-delta and --temp-dir are for the turnstile source"},
		{name: "ridership state file with exports", args: []string{"--source", "ridership", "--input", "../../testdata/ridership/sample.csv", "--state-file", filepath.Join(dir, "s"), "--out", "-"}, wantErr: "are for --dataset (the API), not --input replays"},
		{name: "bad soda url", args: []string{"--source", "ridership", "--dataset", "5wq4-mkjj", "--soda-url", "data.ny.gov", "--out", "-"}, wantErr: `--soda-url "data.ny.gov": want http(s)://HOST`},
		{name: "zero poll interval", args: []string{"--source", "ridership", "--dataset", "5wq4-mkjj", "--poll-interval", "0s", "--out", "-"}, wantErr: "--poll-interval 0s: must be positive"},
		{name: "missing app token file", args: []string{"--source", "ridership", "--dataset", "5wq4-mkjj", "--app-token-file", filepath.Join(dir, "no-token"), "--out", "-"}, wantErr: "--app-token-file: read app token file: open " + filepath.Join(dir, "no-token")},
		{name: "empty app token file", args: []string{"--source", "ridership", "--dataset", "5wq4-mkjj", "--app-token-file", emptyToken, "--out", "-"}, wantErr: "--app-token-file: app token file " + emptyToken + " is empty"},
		{name: "ridership to kafka without config", args: []string{"--source", "ridership", "--dataset", "5wq4-mkjj"}, wantErr: "--config FILE is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runProducer(context.Background(), tt.args...)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantErr, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestReplayToStdout(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			// Flags after the file list are still flags.
			code, stdout, stderr := runProducer(context.Background(), append(append([]string{"--input"}, sample...), "--out", "-", "--log-format", format)...)
			if code != exitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
			}
			rp, err := mta.Load(context.Background(), sample)
			if err != nil {
				t.Fatal(err)
			}
			var want strings.Builder
			for rec := range rp.Records() {
				want.Write(turnstile.AppendCSV(nil, rec))
				want.WriteByte('\n')
			}
			if stdout != want.String() {
				t.Errorf("stdout differs from the converted sample:\n%s", stdout)
			}
			wantSummary := map[string]string{
				"text": "msg=summary read=216 sent=208 failed=0 skipped=0 resets=1 duplicates=1 undelivered=0 interrupted=false",
				"json": `"msg":"summary","read":216,"sent":208,"failed":0,"skipped":0,"resets":1,"duplicates":1,"undelivered":0,"interrupted":false`,
			}[format]
			if !strings.Contains(stderr, wantSummary) {
				t.Errorf("stderr lacks the summary %s:\n%s", wantSummary, stderr)
			}
		})
	}
}

func TestBadRowsAreSkippedAndCounted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(path, []byte("C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS\n"+
		"A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,00:00:00,REGULAR,100,50\n"+
		"A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,04:00:00,REGULAR,oops,50\n"+
		"A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,08:00:00,REGULAR,150,80\n"), 0o644)
	code, stdout, stderr := runProducer(context.Background(), "--input", path, "--out", "-")
	if code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, ",REGULAR,50,30,") || strings.Count(stdout, "\n") != 1 {
		t.Errorf("stdout = %q, want the one delta 50/30", stdout)
	}
	for _, want := range []string{"level=WARN msg=\"skipping bad row\" file=" + path + " line=3", "read=3 sent=1 failed=0 skipped=1"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestNotATurnstileFileFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(path, []byte("hello\n"), 0o644)
	code, _, stderr := runProducer(context.Background(), "--input", path, "--out", "-")
	if code != exitFailure || !strings.Contains(stderr, "not a turnstile file") {
		t.Errorf("exit code %d, stderr:\n%s", code, stderr)
	}
}

// TestSyntheticIsDeterministic runs the synthetic feed twice, once writing to
// a file, and expects byte-identical values.
func TestSyntheticIsDeterministic(t *testing.T) {
	args := []string{"--synthetic", "--seed", "42", "--start", "2024-07-22 08:00:00", "--count", "300", "--turnstiles", "50", "--rate", "100000", "--speed", "60"}
	code1, out1, stderr := runProducer(context.Background(), append(args, "--out", "-")...)
	if code1 != exitOK {
		t.Fatalf("exit %d: %s", code1, stderr)
	}
	file := filepath.Join(t.TempDir(), "out.csv")
	code2, _, stderr := runProducer(context.Background(), append(args, "--out", file)...)
	if code2 != exitOK {
		t.Fatalf("exit %d: %s", code2, stderr)
	}
	out2, _ := os.ReadFile(file)
	if out1 != string(out2) || strings.Count(out1, "\n") != 300 {
		t.Errorf("runs differ or have the wrong length (%d lines)", strings.Count(out1, "\n"))
	}
	if !strings.HasPrefix(out1, "A002,R051,00-00-00,59 ST,NQR456W,BMT,07-22-24,08:00:00,REGULAR,") {
		t.Errorf("first value = %q", strings.SplitN(out1, "\n", 2)[0])
	}
	if !strings.Contains(stderr, "read=300 sent=300 failed=0") {
		t.Errorf("summary: %s", stderr)
	}
}

// consumeAll reads every record of topic until n have arrived, then a little
// longer to catch duplicates.
func consumeAll(t *testing.T, addr, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	cl.PollFetches(short).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	return out
}

// checkRecords asserts that records hold want (value by ID) exactly once each,
// keyed CA|UNIT|SCP, with each key in one partition.
func checkRecords(t *testing.T, recs []*kgo.Record, want map[string]string) {
	t.Helper()
	if len(recs) != len(want) {
		t.Errorf("broker holds %d records, want %d", len(recs), len(want))
	}
	seen := map[string]bool{}
	partitionOf := map[string]int32{}
	for _, r := range recs {
		rec, err := turnstile.Parse(r.Value)
		if err != nil {
			t.Fatalf("value %q: %v", r.Value, err)
		}
		if seen[rec.ID] {
			t.Errorf("record %s arrived twice", rec.ID)
		}
		seen[rec.ID] = true
		if w, ok := want[rec.ID]; !ok || w != string(r.Value) {
			t.Errorf("unexpected value %q", r.Value)
		}
		if string(r.Key) != rec.Key() {
			t.Errorf("key %q for a record of %s", r.Key, rec.Key())
		}
		if p, ok := partitionOf[string(r.Key)]; ok && p != r.Partition {
			t.Errorf("turnstile %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		partitionOf[string(r.Key)] = r.Partition
	}
}

func TestReplayToEmbeddedBroker(t *testing.T) {
	b, err := kafkatest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := writeConfig(t, b.Addr())
	const topic = "mta-turnstile"
	args := append(append([]string{"--input"}, sample...), "--config", cfg, "--topic", topic, "--create-topic", "--partitions", "3")
	code, stdout, stderr := runProducer(context.Background(), args...)
	if code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing in Kafka mode", stdout)
	}
	for _, want := range []string{`msg="created topic" topic=mta-turnstile partitions=3`, "read=216 sent=208 failed=0 skipped=0 resets=1 duplicates=1 undelivered=0"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	md, err := req.RequestWith(context.Background(), mustClient(t, b.Addr()))
	if err != nil || len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 3 {
		t.Errorf("topic %s metadata %+v (%v), want 3 partitions", topic, md, err)
	}

	rp, err := mta.Load(context.Background(), sample)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for rec := range rp.Records() {
		want[rec.ID] = string(turnstile.AppendCSV(nil, rec))
	}
	recs := consumeAll(t, b.Addr(), topic, len(want))
	checkRecords(t, recs, want)

	// Replaying the file again sends the same IDs: the consumer's dedup drops them.
	code, _, stderr = runProducer(context.Background(), append(append([]string{"--input"}, sample...), "--config", cfg, "--topic", topic, "--create-topic")...)
	if code != exitOK || !strings.Contains(stderr, `msg="topic exists" topic=mta-turnstile partitions=3`) {
		t.Fatalf("second replay: exit %d, stderr:\n%s", code, stderr)
	}
	recs = consumeAll(t, b.Addr(), topic, 2*len(want))
	ids := map[string]int{}
	for _, r := range recs {
		rec, _ := turnstile.Parse(r.Value)
		ids[rec.ID]++
	}
	for id, n := range ids {
		if n != 2 || want[id] == "" {
			t.Fatalf("after two replays ID %s appears %d times, want twice", id, n)
		}
	}
}

func mustClient(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestInterruptedRunExitsCleanly interrupts an unlimited synthetic feed once
// messages flow, and expects a flush, the summary, exit 0, and every sent
// message on the broker once.
func TestInterruptedRunExitsCleanly(t *testing.T) {
	b, err := kafkatest.Start(kafkatest.Topics(4, "mta-turnstile"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := writeConfig(t, b.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := runProducer(ctx, "--synthetic", "--turnstiles", "40", "--rate", "500", "--speed", "60",
			"--seed", "3", "--start", "2024-07-22 08:00:00", "--config", cfg)
		done <- result{code, stdout, stderr}
	}()
	// Wait until messages reach the broker, then interrupt as SIGINT would.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("mta-turnstile"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancelWait := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelWait()
	for seen := 0; seen < 100; {
		if waitCtx.Err() != nil {
			t.Fatal("no messages reached the broker")
		}
		seen += cl.PollFetches(waitCtx).NumRecords()
	}
	cl.Close()
	cancel()
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the producer did not stop after the interrupt")
	}
	if res.code != exitOK {
		t.Fatalf("exit code %d after an interrupt; stderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "interrupted: stopped reading, flushing") || !strings.Contains(res.stderr, "failed=0 skipped=0 resets=0 duplicates=0 undelivered=0 interrupted=true") {
		t.Fatalf("stderr lacks the interrupt and summary:\n%s", res.stderr)
	}
	var read, sent int
	if _, err := fmt.Sscanf(res.stderr[strings.Index(res.stderr, "msg=summary"):], "msg=summary read=%d sent=%d", &read, &sent); err != nil {
		t.Fatalf("cannot read the summary: %v\n%s", err, res.stderr)
	}
	if read != sent {
		t.Errorf("summary read=%d sent=%d: every generated message must be sent", read, sent)
	}
	recs := consumeAll(t, b.Addr(), "mta-turnstile", sent)
	// The same flags with --count give the messages the interrupted run sent.
	code, stdout, stderr := runProducer(context.Background(), "--synthetic", "--turnstiles", "40", "--rate", "500", "--speed", "60",
		"--seed", "3", "--start", "2024-07-22 08:00:00", "--count", fmt.Sprint(sent), "--out", "-")
	if code != exitOK {
		t.Fatalf("reference run: exit %d: %s", code, stderr)
	}
	want := map[string]string{}
	for _, v := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		rec, err := turnstile.Parse([]byte(v))
		if err != nil {
			t.Fatal(err)
		}
		want[rec.ID] = v
	}
	checkRecords(t, recs, want)
}

func TestUndeliveredMessagesExitNonZero(t *testing.T) {
	b, err := kafkatest.Start()
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	b.Close() // the broker is gone
	// A secret from the environment, which must never be logged.
	t.Setenv("TURNSTILE_TEST_SASL_PASSWORD", "hunter2-secret")
	cfg := writeConfig(t, addr, "message.timeout.ms=500", "sasl.username=svc", "sasl.password=${TURNSTILE_TEST_SASL_PASSWORD}")
	code, _, stderr := runProducer(context.Background(), "--input", sample[0], "--config", cfg, "--flush-timeout", "20s", "--log-level", "debug")
	if code != exitFailure {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitFailure, stderr)
	}
	for _, want := range []string{`msg="delivery failed" key=A002|R051|02-00-00`, "sent=0 failed=136", "sasl.password=<redacted>"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(stderr, "hunter2") {
		t.Error("the SASL password was logged")
	}
}

// TestMetricsAndHealth runs a synthetic feed with --metrics-addr and reads
// /readyz, /healthz and /metrics while it runs.
func TestMetricsAndHealth(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--synthetic", "--rate", "200", "--out", "-", "--metrics-addr", "127.0.0.1:0", "--log-format", "json"}, &stdout, &stderr)
	}()
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no metrics address logged:\n%s", stderr.String())
		}
		for _, line := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(line, `"msg":"serving metrics"`) {
				_, rest, _ := strings.Cut(line, `"addr":"`)
				addr, _, _ = strings.Cut(rest, `"`)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// Ready once the sink is open and records flow.
	for {
		if code, _ := get("/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never became ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := get("/healthz"); code != http.StatusOK || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %q", code, body)
	}
	_, body := get("/metrics")
	for _, name := range []string{metrics.Read, metrics.Sent, metrics.Failed + " 0", metrics.Skipped + " 0", metrics.Resets + " 0"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("the metrics server still answers after the run")
	}
}

// TestReplayInputForms replays the sample given as files, a directory, a
// glob and a gs:// prefix on the fake GCS: the same messages each time.
func TestReplayInputForms(t *testing.T) {
	dir := t.TempDir()
	srv := sampleOnGCS(t)
	for _, p := range sample {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o644)
	}
	code, want, stderr := runProducer(context.Background(), append(append([]string{"--input"}, sample...), "--out", "-")...)
	if code != exitOK || strings.Count(want, "\n") != 208 {
		t.Fatalf("files: exit %d, %d lines; stderr:\n%s", code, strings.Count(want, "\n"), stderr)
	}
	forms := map[string][]string{
		"directory": {dir},
		"glob":      {"../../testdata/mta/turnstile_24072*"},
		"gs prefix": {"gs://" + srv.Bucket() + "/raw/turnstile_"},
		"mixed":     {"gs://" + srv.Bucket() + "/raw/turnstile_240720", filepath.Join(dir, "*.csv")},
	}
	for name, inputs := range forms {
		t.Run(name, func(t *testing.T) {
			code, got, stderr := runProducer(context.Background(), append(append([]string{"--input"}, inputs...), "--out", "-", "--log-format", "json")...)
			if code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", code, stderr)
			}
			if got != want {
				t.Errorf("output differs from the replay of the files")
			}
			if !strings.Contains(stderr, `"msg":"read turnstile files","files":2,"read":216`) {
				t.Errorf("stderr lacks the read line:\n%s", stderr)
			}
		})
	}
	code, _, stderr = runProducer(context.Background(), "--input", "gs://"+srv.Bucket()+"/nothing/", "--out", "-")
	if code != exitFailure || !strings.Contains(stderr, "no objects") {
		t.Errorf("empty gs:// prefix: exit %d; stderr:\n%s", code, stderr)
	}
}

// TestReplayRange checks --from and --to: the messages of the full replay
// whose event time is in [from, to).
func TestReplayRange(t *testing.T) {
	code, all, stderr := runProducer(context.Background(), append(append([]string{"--input"}, sample...), "--out", "-")...)
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	tests := []struct{ from, to, lo, hi string }{
		{"2024-07-21", "2024-07-23 12:00:00", "2024-07-21 00:00:00", "2024-07-23 12:00:00"},
		{"2024-07-24T04:00:00Z", "", "2024-07-24 04:00:00", "9999"},
		{"", "2024-07-21", "", "2024-07-21 00:00:00"},
	}
	for _, tt := range tests {
		args := append([]string{"--input"}, sample...)
		if tt.from != "" {
			args = append(args, "--from", tt.from)
		}
		if tt.to != "" {
			args = append(args, "--to", tt.to)
		}
		code, got, stderr := runProducer(context.Background(), append(args, "--out", "-")...)
		if code != exitOK {
			t.Fatalf("%v: exit %d; stderr:\n%s", tt, code, stderr)
		}
		var want strings.Builder
		for _, line := range strings.SplitAfter(all, "\n") {
			if ts := line[strings.LastIndexByte(strings.TrimSpace(line), ',')+1:]; line != "" && ts >= tt.lo && ts < tt.hi {
				want.WriteString(line)
			}
		}
		if want.Len() == 0 || want.Len() == len(all) {
			t.Fatalf("%v: a range that tests nothing", tt)
		}
		if got != want.String() {
			t.Errorf("--from %q --to %q: %d lines, want the %d of the full replay in range", tt.from, tt.to, strings.Count(got, "\n"), strings.Count(want.String(), "\n"))
		}
	}
}
