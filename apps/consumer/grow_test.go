package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// TestGrowingThePartitionsNeverCorruptsTheLake grows the topic from 2 to 4
// partitions under a running consumer, and a producer then sends half of
// the turnstiles to the new partitions, as a keyed producer does once its
// metadata refresh shows it the new count. A window of a turnstile whose records now sit on two
// partitions would be written as two rows, or as one row with part of its
// records. The lake may miss rows after the growth, but every row it holds
// must be whole (equal to the row of a single-partition run over the whole
// stream) and no (window, key) may appear twice. The consumer must stop
// taking records, say why, turn /readyz not ready and set the metric.
func TestGrowingThePartitionsNeverCorruptsTheLake(t *testing.T) {
	broker := startBroker(t, 2, "mta-turnstile")
	const turnstiles, seconds, before = 8, 60, 21
	start := time.Date(2024, 7, 22, 10, 0, 0, 0, time.UTC)
	record := func(k, s int) []byte {
		r := turnstile.NewRecord("A002", "R051", fmt.Sprintf("02-00-%02d", k), "59 ST", "NQR456W", "BMT", "REGULAR",
			int64(s+k), 1, fmt.Sprintf("id-%d-%d", k, s), start.Add(time.Duration(s)*time.Second))
		return turnstile.AppendCSV(nil, &r)
	}
	// head: turnstile k on partition k%2; tail: on k%4.
	head, tail := make([][][]byte, 2), make([][][]byte, 4)
	var all [][]byte
	for s := range seconds {
		for k := range turnstiles {
			v := record(k, s)
			all = append(all, v)
			if s < before {
				head[k%2] = append(head[k%2], v)
			} else {
				tail[k%4] = append(tail[k%4], v)
			}
		}
	}
	spec, _ := window.NewSpec(2*time.Second, 2*time.Second, 2*time.Second)
	whole := expectedRows(t, spec, [][][]byte{all}) // one partition: every row whole

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := l.Addr().String()
	l.Close()
	lakeDir, bucket := fileLake(t)
	produceParts(t, broker.Addr(), "mta-turnstile", head)
	proc := startConsumer(t, nil, "--config", writeProps(t, broker.Addr()), "--group", "grow", "--duration", "2s",
		"--commit-interval", "200ms", "--max-future", "0", "--sink", "file://"+lakeDir+"/turnstile", "--metrics-addr", metricsAddr)
	if !waitFor(30*time.Second, func() bool { rows, _ := windowRows(bucket); return len(rows) > 0 }) {
		t.Fatalf("the consumer wrote no window before the growth:\n%s", proc.logs.String())
	}

	admin, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": broker.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := admin.CreatePartitions(ctx, []kafka.PartitionsSpecification{{Topic: "mta-turnstile", IncreaseTo: 4}})
	if err != nil || res[0].Error.Code() != kafka.ErrNoError {
		t.Fatalf("growing the topic: %v %v", err, res)
	}
	// A keyed librdkafka producer sends to the new partitions once its
	// metadata refresh shows them (topic.metadata.refresh.interval.ms, 5
	// minutes by default); this one takes 3 seconds. The consumer asks every
	// second (docs/consumer.md, "Growing the topic", states the margin).
	time.Sleep(3 * time.Second)
	produceParts(t, broker.Addr(), "mta-turnstile", tail)

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + metricsAddr + path)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// The lake is checked whatever happens: a consumer that does not notice
	// goes on writing.
	noticed := waitFor(20*time.Second, func() bool { return strings.Contains(proc.logs.String(), "takes no more records") })
	if !noticed {
		t.Errorf("the consumer did not notice the growth within 20s")
	}
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz answered %d after the growth, want 503", code)
	}
	if _, body := get("/metrics"); !strings.Contains(body, "turnstile_consumer_partition_count_changed 1") {
		t.Errorf("metrics after the growth lack turnstile_consumer_partition_count_changed 1")
	}
	time.Sleep(3 * time.Second) // what the consumer still does, it does now
	_ = proc.cmd.Process.Signal(syscall.SIGTERM)
	var exitErr error
	select {
	case exitErr = <-proc.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the consumer did not stop within 60s of SIGTERM:\n%s", proc.logs.String())
	}
	logs := proc.logs.String()
	if exitErr == nil || !strings.Contains(logs, `Growing the topic`) {
		t.Errorf("the halted consumer exited with %v, want status 1 and the procedure named in its error:\n%s", exitErr, logs)
	}

	// Restarts without --accept-partitions refuse too, every time: the
	// committed metadata still records 2 partitions (a halted consumer
	// claims nothing, so no restart can record 4).
	for restart := 1; restart <= 3; restart++ {
		again := startConsumer(t, nil, "--config", writeProps(t, broker.Addr()), "--group", "grow", "--duration", "2s",
			"--commit-interval", "200ms", "--max-future", "0", "--sink", "file://"+lakeDir+"/turnstile")
		if !waitFor(30*time.Second, func() bool { return strings.Contains(again.logs.String(), "takes no more records") }) {
			t.Errorf("restart %d after the growth did not halt:\n%s", restart, again.logs.String())
		}
		_ = again.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-again.done:
		case <-time.After(60 * time.Second):
			t.Fatalf("restart %d did not stop within 60s of SIGTERM:\n%s", restart, again.logs.String())
		}
	}

	rows, err := windowRows(bucket)
	if err != nil {
		t.Fatal(err)
	}
	wholeSet := map[string]bool{}
	for _, r := range whole {
		wholeSet[r] = true
	}
	seen := map[string]string{} // (window, key) -> row
	for _, r := range rows {
		if !wholeSet[r] {
			t.Errorf("row %q is not whole: a single-partition run has no such row", r)
		}
		id := windowKey(r)
		if prev, ok := seen[id]; ok {
			t.Errorf("(window, key) %s is in two rows: %q and %q", id, prev, r)
		}
		seen[id] = r
	}
	if len(rows) == 0 || t.Failed() {
		slices.Sort(rows)
		t.Fatalf("%d rows in the lake; consumer log:\n%s", len(rows), logs)
	}
}

// windowKey returns the (window, key) of a lake row: every field but the two
// sums (ENTRIES, EXITS), which are the last two.
func windowKey(row string) string {
	f := strings.Split(row, ",")
	return strings.Join(f[:len(f)-2], ",")
}
