package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// The sequence (#24): half a stream consumed with 5-minute windows, a
// clean stop, then a restart with 10-minute windows on the same consumer
// group and lake prefix while the rest arrives. The restart must refuse:
// exit 1 with a message that names both shapes and the way out, and nothing
// written. A restart with the first shape then goes on as usual.

// The refusal's message must name both shapes and the way out.
var shapeRefusal = []string{
	"duration 5m0s, slide 5m0s, watermark delay 0s",
	"duration 10m0s, slide 10m0s, watermark delay 0s",
	"new consumer group", "new lake prefix", "Changing the window shape",
}

// shapeInput returns, for each partition, one record per turnstile every 30
// seconds from 10:00:00 to 11:00:00, then a sentinel an hour ahead whose own
// window stays open; first holds the records up to 10:30:00, rest the others.
// The records at 10:30:00 close the window that ends then, so a consumer of
// the first half writes every 5-minute window up to 10:30 without the idle
// rule.
func shapeInput(partitions, turnstiles int) (first, rest [][][]byte) {
	start := time.Date(2024, 7, 22, 10, 0, 0, 0, time.UTC)
	first, rest = make([][][]byte, partitions), make([][][]byte, partitions)
	for s := 0; s <= 120; s++ {
		ts := start.Add(time.Duration(s) * 30 * time.Second)
		for k := 0; k < turnstiles; k++ {
			p := k % partitions
			r := turnstile.NewRecord("A002", "R051", fmt.Sprintf("02-00-%02d", k), "59 ST", "NQR456W", "BMT", "REGULAR",
				int64(s%7+k), int64(s%3), fmt.Sprintf("id-%d-%d", k, s), ts)
			if s <= 60 {
				first[p] = append(first[p], turnstile.AppendCSV(nil, &r))
			} else {
				rest[p] = append(rest[p], turnstile.AppendCSV(nil, &r))
			}
		}
	}
	for p := range rest {
		r := turnstile.NewRecord("ZZZZ", "R999", sentinelSCP, "SENTINEL", "X", "X", "REGULAR", 0, 0,
			fmt.Sprintf("sentinel-%d", p), start.Add(2*time.Hour))
		rest[p] = append(rest[p], turnstile.AppendCSV(nil, &r))
	}
	return first, rest
}

// exitCode returns a process's exit status from Wait's error (-1 when it did
// not exit by itself).
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// waitExit waits for the process to exit by itself and returns its status;
// after timeout it kills it and returns -1.
func (p *consumerProc) waitExit(timeout time.Duration) int {
	select {
	case err := <-p.done:
		return exitCode(err)
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return -1
	}
}

