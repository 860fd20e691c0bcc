package mta

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by the time slept, without sleeping. After stopAfter
// sleeps it fails every Sleep, as a cancelled context would.
type fakeClock struct {
	now       time.Time
	slept     []time.Duration
	stopAfter int
	onSleep   func(n int) // called after the n-th sleep (1-based), before returning
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if len(c.slept) >= c.stopAfter {
		return context.Canceled
	}
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	if c.onSleep != nil {
		c.onSleep(len(c.slept))
	}
	return nil
}

// TestReporterLogsEvery10s drives a replay's progress through reading and
// merging, and checks the log lines written every 10 s of the fake clock.
func TestReporterLogsEvery10s(t *testing.T) {
	var p Progress
	p.SetFiles(4)
	var logs bytes.Buffer
	clock := &fakeClock{now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), stopAfter: 3}
	from := time.Date(2023, 1, 7, 0, 0, 0, 0, time.UTC)
	clock.onSleep = func(n int) {
		switch n {
		case 1: // 10 s: one file of four read
			p.fileDone()
			p.addRead(254000)
		case 2: // 20 s: all read, merging, 5,000 messages
			for range 3 {
				p.fileDone()
			}
			p.addRead(762000)
			p.setSpan(from.Unix(), from.Add(28*24*time.Hour).Unix())
			p.setPosition(from.Add(7*24*time.Hour).Unix(), 5000)
		case 3: // 30 s: a week further on, 105,000 messages
			p.setPosition(from.Add(14*24*time.Hour).Unix(), 105000)
		}
	}
	r := NewReporter(&p, clock, nil, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: dropTime})))
	r.Run(context.Background())
	for _, d := range clock.slept {
		if d != 10*time.Second {
			t.Errorf("slept %v, want 10s between log lines", d)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	want := []string{
		`level=INFO msg=progress files=1 of=4 read=254000 messages=0 rows_per_s=25400 eta=30s`,
		`level=INFO msg=progress files=4 of=4 read=1016000 messages=5000 msgs_per_s=500 position="2023-01-14 00:00:00" eta=30s`,
		`level=INFO msg=progress files=4 of=4 read=1016000 messages=105000 msgs_per_s=10000 position="2023-01-21 00:00:00" eta=20s`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), logs.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], want[i])
		}
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// TestReporterTerminalLine checks the status line rewritten every second on
// a terminal, and that it is cleared at the end.
func TestReporterTerminalLine(t *testing.T) {
	var p Progress
	p.SetFiles(52)
	var term bytes.Buffer
	clock := &fakeClock{now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), stopAfter: 2}
	status := NewStatusLine(&term)
	clock.onSleep = func(n int) {
		if n == 1 {
			for range 13 {
				p.fileDone()
			}
			p.addRead(3300000)
		}
		if n == 2 {
			// A log line while the status line shows: it goes above it.
			status.Write([]byte("level=WARN msg=\"skipping bad row\"\n"))
		}
	}
	r := NewReporter(&p, clock, status, nil)
	r.Run(context.Background())
	if len(clock.slept) != 2 || clock.slept[0] != time.Second {
		t.Errorf("slept %v, want 1s steps", clock.slept)
	}
	want := "\r\x1b[Kfiles 13/52  read 3300000  messages 0  reading 3300000 rows/s  ETA 3s" +
		"\r\x1b[Klevel=WARN msg=\"skipping bad row\"\n" +
		"files 13/52  read 3300000  messages 0  reading 3300000 rows/s  ETA 3s" +
		"\r\x1b[Kfiles 13/52  read 3300000  messages 0  reading 0 rows/s  ETA 6s" +
		"\r\x1b[K"
	if got := term.String(); got != want {
		t.Errorf("terminal output\n got %q\nwant %q", got, want)
	}
}

// TestConverterFeedsProgress checks that a Converter and its Replay count
// files, readings and messages.
func TestConverterFeedsProgress(t *testing.T) {
	var p Progress
	files := genArchive(2, 2, 8)
	p.SetFiles(len(files))
	rp := convertWith(t, []Option{WithProgress(&p)}, files...)
	s := p.Snapshot()
	if s.FilesDone != 3 || s.FilesTotal != 3 || s.Read != rp.Stats().Read || !s.Merging {
		t.Errorf("after reading: %+v, want 3 of 3 files, %d read, merging", s, rp.Stats().Read)
	}
	n := int64(0)
	for range rp.Records() {
		n++
	}
	s = p.Snapshot()
	if s.Messages != n || !s.Position.Equal(s.To) || s.To.IsZero() {
		t.Errorf("after the replay: %+v, want %d messages at the end of the span", s, n)
	}
}
