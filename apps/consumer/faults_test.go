package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/turnstile-stream/turnstile-stream/internal/gcstest"
	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// The process-level tests of the faults real streams bring: each runs the
// real consumer binary against the embedded broker (and, where the lake is
// involved, the fake GCS server) and checks the lake, and the emit topic,
// row for row.

// lockedBuffer is a bytes.Buffer that a running process writes to while the
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// consumerProc is a running consumer binary.
type consumerProc struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan error
}

func startConsumer(t *testing.T, env []string, args ...string) *consumerProc {
	t.Helper()
	cmd := exec.Command(consumerBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	p := &consumerProc{cmd: cmd, logs: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

// stop sends SIGTERM and requires a clean exit.
func (p *consumerProc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("consumer did not stop cleanly: %v\n%s", err, p.logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("consumer did not stop within 60s of SIGTERM:\n%s", p.logs.String())
	}
}

// writeProps writes a librdkafka properties file for the broker at addr with
// short group timeouts, plus extra lines.
func writeProps(t *testing.T, addr string, extra ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kafka.properties")
	lines := append([]string{
		"bootstrap.servers=" + addr, "enable.metrics.push=false", "fetch.queue.backoff.ms=10",
		"session.timeout.ms=1000", "heartbeat.interval.ms=200", "max.poll.interval.ms=3000",
	}, extra...)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// produceParts produces each partition's values to its partition.
func produceParts(t *testing.T, addr, topic string, parts [][][]byte) {
	t.Helper()
	var records []kafkatest.Record
	for p, values := range parts {
		for _, v := range values {
			records = append(records, kafkatest.Record{Partition: int32(p), Value: v})
		}
	}
	if err := kafkatest.Produce(addr, topic, records); err != nil {
		t.Fatal(err)
	}
}

// startBroker starts an embedded broker with the topics, each of the given
// partitions, that accepts short session timeouts; it stops with the test.
func startBroker(t *testing.T, partitions int32, topics ...string) *kafkatest.Broker {
	t.Helper()
	broker, err := kafkatest.Start(kafkatest.Topics(partitions, topics...), kafkatest.MinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	return broker
}

// fileLake returns a temporary lake folder and the bucket that reads it.
func fileLake(t *testing.T) (string, *lake.FileBucket) {
	t.Helper()
	dir := t.TempDir()
	bucket, err := lake.NewFileBucket(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, bucket
}

// secondsInput returns, for each partition, one record per turnstile per
// second of event time from 10:00:00 for the given number of seconds.
func secondsInput(partitions, turnstiles, seconds int) [][][]byte {
	start := time.Date(2024, 7, 22, 10, 0, 0, 0, time.UTC)
	out := make([][][]byte, partitions)
	for s := 0; s < seconds; s++ {
		for k := 0; k < turnstiles; k++ {
			p := k % partitions
			r := turnstile.NewRecord("A002", "R051", fmt.Sprintf("02-00-%02d", k), "59 ST", "NQR456W", "BMT", "REGULAR",
				int64(s+k), 1, fmt.Sprintf("id-%d-%d", k, s), start.Add(time.Duration(s)*time.Second))
			out[p] = append(out[p], turnstile.AppendCSV(nil, &r))
		}
	}
	return out
}

// waitFor polls cond every 200ms until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

type fileState struct {
	data    string
	modTime time.Time
}

// lakeFiles returns every file under dir with its content and modification
// time.
func lakeFiles(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[strings.TrimPrefix(path, dir)] = fileState{string(data), info.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// emitted reads the emit topic with read_committed and fails on a key seen
// twice; it returns the rows, sorted.
func emitted(t *testing.T, addr, topic string, want int) []string {
	t.Helper()
	var done func(int) bool
	if want > 0 {
		done = func(n int) bool { return n >= want }
	}
	var rows []string
	seen := map[string]bool{}
	for _, m := range readCommitted(t, addr, topic, 30*time.Second, done) {
		if seen[string(m.Key)] {
			t.Errorf("row emitted twice to read_committed readers: %q", m.Key)
		}
		seen[string(m.Key)] = true
		rows = append(rows, string(m.Value))
	}
	slices.Sort(rows)
	return rows
}

// TestIdleClosedWindowsCommittedOnce: the stream stops, the idle rule closes
// its last windows, and they must be committed like any other: their rows
// reach the emit topic, and a restart rewrites no file and publishes no row
// again.
func TestIdleClosedWindowsCommittedOnce(t *testing.T) {
	broker := startBroker(t, 2, "mta-turnstile", "mta-turnstile-windows")
	parts := secondsInput(2, 4, 10)
	produceParts(t, broker.Addr(), "mta-turnstile", parts)
	spec, _ := window.NewSpec(2*time.Second, 2*time.Second, 0)
	want := expectedRows(t, spec, parts)
	props := writeProps(t, broker.Addr())
	lakeDir := t.TempDir()
	args := []string{"--config", props, "--group", "idle-commit", "--duration", "2s", "--watermark", "0s", "--idle-close", "1s",
		"--commit-interval", "200ms", "--emit-topic", "mta-turnstile-windows", "--max-future", "0",
		"--sink", "file://" + lakeDir + "/turnstile"}
	bucket, err := lake.NewFileBucket(lakeDir)
	if err != nil {
		t.Fatal(err)
	}

	first := startConsumer(t, nil, args...)
	if !waitFor(30*time.Second, func() bool { rows, _ := windowRows(bucket); return len(rows) >= len(want) }) {
		t.Fatalf("the idle rule did not close the last windows:\n%s", first.logs.String())
	}
	topicRows := emitted(t, broker.Addr(), "mta-turnstile-windows", len(want))
	first.stop(t)
	lakeRows, _ := windowRows(bucket)
	slices.Sort(lakeRows)
	if d := diffRows(lakeRows, want); d != "" {
		t.Fatalf("lake differs from file mode:\n%s", d)
	}
	if d := diffRows(topicRows, want); d != "" {
		t.Fatalf("emit topic differs from the lake:\n%s", d)
	}
	before := lakeFiles(t, lakeDir)

	// A restart finds everything committed: it rebuilds nothing.
	second := startConsumer(t, nil, args...)
	time.Sleep(4 * time.Second) // assignment, idle-close and several commit intervals
	second.stop(t)
	after := lakeFiles(t, lakeDir)
	for name, st := range before {
		if a, ok := after[name]; !ok || a != st {
			t.Errorf("%s was rewritten or removed by the restart", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("the restart wrote a new file %s", name)
		}
	}
	if again := emitted(t, broker.Addr(), "mta-turnstile-windows", 0); len(again) != len(want) {
		t.Errorf("emit topic holds %d rows after the restart, want %d", len(again), len(want))
	}
}

// TestIdleRuleWaitsForReplay restarts a consumer whose last window is open
// while the broker answers fetches only after a delay longer than
// --idle-close. The idle rule must not advance the restored watermark before
// the replay is done, or the replayed records would be late and the window
// lost.
func TestIdleRuleWaitsForReplay(t *testing.T) {
	broker := startBroker(t, 1, "mta-turnstile")
	parts := secondsInput(1, 3, 12)
	produceParts(t, broker.Addr(), "mta-turnstile", parts)
	spec, _ := window.NewSpec(4*time.Second, 4*time.Second, 0)
	want := expectedRows(t, spec, parts)
	props := writeProps(t, broker.Addr())
	lakeDir, bucket := fileLake(t)
	args := func(idle string) []string {
		return []string{"--config", props, "--group", "idle-replay", "--duration", "4s", "--watermark", "0s", "--idle-close", idle,
			"--commit-interval", "200ms", "--max-future", "0", "--sink", "file://" + lakeDir + "/turnstile"}
	}
	// The first run closes two windows and leaves [10:00:08, 10:00:12) open.
	first := startConsumer(t, nil, args("0")...)
	if !waitFor(30*time.Second, func() bool { n, _ := bucket.List(context.Background(), "turnstile/"); return len(n) >= 2 }) {
		t.Fatalf("first run wrote no windows:\n%s", first.logs.String())
	}
	time.Sleep(time.Second) // a few commit intervals
	first.stop(t)

	// Fetches stall for 4 s after the restart: far longer than --idle-close.
	cluster := broker.Cluster()
	until := time.Now().Add(4 * time.Second)
	cluster.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if d := time.Until(until); d > 0 {
			cluster.SleepControl(func() { time.Sleep(d) })
		}
		return nil, nil, false
	})
	second := startConsumer(t, nil, args("1s")...)
	ok := waitFor(30*time.Second, func() bool { rows, _ := windowRows(bucket); return len(rows) >= len(want) })
	second.stop(t)
	rows, _ := windowRows(bucket)
	slices.Sort(rows)
	if d := diffRows(rows, want); !ok || d != "" {
		t.Fatalf("lake after a slow replay differs from file mode:\n%s\nlog:\n%s", d, second.logs.String())
	}
	if late, _ := bucket.List(context.Background(), "turnstile_late/"); len(late) > 0 {
		t.Errorf("replayed records went to the late output: %v", late)
	}
}

// TestLakeOutageKeepsMembership makes the fake GCS answer every upload with
// 503 for longer than max.poll.interval.ms. The consumer must pause the
// affected partitions and keep polling, so the group sees a live member: no
// rebalance, and an exact lake once GCS is back.
func TestLakeOutageKeepsMembership(t *testing.T) {
	srv := gcstest.New(t)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host())
	broker := startBroker(t, 2, "mta-turnstile")
	parts := crashInput(2)
	for p := range parts {
		parts[p] = parts[p][len(parts[p])-4000:] // about 330 windows per partition
	}
	produceParts(t, broker.Addr(), "mta-turnstile", parts)
	spec, _ := window.NewSpec(time.Minute, time.Minute, time.Minute)
	want := expectedRows(t, spec, parts)
	// A session timeout as long as the poll interval (librdkafka allows no
	// longer), so that a loaded test machine does not lose heartbeats.
	props := writeProps(t, broker.Addr(), "session.timeout.ms=3000", "heartbeat.interval.ms=500")
	bucket, err := lake.NewGCSBucket(context.Background(), srv.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()

	faults := srv.Faults()
	var mu sync.Mutex
	var until time.Time
	faults.Only(func(r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		return gcstest.Uploads(r) && time.Now().Before(until)
	})
	faults.FailNext(1_000_000, http.StatusServiceUnavailable)

	proc := startConsumer(t, nil, "--config", props, "--group", "outage", "--duration", "1", "--idle-close", "0",
		"--commit-interval", "200ms", "--max-future", "0", "--sink", "gs://"+srv.Bucket()+"/turnstile")
	if !waitFor(30*time.Second, func() bool { n, _ := bucket.List(context.Background(), "turnstile/"); return len(n) >= 3 }) {
		t.Fatalf("no window files before the outage:\n%s", proc.logs.String())
	}
	mu.Lock()
	until = time.Now().Add(8 * time.Second) // > max.poll.interval.ms=3000
	mu.Unlock()
	time.Sleep(8 * time.Second)
	ok := waitFor(120*time.Second, func() bool { rows, _ := windowRows(bucket); return len(rows) >= len(want) })
	time.Sleep(time.Second)
	logs := proc.logs.String() // before SIGTERM, which revokes
	proc.stop(t)
	if faults.ServedOf(gcstest.Fail) == 0 {
		t.Fatal("the outage did not hit the consumer: no upload failed")
	}
	rows, _ := windowRows(bucket)
	slices.Sort(rows)
	if d := diffRows(rows, want); !ok || d != "" {
		t.Fatalf("lake after the outage (%d rows) differs from file mode (%d rows):\n%s\nlog:\n%s", len(rows), len(want), d, logs)
	}
	if n := strings.Count(logs, "partitions assigned"); n != 1 || strings.Contains(logs, "revoked") ||
		strings.Contains(logs, "poll interval") || !strings.Contains(logs, "partition resumed") {
		t.Fatalf("the consumer lost its membership during the outage (%d assignments):\n%s", n, logs)
	}
	t.Logf("%d uploads failed with 503 during the outage", faults.ServedOf(gcstest.Fail))
}

// TestFencedEmitterExits starts a second consumer with the same
// transactional.id: it fences the first, whose next transaction fails with a
// fatal error. The first must exit non-zero with a clear message, so that its
// supervisor restarts it.
func TestFencedEmitterExits(t *testing.T) {
	broker := startBroker(t, 1, "mta-turnstile", "mta-turnstile-windows")
	parts := secondsInput(1, 2, 10)
	produceParts(t, broker.Addr(), "mta-turnstile", [][][]byte{parts[0][:10]})
	props := writeProps(t, broker.Addr())
	args := func(group string) []string {
		return []string{"--config", props, "--group", group, "--duration", "2s", "--watermark", "0s", "--idle-close", "0",
			"--commit-interval", "200ms", "--emit-topic", "mta-turnstile-windows", "--transactional-id", "same-id",
			"--max-future", "0", "--sink", "file://" + t.TempDir() + "/turnstile"}
	}
	first := startConsumer(t, nil, args("fence-a")...)
	if !waitFor(30*time.Second, func() bool { return strings.Contains(first.logs.String(), "partitions assigned") }) {
		t.Fatalf("first consumer got no partitions:\n%s", first.logs.String())
	}
	second := startConsumer(t, nil, args("fence-b")...)
	if !waitFor(30*time.Second, func() bool { return strings.Contains(second.logs.String(), "publishing closed windows") }) {
		t.Fatalf("second consumer did not initialise its transactions:\n%s", second.logs.String())
	}
	// New records make the first consumer commit, in a transaction.
	produceParts(t, broker.Addr(), "mta-turnstile", [][][]byte{parts[0][10:]})
	select {
	case err := <-first.done:
		var exit *exec.ExitError
		if err == nil || !errors.As(err, &exit) || exit.ExitCode() != exitRuntime {
			t.Fatalf("fenced consumer exited with %v, want exit code %d:\n%s", err, exitRuntime, first.logs.String())
		}
		if logs := first.logs.String(); !strings.Contains(logs, "fenced") || !strings.Contains(logs, "transactional.id") {
			t.Errorf("the fenced consumer's message does not say what happened:\n%s", logs)
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("fenced consumer kept running:\n%s", first.logs.String())
	}
	second.stop(t)
}

// TestCooperativeRebalance runs two consumers with the cooperative-sticky
// assignor: the second joins, then leaves, then joins again while the first
// keeps its other partitions. The lake must be exact afterwards.
func TestCooperativeRebalance(t *testing.T) {
	broker := startBroker(t, 4, "mta-turnstile")
	parts := crashInput(4)
	spec, _ := window.NewSpec(time.Minute, time.Minute, time.Minute)
	want := expectedRows(t, spec, parts)
	props := writeProps(t, broker.Addr(), "partition.assignment.strategy=cooperative-sticky")
	lakeDir, bucket := fileLake(t)
	args := []string{"--config", props, "--group", "coop", "--duration", "1", "--idle-close", "0",
		"--commit-interval", "200ms", "--max-future", "0", "--sink", "file://" + lakeDir + "/turnstile"}
	// Produce in two halves, so that the rebalances happen mid-stream.
	half := make([][][]byte, len(parts))
	rest := make([][][]byte, len(parts))
	for p := range parts {
		half[p], rest[p] = parts[p][:len(parts[p])/2], parts[p][len(parts[p])/2:]
	}
	produceParts(t, broker.Addr(), "mta-turnstile", half)
	a := startConsumer(t, nil, args...)
	if !waitFor(30*time.Second, func() bool { return strings.Contains(a.logs.String(), "partitions assigned") }) {
		t.Fatalf("first consumer got no partitions:\n%s", a.logs.String())
	}
	b := startConsumer(t, nil, args...)
	if !waitFor(30*time.Second, func() bool { return strings.Contains(b.logs.String(), "partitions assigned") }) {
		t.Fatalf("second consumer got no partitions:\n%s\nfirst:\n%s", b.logs.String(), a.logs.String())
	}
	produceParts(t, broker.Addr(), "mta-turnstile", rest)
	time.Sleep(time.Second)
	b.stop(t)
	b = startConsumer(t, nil, args...)
	ok := waitFor(60*time.Second, func() bool { rows, _ := windowRows(bucket); return len(rows) >= len(want) })
	time.Sleep(time.Second)
	b.stop(t)
	a.stop(t)
	rows, _ := windowRows(bucket)
	slices.Sort(rows)
	if d := diffRows(rows, want); !ok || d != "" {
		t.Fatalf("lake after cooperative rebalances (%d rows) differs from file mode (%d rows):\n%s\nfirst:\n%s\nsecond:\n%s",
			len(rows), len(want), d, a.logs.String(), b.logs.String())
	}
	if !strings.Contains(a.logs.String(), "partitions revoked") {
		t.Errorf("the first consumer never gave a partition up: the test did not rebalance:\n%s", a.logs.String())
	}
}

// TestStaticMembership checks that --instance-id makes the consumer a static
// member of its group (group.instance.id), and that a consumer killed with
// SIGKILL and restarted under the same ID gets its partitions back and
// finishes the lake exactly.
func TestStaticMembership(t *testing.T) {
	broker := startBroker(t, 2, "mta-turnstile")
	parts := secondsInput(2, 4, 30)
	produceParts(t, broker.Addr(), "mta-turnstile", parts)
	spec, _ := window.NewSpec(2*time.Second, 2*time.Second, 0)
	want := expectedRows(t, spec, parts)
	props := writeProps(t, broker.Addr())
	lakeDir, bucket := fileLake(t)
	args := []string{"--config", props, "--group", "static", "--instance-id", "consumer-vm-1", "--duration", "2s",
		"--watermark", "0s", "--idle-close", "1s", "--commit-interval", "200ms", "--max-future", "0",
		"--sink", "file://" + lakeDir + "/turnstile"}
	first := startConsumer(t, nil, args...)
	if !waitFor(30*time.Second, func() bool { return strings.Contains(first.logs.String(), "partitions assigned") }) {
		t.Fatalf("no partitions assigned:\n%s", first.logs.String())
	}
	admin, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": broker.Addr(), "enable.metrics.push": false})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := admin.DescribeConsumerGroups(ctx, []string{"static"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range res.ConsumerGroupDescriptions {
		for _, m := range g.Members {
			ids = append(ids, m.GroupInstanceID)
		}
	}
	if len(ids) != 1 || ids[0] != "consumer-vm-1" {
		t.Fatalf("group members' instance IDs %q, want [consumer-vm-1]", ids)
	}
	_ = first.cmd.Process.Signal(syscall.SIGKILL)
	<-first.done
	second := startConsumer(t, nil, args...)
	ok := waitFor(60*time.Second, func() bool { rows, _ := windowRows(bucket); return len(rows) >= len(want) })
	second.stop(t)
	rows, _ := windowRows(bucket)
	slices.Sort(rows)
	if d := diffRows(rows, want); !ok || d != "" {
		t.Fatalf("lake after a kill -9 and a static rejoin differs from file mode:\n%s\nlog:\n%s", d, second.logs.String())
	}
}

// TestOffsetResetKeepsWindowFiles resets the group's committed offset into
// the middle of closed windows, without metadata, as Kafka's tools do. The
// restarted consumer rebuilds the first window from part of its records: it
// must keep the complete file rather than replace it, and leave every other
// file as it was.
func TestOffsetResetKeepsWindowFiles(t *testing.T) {
	broker := startBroker(t, 1, "mta-turnstile")
	parts := secondsInput(1, 3, 20) // offsets 0-2 at 10:00:00, 3-5 at 10:00:01, ...
	produceParts(t, broker.Addr(), "mta-turnstile", parts)
	spec, _ := window.NewSpec(4*time.Second, 4*time.Second, 0)
	want := expectedRows(t, spec, parts)
	props := writeProps(t, broker.Addr())
	lakeDir, bucket := fileLake(t)
	args := []string{"--config", props, "--group", "reset", "--duration", "4s", "--watermark", "0s", "--idle-close", "1s",
		"--commit-interval", "200ms", "--max-future", "0", "--sink", "file://" + lakeDir + "/turnstile"}
	first := startConsumer(t, nil, args...)
	if !waitFor(30*time.Second, func() bool { rows, _ := windowRows(bucket); return len(rows) >= len(want) }) {
		t.Fatalf("first run did not write every window:\n%s", first.logs.String())
	}
	time.Sleep(time.Second)
	first.stop(t)
	before := lakeFiles(t, lakeDir+"/turnstile")

	// Reset the group to offset 7, in the window [10:00:00, 10:00:04), with no
	// metadata, the way kafka-consumer-groups --reset-offsets does.
	cm := kafka.ConfigMap{"bootstrap.servers": broker.Addr(), "group.id": "reset", "enable.auto.commit": false}
	for k, v := range kafkatest.ClientDefaults {
		cm[k] = v
	}
	c, err := kafka.NewConsumer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	topic := "mta-turnstile"
	if _, err := c.CommitOffsets([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: 7}}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	second := startConsumer(t, nil, args...)
	if !waitFor(30*time.Second, func() bool { return strings.Contains(second.logs.String(), "partitions assigned") }) {
		t.Fatalf("the restarted consumer got no partition:\n%s", second.logs.String())
	}
	time.Sleep(5 * time.Second) // the replay, then the idle rule closes every window
	second.stop(t)
	if !strings.Contains(second.logs.String(), "is kept") {
		t.Errorf("the restarted consumer did not report the first window's file as kept:\n%s", second.logs.String())
	}
	after := lakeFiles(t, lakeDir+"/turnstile")
	for name, st := range before {
		if a, ok := after[name]; !ok || a.data != st.data {
			t.Errorf("window file %s was replaced after an offset reset without metadata", name)
		}
	}
	rows, _ := windowRows(bucket)
	slices.Sort(rows)
	if d := diffRows(rows, want); d != "" {
		t.Fatalf("lake after the offset reset differs from file mode:\n%s\nlog:\n%s", d, second.logs.String())
	}
}

// TestReadyzWhileCommitsFail makes the broker refuse every offset commit for a
// while: /readyz must turn not-ready while commits keep failing, and ready
// again once one succeeds.
func TestReadyzWhileCommitsFail(t *testing.T) {
	broker := startBroker(t, 1, "mta-turnstile")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := l.Addr().String()
	l.Close()
	proc := startConsumer(t, nil, "--config", writeProps(t, broker.Addr()), "--group", "readyz", "--duration", "2s",
		"--watermark", "0s", "--idle-close", "0", "--commit-interval", "200ms", "--max-future", "0",
		"--sink", "file://"+t.TempDir()+"/turnstile", "--metrics-addr", metricsAddr)
	readyz := func() int {
		resp, err := http.Get("http://" + metricsAddr + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Records keep arriving, so the consumer keeps committing.
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for s := 0; ; s++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			_ = kafkatest.Produce(broker.Addr(), "mta-turnstile", []kafkatest.Record{{Partition: 0, Value: secondsInput(1, 1, s+1)[0][s]}})
		}
	}()
	defer func() { close(stop); <-fed }()
	if !waitFor(30*time.Second, func() bool { return readyz() == http.StatusOK }) {
		t.Fatalf("never ready:\n%s", proc.logs.String())
	}
	var mu sync.Mutex
	refuse := true
	cluster := broker.Cluster()
	cluster.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		if !refuse {
			return nil, nil, false
		}
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = 12 // OFFSET_METADATA_TOO_LARGE: refused, not retried
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	if !waitFor(30*time.Second, func() bool { return readyz() == http.StatusServiceUnavailable }) {
		t.Fatalf("/readyz stayed ready while every commit failed:\n%s", proc.logs.String())
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	if !waitFor(30*time.Second, func() bool { return readyz() == http.StatusOK }) {
		t.Fatalf("/readyz did not recover once commits succeeded:\n%s", proc.logs.String())
	}
}

// TestAbortedTransactionRewinds makes the broker refuse the offsets of the
// first emit transactions with an error that requires an abort. The consumer
// must abort, rewind the partition to its last commit and publish the rows
// again: a read_committed reader still sees each row once, and the lake is
// exact.
func TestAbortedTransactionRewinds(t *testing.T) {
	broker := startBroker(t, 1, "mta-turnstile", "mta-turnstile-windows")
	parts := secondsInput(1, 3, 20)
	spec, _ := window.NewSpec(2*time.Second, 2*time.Second, 0)
	want := expectedRows(t, spec, parts)
	var mu sync.Mutex
	refusals := 3
	cluster := broker.Cluster()
	cluster.ControlKey(int16(kmsg.TxnOffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		if refusals == 0 {
			return nil, nil, false
		}
		refusals--
		r := req.(*kmsg.TxnOffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = 29 // TOPIC_AUTHORIZATION_FAILED: the transaction must abort
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	produceParts(t, broker.Addr(), "mta-turnstile", parts)
	lakeDir, bucket := fileLake(t)
	proc := startConsumer(t, nil, "--config", writeProps(t, broker.Addr()), "--group", "abort", "--duration", "2s",
		"--watermark", "0s", "--idle-close", "1s", "--commit-interval", "200ms", "--emit-topic", "mta-turnstile-windows",
		"--max-future", "0", "--sink", "file://"+lakeDir+"/turnstile")
	topicRows := emitted(t, broker.Addr(), "mta-turnstile-windows", len(want))
	time.Sleep(time.Second)
	proc.stop(t)
	logs := proc.logs.String()
	if !strings.Contains(logs, "restoring the partition from its last commit") {
		t.Fatalf("no transaction was aborted and rewound:\n%s", logs)
	}
	if d := diffRows(topicRows, want); d != "" {
		t.Fatalf("emit topic after aborted transactions differs from file mode:\n%s\nlog:\n%s", d, logs)
	}
	rows, _ := windowRows(bucket)
	slices.Sort(rows)
	if d := diffRows(rows, want); d != "" {
		t.Fatalf("lake after aborted transactions differs from file mode:\n%s", d)
	}
}

// TestDeadLetterOutagePausesAndResends makes the broker refuse every write to
// the dead-letter topic for a while. The consumer must pause the partition
// (not pile up records or re-send what was delivered), resume once the topic
// takes writes again, and end with every rejected record in the topic once
// and an exact lake.
func TestDeadLetterOutagePausesAndResends(t *testing.T) {
	broker := startBroker(t, 1, "mta-turnstile", "mta-turnstile-dlq")
	valid := secondsInput(1, 2, 30)[0]
	var values [][]byte
	garbage := 0
	for i, v := range valid {
		values = append(values, v)
		if i%5 == 4 {
			values = append(values, []byte(fmt.Sprintf("garbage %d", i)))
			garbage++
		}
	}
	parts := [][][]byte{values}
	produceParts(t, broker.Addr(), "mta-turnstile", parts)
	spec, _ := window.NewSpec(2*time.Second, 2*time.Second, 0)
	want := expectedRows(t, spec, parts)

	var mu sync.Mutex
	var until time.Time // refuse dead letters until then, from the first one
	refused := 0
	cluster := broker.Cluster()
	cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		r := req.(*kmsg.ProduceRequest)
		if len(r.Topics) != 1 || r.Topics[0].Topic != "mta-turnstile-dlq" {
			return nil, nil, false
		}
		mu.Lock()
		defer mu.Unlock()
		if until.IsZero() {
			until = time.Now().Add(4 * time.Second) // > max.poll.interval.ms=3000
		}
		if time.Now().After(until) {
			return nil, nil, false
		}
		refused++
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = 29 // TOPIC_AUTHORIZATION_FAILED: not written, not retried by the client
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	lakeDir, bucket := fileLake(t)
	proc := startConsumer(t, nil, "--config", writeProps(t, broker.Addr()), "--group", "dlq-outage", "--duration", "2s",
		"--watermark", "0s", "--idle-close", "1s", "--commit-interval", "200ms", "--dead-letter-topic", "mta-turnstile-dlq",
		"--max-future", "0", "--sink", "file://"+lakeDir+"/turnstile")
	dead := readCommitted(t, broker.Addr(), "mta-turnstile-dlq", 60*time.Second, func(n int) bool { return n >= garbage })
	ok := waitFor(30*time.Second, func() bool { rows, _ := windowRows(bucket); return len(rows) >= len(want) })
	time.Sleep(time.Second)
	logs := proc.logs.String()
	proc.stop(t)
	mu.Lock()
	n := refused
	mu.Unlock()
	if n == 0 || !strings.Contains(logs, "partition paused") || !strings.Contains(logs, "partition resumed") {
		t.Fatalf("the dead-letter outage did not pause and resume the partition (%d writes refused):\n%s", n, logs)
	}
	seen := map[int64]int{}
	for _, m := range readCommitted(t, broker.Addr(), "mta-turnstile-dlq", 10*time.Second, nil) {
		var rec lake.SideRecord
		if err := json.Unmarshal(m.Value, &rec); err != nil {
			t.Fatalf("dead letter %q: %v", m.Value, err)
		}
		seen[rec.Offset]++
	}
	if len(dead) < garbage || len(seen) != garbage {
		t.Errorf("dead-letter topic holds %d distinct records, want %d", len(seen), garbage)
	}
	for off, c := range seen {
		if c > 1 {
			t.Errorf("dead letter at offset %d sent %d times", off, c)
		}
	}
	rows, _ := windowRows(bucket)
	slices.Sort(rows)
	if d := diffRows(rows, want); !ok || d != "" {
		t.Fatalf("lake after the dead-letter outage differs from file mode:\n%s\nlog:\n%s", d, logs)
	}
}
