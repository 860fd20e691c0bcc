package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/stream"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// consumerBinary builds the real consumer once per test run, so that a test
// can kill it with SIGKILL.
func consumerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "consumer-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "consumer")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

const sentinelSCP = "99-99-99"

// crashInput returns the message values of each partition: a day of records
// for 24 turnstiles with duplicates, late records and invalid values mixed in,
// ending with a sentinel record an hour ahead whose own window stays open.
func crashInput(partitions int) [][][]byte {
	start := time.Date(2024, 7, 22, 0, 0, 0, 0, time.UTC)
	out := make([][][]byte, partitions)
	rec := func(k int, ts time.Time, id string, n int) []byte {
		r := turnstile.NewRecord(fmt.Sprintf("A%03d", k), "R051", fmt.Sprintf("02-00-%02d", k), fmt.Sprintf("STATION %d", k%5),
			"NQR456W", "BMT", "REGULAR", int64(n%17), int64(n%11), id, ts)
		return turnstile.AppendCSV(nil, &r)
	}
	for i := 0; i < 12000; i++ {
		k := i % 24
		p := k % partitions
		ts := start.Add(time.Duration(i) * 5 * time.Second)
		v := rec(k, ts, fmt.Sprintf("id-%d", i), i)
		out[p] = append(out[p], v)
		switch {
		case i%50 == 7: // redelivered
			out[p] = append(out[p], v)
		case i%97 == 3: // late: ten minutes old, new ID
			out[p] = append(out[p], rec(k, ts.Add(-10*time.Minute), fmt.Sprintf("late-%d", i), i))
		case i%501 == 11:
			out[p] = append(out[p], []byte(fmt.Sprintf("garbage line %d", i)))
		}
	}
	end := start.Add(12000*5*time.Second + time.Hour)
	for p := range out {
		r := turnstile.NewRecord("ZZZZ", "R999", sentinelSCP, "SENTINEL", "X", "X", "REGULAR", 0, 0, fmt.Sprintf("sentinel-%d", p), end)
		out[p] = append(out[p], turnstile.AppendCSV(nil, &r))
	}
	return out
}

// expectedRows runs each partition's values through file mode, in process, and
// returns its window rows but the sentinel's, as sorted lines.
func expectedRows(t *testing.T, spec window.Spec, parts [][][]byte) []string {
	t.Helper()
	var rows []string
	for _, values := range parts {
		sink := &lake.Sink{Bucket: lake.NewMemBucket(), Layout: lake.Layout{Prefix: "turnstile"}}
		p := stream.New(stream.Config{Spec: spec, Sink: sink, Side: stream.LakeSide{Sink: sink}, Index: true})
		input := bytes.Join(values, []byte("\n"))
		if _, err := stream.RunInput(context.Background(), bytes.NewReader(input), p); err != nil {
			t.Fatal(err)
		}
		got, err := windowRows(sink.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, got...)
	}
	slices.Sort(rows)
	return rows
}

