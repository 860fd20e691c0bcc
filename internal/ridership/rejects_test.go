package ridership

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// TestLogRejects checks that every reject line of a replay becomes one WARN
// log record, with the line whole.
func TestLogRejects(t *testing.T) {
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	w := LogRejects(log)
	fmt.Fprintf(w, "export.csv:3: ridership %q: not a whole non-negative number: a,b\n", "x")
	w.Write([]byte("one\n\ntwo\r\n"))
	want := `level=WARN msg="skipping bad row" reject="export.csv:3: ridership \"x\": not a whole non-negative number: a,b"` + "\n" +
		`level=WARN msg="skipping bad row" reject=one` + "\n" +
		`level=WARN msg="skipping bad row" reject=two` + "\n"
	if logBuf.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", logBuf.String(), want)
	}

	// Through a replay: one record per bad row.
	logBuf.Reset()
	dir := t.TempDir()
	path := dir + "/export.csv"
	csv := string(readSample(t, "sample.csv"))
	lines := strings.SplitAfter(csv, "\n")
	lines[2] = strings.Replace(lines[2], "/2025", "/20x5", 1)
	lines[5] = strings.Replace(lines[5], "/2025", "/20y5", 1)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	var counters publish.Counters
	s, err := Run(context.Background(), Config{Inputs: []string{path}, Sink: newMemSink(&counters), Counters: &counters, Rejects: w})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(logBuf.String(), `msg="skipping bad row"`); got != 2 || s.Skipped != 2 {
		t.Errorf("%d reject log records, %d skipped, want 2 and 2:\n%s", got, s.Skipped, logBuf.String())
	}
	if !strings.Contains(logBuf.String(), `reject="`+path+`:3: transit_timestamp`) {
		t.Errorf("no reject names %s line 3:\n%s", path, logBuf.String())
	}
}
