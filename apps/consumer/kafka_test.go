package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// TestIdleCloseAndDeadLetterTopic runs the consumer against the embedded
// broker with 2-second windows, no watermark delay, a 1-second --idle-close
// and a dead-letter topic. No record ever passes the last window's end, so
// only the idle rule can close it: its file must still reach the lake. Every
// rejected value must reach the dead-letter topic with its reason, partition
// and offset.
func TestIdleCloseAndDeadLetterTopic(t *testing.T) {
	bin := consumerBinary(t)
	broker, err := kafkatest.Start(kafkatest.Topics(2, "mta-turnstile", "mta-turnstile-dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	at := func(scp, ts string, entries int64, id string) []byte {
		tm, err := time.Parse(turnstile.TimestampLayout, ts)
		if err != nil {
			t.Fatal(err)
		}
		r := turnstile.NewRecord("A002", "R051", scp, "59 ST", "NQR456W", "BMT", "REGULAR", entries, 1, id, tm)
		return turnstile.AppendCSV(nil, &r)
	}
	records := []kafkatest.Record{
		{Partition: 0, Value: at("01", "2024-07-22 10:00:00", 3, "a")},
		{Partition: 0, Value: []byte("not,a,record")},
		{Partition: 0, Value: at("01", "2024-07-22 10:00:01", 4, "b")},
		{Partition: 1, Value: at("02", "2024-07-22 10:00:01", 7, "c")},
		{Partition: 1, Value: []byte(`A002,R051,02,59 ST,NQR456W,BMT,07-22-24,10:00:01,REGULAR,-1,1,d,2024-07-22 10:00:01`)},
	}
	if err := kafkatest.Produce(broker.Addr(), "mta-turnstile", records); err != nil {
		t.Fatal(err)
	}
	lakeDir := t.TempDir()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--bootstrap", broker.Addr(), "--group", "idle-test", "--duration", "2s", "--watermark", "0s",
		"--idle-close", "1s", "--dead-letter-topic", "mta-turnstile-dlq", "--sink", "file://"+lakeDir+"/turnstile")
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	bucket, err := lake.NewFileBucket(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"A002,R051,01,59 ST,NQR456W,BMT,07/22/2024,10:00:02,REGULAR,7,2",
		"A002,R051,02,59 ST,NQR456W,BMT,07/22/2024,10:00:02,REGULAR,7,1",
	}
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got, err = windowRows(bucket); err == nil && len(got) >= len(want) {
			break
		}
	}
	slices.Sort(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lake rows after the stream went idle:\n%s\nwant:\n%s\nlog:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), logs.String())
	}
	names, err := bucket.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "turnstile_rejected/") {
			t.Errorf("dead letters went to the lake (%s) although a dead-letter topic is set", n)
		}
	}

	var dead []string
	for _, m := range readCommitted(t, broker.Addr(), "mta-turnstile-dlq", 30*time.Second, func(n int) bool { return n >= 2 }) {
		var rec lake.SideRecord
		if err := json.Unmarshal(m.Value, &rec); err != nil {
			t.Fatalf("dead letter %q: %v", m.Value, err)
		}
		if rec.Partition == nil {
			t.Fatalf("dead letter without a partition: %s", m.Value)
		}
		dead = append(dead, rec.Reason+"@"+string(rune('0'+*rec.Partition))+":"+string(rune('0'+rec.Offset)))
	}
	slices.Sort(dead)
	if want := "bad_entries@1:1 field_count@0:1"; strings.Join(dead, " ") != want {
		t.Fatalf("dead letters %v, want %s", dead, want)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("consumer did not stop cleanly: %v\n%s", err, logs.String())
	}
}
