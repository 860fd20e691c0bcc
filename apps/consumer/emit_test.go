package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// TestEmitTopicMatchesLake runs the consumer with --emit-topic, kills it with
// SIGKILL a few times, and checks that a read_committed reader of the emit
// topic sees exactly the rows the lake holds, each once, under its key.
func TestEmitTopicMatchesLake(t *testing.T) {
	bin := consumerBinary(t)
	broker, err := kafkatest.Start(kafkatest.Topics(2, "mta-turnstile", "mta-turnstile-windows"), kafkatest.MinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	parts := crashInput(2)
	var records []kafkatest.Record
	for p, values := range parts {
		parts[p] = values[len(values)-2000:] // the last 2000 values of each partition, sentinel included
		for _, v := range parts[p] {
			records = append(records, kafkatest.Record{Partition: int32(p), Value: v})
		}
	}
	spec, err := window.NewSpec(time.Minute, time.Minute, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := expectedRows(t, spec, parts)
	if err := kafkatest.Produce(broker.Addr(), "mta-turnstile", records); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	props := filepath.Join(dir, "kafka.properties")
	if err := os.WriteFile(props, []byte(fmt.Sprintf(
		"bootstrap.servers=%s\nenable.metrics.push=false\nfetch.queue.backoff.ms=10\nsession.timeout.ms=1000\nheartbeat.interval.ms=200\nmax.poll.interval.ms=3000\n",
		broker.Addr())), 0o600); err != nil {
		t.Fatal(err)
	}
	lakeDir := filepath.Join(dir, "lake")
	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, "--config", props, "--group", "emit-test", "--duration", "1", "--idle-close", "0",
			"--commit-interval", "200ms", "--sink", "file://"+lakeDir+"/turnstile", "--emit-topic", "mta-turnstile-windows", "--log-level", "warn")
		var logs bytes.Buffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &logs
	}
	for _, d := range []time.Duration{700 * time.Millisecond, 1200 * time.Millisecond, 1500 * time.Millisecond} {
		cmd, _ := start()
		time.Sleep(d)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	cmd, logs := start()
	bucket, err := lake.NewFileBucket(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until a read_committed reader has seen as many rows as an
	// uninterrupted run writes (the sentinels' windows stay open).
	readCommitted(t, broker.Addr(), "mta-turnstile-windows", 60*time.Second, func(n int) bool { return n >= len(want) })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("consumer did not stop cleanly: %v\n%s", err, logs.String())
	}
	lakeRows, err := windowRows(bucket)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lakeRows)
	var topicRows []string
	seen := map[string]bool{}
	for _, m := range readCommitted(t, broker.Addr(), "mta-turnstile-windows", 10*time.Second, nil) {
		c, err := turnstile.ParseWindowCount(m.Value)
		if err != nil {
			t.Fatalf("emitted value %q: %v", m.Value, err)
		}
		if string(m.Key) != string(turnstile.AppendWindowKey(nil, &c)) {
			t.Fatalf("key %q, want %q", m.Key, turnstile.AppendWindowKey(nil, &c))
		}
		if seen[string(m.Key)] {
			t.Errorf("row emitted twice to read_committed readers: %s", m.Key)
		}
		seen[string(m.Key)] = true
		topicRows = append(topicRows, string(m.Value))
	}
	slices.Sort(topicRows)
	if d := diffRows(lakeRows, want); d != "" {
		t.Fatalf("lake (%d rows) differs from an uninterrupted run (%d rows):\n%s", len(lakeRows), len(want), d)
	}
	if d := diffRows(topicRows, lakeRows); d != "" {
		t.Fatalf("emit topic (%d rows) differs from the lake (%d rows):\n%s", len(topicRows), len(lakeRows), d)
	}
}

// readCommitted reads a topic from the start with isolation.level
// read_committed until done reports true for the number of messages read (or,
// with done nil, until the topic is drained), within the timeout.
func readCommitted(t *testing.T, addr, topic string, timeout time.Duration, done func(int) bool) []*kafka.Message {
	t.Helper()
	cm := kafka.ConfigMap{"bootstrap.servers": addr, "group.id": fmt.Sprintf("reader-%d", time.Now().UnixNano()),
		"auto.offset.reset": "earliest", "isolation.level": "read_committed", "enable.auto.commit": false}
	for k, v := range kafkatest.ClientDefaults {
		cm[k] = v
	}
	c, err := kafka.NewConsumer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(topic, nil); err != nil {
		t.Fatal(err)
	}
	var msgs []*kafka.Message
	deadline := time.Now().Add(timeout)
	idleSince := time.Now()
	for time.Now().Before(deadline) {
		m, err := c.ReadMessage(200 * time.Millisecond)
		if err == nil {
			msgs = append(msgs, m)
			idleSince = time.Now()
			continue
		}
		if done != nil && done(len(msgs)) {
			return msgs
		}
		if done == nil && len(msgs) > 0 && time.Since(idleSince) > 2*time.Second {
			return msgs
		}
	}
	if done != nil {
		t.Fatalf("read %d messages from %s; condition not met within %s", len(msgs), topic, timeout)
	}
	return msgs
}