// checkRefusal checks a refused restart: exit status 1, the message, and a
// lake exactly as it was before (nothing written, nothing replaced).
func checkRefusal(t *testing.T, code int, logs, lakeDir string, before map[string]fileState) {
	t.Helper()
	if code != exitRuntime {
		t.Errorf("the restart with 10-minute windows exited with %d, want %d (-1: it kept running and was killed after 30s)", code, exitRuntime)
	}
	for _, w := range shapeRefusal {
		if !strings.Contains(logs, w) {
			t.Errorf("the restart's log does not mention %q", w)
		}
	}
	after := lakeFiles(t, lakeDir)
	var changed []string
	for name, st := range after {
		if b, ok := before[name]; !ok || b.data != st.data {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	if len(changed) > 0 {
		t.Errorf("the restart with 10-minute windows wrote %d objects: %s", len(changed), strings.Join(changed, " "))
	}
	if t.Failed() {
		t.Fatalf("log of the restart:\n%s", logs)
	}
}

func TestShapeChangeRefusedKafka(t *testing.T) {
	broker := startBroker(t, 2, "mta-turnstile")
	first, rest := shapeInput(2, 4)
	produceParts(t, broker.Addr(), "mta-turnstile", first)
	props := writeProps(t, broker.Addr())
	lakeDir, bucket := fileLake(t)
	args := func(duration string) []string {
		return []string{"--config", props, "--group", "shape", "--duration", duration, "--watermark", "0s",
			"--commit-interval", "200ms", "--max-future", "0", "--sink", "file://" + lakeDir + "/turnstile"}
	}

	five := startConsumer(t, nil, args("5")...)
	last := []string{"/turnstile/20240722T103000_p0.csv.gz", "/turnstile/20240722T103000_p1.csv.gz"}
	if !waitFor(30*time.Second, func() bool {
		files := lakeFiles(t, lakeDir)
		_, ok0 := files[last[0]]
		_, ok1 := files[last[1]]
		return ok0 && ok1
	}) {
		t.Fatalf("the 5-minute run did not write its windows up to 10:30:\n%s", five.logs.String())
	}
	time.Sleep(time.Second) // the commit after the last emission
	five.stop(t)
	before := lakeFiles(t, lakeDir)

	produceParts(t, broker.Addr(), "mta-turnstile", rest)
	ten := startConsumer(t, nil, args("10")...)
	checkRefusal(t, ten.waitExit(30*time.Second), ten.logs.String(), lakeDir, before)

	// The way back: the first shape takes the rest, and the lake holds
	// exactly the 5-minute rows of the whole stream.
	spec, _ := window.NewSpec(5*time.Minute, 5*time.Minute, 0)
	all := slices.Clone(first)
	for p := range all {
		all[p] = append(slices.Clone(all[p]), rest[p]...)
	}
	want := expectedRows(t, spec, all)
	again := startConsumer(t, nil, args("5")...)
	var rows []string
	if !waitFor(30*time.Second, func() bool { rows, _ = windowRows(bucket); return len(rows) >= len(want) }) {
		t.Fatalf("the 5-minute restart wrote %d rows, want %d:\n%s", len(rows), len(want), again.logs.String())
	}
	again.stop(t)
	rows, _ = windowRows(bucket)
	slices.Sort(rows)
	if d := diffRows(rows, want); d != "" {
		t.Fatalf("lake after the 5-minute restart differs from one 5-minute run:\n%s\nlog:\n%s", d, again.logs.String())
	}
}

func TestShapeChangeRefusedFileMode(t *testing.T) {
	first, rest := shapeInput(1, 4)
	dir := t.TempDir()
	input := func(name string, values [][]byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, append(bytes.Join(values, []byte("\n")), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	firstFile, restFile := input("first.txt", first[0]), input("rest.txt", rest[0])
	lakeDir, _ := fileLake(t)
	args := func(file, duration string) []string {
		return []string{"--input", file, "--duration", duration, "--watermark", "0s", "--max-future", "0",
			"--sink", "file://" + lakeDir + "/turnstile"}
	}

	five := startConsumer(t, nil, args(firstFile, "5")...)
	if code := five.waitExit(30 * time.Second); code != exitOK {
		t.Fatalf("the 5-minute run exited with %d:\n%s", code, five.logs.String())
	}
	before := lakeFiles(t, lakeDir)
	if _, ok := before["/turnstile/20240722T103000_input.csv.gz"]; !ok {
		t.Fatalf("the 5-minute run wrote no window ending at 10:30:\n%s", five.logs.String())
	}

	ten := startConsumer(t, nil, args(restFile, "10")...)
	checkRefusal(t, ten.waitExit(30*time.Second), ten.logs.String(), lakeDir, before)

	// The same prefix still takes the first shape.
	again := startConsumer(t, nil, args(restFile, "5")...)
	if code := again.waitExit(30 * time.Second); code != exitOK {
		t.Fatalf("the 5-minute run over the rest exited with %d:\n%s", code, again.logs.String())
	}
	if _, ok := lakeFiles(t, lakeDir)["/turnstile/20240722T110000_input.csv.gz"]; !ok {
		t.Fatalf("the 5-minute run over the rest wrote no window ending at 11:00:\n%s", again.logs.String())
	}
}