// windowRows decodes every window file and returns its rows, but the
// sentinel's, as lines.
func windowRows(b lake.Bucket) ([]string, error) {
	names, err := b.List(context.Background(), "turnstile/")
	if err != nil {
		return nil, err
	}
	var rows []string
	for _, name := range names {
		data, err := b.Get(context.Background(), name)
		if err != nil {
			return nil, err
		}
		wcs, err := lake.DecodeWindows(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for i := range wcs {
			if wcs[i].SCP != sentinelSCP {
				rows = append(rows, string(turnstile.AppendWindowCount(nil, &wcs[i])))
			}
		}
	}
	return rows, nil
}

// TestKillNineExactlyOnce kills the consumer with SIGKILL at 22 random moments
// while it works through three partitions, restarting it each time, and checks
// that the lake then holds exactly the rows of an uninterrupted run: none lost,
// none doubled.
func TestKillNineExactlyOnce(t *testing.T) {
	bin := consumerBinary(t)
	const partitions = 3
	broker, err := kafkatest.Start(kafkatest.Topics(partitions, "mta-turnstile"), kafkatest.MinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()

	parts := crashInput(partitions)
	var records []kafkatest.Record
	for p, values := range parts {
		for _, v := range values {
			records = append(records, kafkatest.Record{Partition: int32(p), Value: v})
		}
	}
	if err := kafkatest.Produce(broker.Addr(), "mta-turnstile", records); err != nil {
		t.Fatal(err)
	}
	spec, err := window.NewSpec(time.Minute, time.Minute, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := expectedRows(t, spec, parts)

	dir := t.TempDir()
	props := filepath.Join(dir, "kafka.properties")
	if err := os.WriteFile(props, []byte(fmt.Sprintf(
		"bootstrap.servers=%s\nenable.metrics.push=false\nfetch.queue.backoff.ms=10\nsession.timeout.ms=1000\nheartbeat.interval.ms=200\nmax.poll.interval.ms=3000\n",
		broker.Addr())), 0o600); err != nil {
		t.Fatal(err)
	}
	lakeDir := filepath.Join(dir, "lake")
	start := func(level string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, "--config", props, "--group", "crash-test", "--duration", "1", "--idle-close", "0",
			"--commit-interval", "200ms", "--sink", "file://"+lakeDir+"/turnstile", "--log-level", level)
		var logs bytes.Buffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &logs
	}

	rng := rand.New(rand.NewPCG(1, 2))
	const kills = 22
	for i := 0; i < kills; i++ {
		cmd, _ := start("warn")
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
	}
	bucket, err := lake.NewFileBucket(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	killedRows, _ := windowRows(bucket)
	t.Logf("after %d kills the lake holds %d of %d expected rows", kills, len(killedRows), len(want))

	// A last run finishes the job; then SIGTERM must stop it cleanly.
	cmd, logs := start("info")
	var got []string
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		if got, err = windowRows(bucket); err == nil && len(got) >= len(want) {
			break
		}
	}
	// Let the final run settle, then stop it.
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final consumer did not exit cleanly on SIGTERM: %v\n%s", err, logs.String())
	}
	if got, err = windowRows(bucket); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if d := diffRows(got, want); d != "" {
		t.Fatalf("lake after %d kills differs from an uninterrupted run (%d rows, want %d):\n%s\nlast run's log:\n%s", kills, len(got), len(want), d, logs.String())
	}
	checkRejected(t, bucket, parts)
}

// checkRejected checks that every invalid value reached the dead-letter area,
// and nothing else did. Side output is at least once (docs/lake.md): a replay
// after a kill may write a record into a second object, so repeats of a
// (source, offset) are allowed.
func checkRejected(t *testing.T, b lake.Bucket, parts [][][]byte) {
	t.Helper()
	want := 0
	for _, values := range parts {
		for _, v := range values {
			if bytes.HasPrefix(v, []byte("garbage")) {
				want++
			}
		}
	}
	names, err := b.List(context.Background(), "turnstile_rejected/")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, name := range names {
		data, err := b.Get(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := lake.DecodeSide(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if !strings.HasPrefix(r.Value, "garbage") {
				t.Errorf("rejected record %s@%d is not one of the invalid values: %q", r.Source, r.Offset, r.Value)
			}
			seen[fmt.Sprintf("%s@%d", r.Source, r.Offset)] = true
		}
	}
	if len(seen) != want {
		t.Errorf("dead-letter area holds %d records, want %d", len(seen), want)
	}
}

// diffRows describes how two sorted row lists differ, or returns "".
func diffRows(got, want []string) string {
	var b strings.Builder
	count := func(rows []string) map[string]int {
		m := map[string]int{}
		for _, r := range rows {
			m[r]++
		}
		return m
	}
	g, w := count(got), count(want)
	n := 0
	for r, c := range g {
		if w[r] != c && n < 10 {
			fmt.Fprintf(&b, "  got %d× want %d×: %s\n", c, w[r], r)
			n++
		}
	}
	for r, c := range w {
		if g[r] == 0 && n < 20 {
			fmt.Fprintf(&b, "  missing (want %d×): %s\n", c, r)
			n++
		}
	}
	return b.String()
}
