package mta

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Progress counts how far a replay is. A Converter made WithProgress and its
// Replay update it as they go; a Reporter reads it from another goroutine.
// The zero value is ready to use; a nil *Progress counts nothing.
type Progress struct {
	filesTotal atomic.Int64
	filesDone  atomic.Int64
	read       atomic.Int64
	messages   atomic.Int64
	position   atomic.Int64 // event time (Unix seconds) of the merge
	from, to   atomic.Int64 // the span of readings, set by Finish
	merging    atomic.Bool
}

// SetFiles sets the number of files to read.
func (p *Progress) SetFiles(n int) {
	if p != nil {
		p.filesTotal.Store(int64(n))
	}
}

func (p *Progress) addRead(n int64) {
	if p != nil {
		p.read.Add(n)
	}
}

func (p *Progress) fileDone() {
	if p != nil {
		p.filesDone.Add(1)
	}
}

func (p *Progress) setSpan(from, to int64) {
	if p != nil {
		p.from.Store(from)
		p.to.Store(to)
		p.position.Store(from)
		p.merging.Store(true)
	}
}

func (p *Progress) setPosition(t, messages int64) {
	if p != nil {
		p.position.Store(t)
		p.messages.Store(messages)
	}
}

// ProgressSnapshot is the state of a replay at one instant.
type ProgressSnapshot struct {
	FilesDone, FilesTotal int64
	Read                  int64 // rows read
	Messages              int64 // records yielded
	Merging               bool  // all files are read; the records are going out
	Position, From, To    time.Time
}

// Snapshot returns the current state.
func (p *Progress) Snapshot() ProgressSnapshot {
	s := ProgressSnapshot{
		FilesDone: p.filesDone.Load(), FilesTotal: p.filesTotal.Load(),
		Read: p.read.Load(), Messages: p.messages.Load(), Merging: p.merging.Load(),
	}
	if s.Merging && p.from.Load() <= p.to.Load() {
		s.From = time.Unix(p.from.Load(), 0).UTC()
		s.To = time.Unix(p.to.Load(), 0).UTC()
		s.Position = time.Unix(p.position.Load(), 0).UTC()
	}
	return s
}

// Clock tells the time and waits: publish.RealClock, or a fake in tests.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// ProgressInterval and LogProgressInterval are how often a Reporter writes
// its terminal line and its log line.
const (
	ProgressInterval    = time.Second
	LogProgressInterval = 10 * time.Second
)

// Reporter shows a Progress: on a terminal it rewrites one status line on w
// every ProgressInterval; otherwise it logs a "progress" line every
// LogProgressInterval.
type Reporter struct {
	p        *Progress
	clock    Clock
	terminal *StatusLine  // the terminal, or nil to log
	log      *slog.Logger // used when terminal is nil
	began    time.Time
	last     ProgressSnapshot
	lastAt   time.Time
	mergeAt  time.Time // about when the merge began: the ETA while merging is measured from there
}

// NewReporter returns a Reporter of p on clock. With a non-nil terminal it
// shows the status line there; otherwise it logs on log.
func NewReporter(p *Progress, clock Clock, terminal *StatusLine, log *slog.Logger) *Reporter {
	now := clock.Now()
	return &Reporter{p: p, clock: clock, terminal: terminal, log: log, began: now, lastAt: now}
}

// Interval returns how often Run reports.
func (r *Reporter) Interval() time.Duration {
	if r.terminal != nil {
		return ProgressInterval
	}
	return LogProgressInterval
}

// Run reports every Interval until ctx is done, then clears the status
// line (the summary follows in the log).
func (r *Reporter) Run(ctx context.Context) {
	for r.clock.Sleep(ctx, r.Interval()) == nil {
		r.Report(r.clock.Now())
	}
	if r.terminal != nil {
		r.terminal.Clear()
	}
}

// Report writes one progress report as of now.
func (r *Reporter) Report(now time.Time) {
	s := r.p.Snapshot()
	if s.Merging && r.mergeAt.IsZero() {
		r.mergeAt = r.lastAt // it began during the last interval
	}
	// The rate of the phase: rows read while reading, messages while sending.
	rate := 0.0
	if dt := now.Sub(r.lastAt).Seconds(); dt > 0 {
		if s.Merging {
			rate = float64(s.Messages-r.last.Messages) / dt
		} else {
			rate = float64(s.Read-r.last.Read) / dt
		}
	}
	eta, haveETA := r.eta(s, now)
	r.last, r.lastAt = s, now
	if r.terminal != nil {
		r.terminal.Set(Line(s, rate, eta, haveETA))
		return
	}
	attrs := []any{"files", s.FilesDone, "of", s.FilesTotal, "read", s.Read, "messages", s.Messages}
	if s.Merging {
		attrs = append(attrs, "msgs_per_s", int64(rate+0.5), "position", s.Position.Format(turnstile.TimestampLayout))
	} else {
		attrs = append(attrs, "rows_per_s", int64(rate+0.5))
	}
	if haveETA {
		attrs = append(attrs, "eta", eta.Round(time.Second).String())
	}
	r.log.Info("progress", attrs...)
}

// eta estimates the time left: while reading, from the share of files read;
// while merging, from the share of the event-time span passed since the
// merge began.
func (r *Reporter) eta(s ProgressSnapshot, now time.Time) (time.Duration, bool) {
	if !s.Merging {
		if s.FilesDone == 0 || s.FilesTotal == 0 {
			return 0, false
		}
		took := now.Sub(r.began)
		return time.Duration(float64(took) * float64(s.FilesTotal-s.FilesDone) / float64(s.FilesDone)), true
	}
	span := s.To.Sub(s.From)
	done := s.Position.Sub(s.From)
	if span <= 0 || done <= 0 {
		return 0, false
	}
	took := now.Sub(r.mergeAt)
	return time.Duration(float64(took) * float64(span-done) / float64(done)), true
}

// Line is the terminal status line of a snapshot, with the rate over the
// last interval (rows read per second while reading, messages per second
// while sending) and the ETA, if known.
func Line(s ProgressSnapshot, rate float64, eta time.Duration, haveETA bool) string {
	line := fmt.Sprintf("files %d/%d  read %d  messages %d", s.FilesDone, s.FilesTotal, s.Read, s.Messages)
	if s.Merging {
		line += fmt.Sprintf("  %.0f msg/s  at %s", rate, s.Position.Format(turnstile.TimestampLayout))
	} else {
		line += fmt.Sprintf("  reading %.0f rows/s", rate)
	}
	if haveETA {
		line += "  ETA " + eta.Round(time.Second).String()
	}
	return line
}

// StatusLine is a terminal writer that keeps one status line below what is
// written through it: a write (a log line) clears the status line, goes
// above it and draws it again. It is safe for concurrent use.
type StatusLine struct {
	mu   sync.Mutex
	w    io.Writer
	line string
}

// NewStatusLine returns a StatusLine on the terminal w.
func NewStatusLine(w io.Writer) *StatusLine { return &StatusLine{w: w} }

// Write writes p above the status line.
func (s *StatusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line == "" {
		return s.w.Write(p)
	}
	io.WriteString(s.w, "\r\x1b[K")
	n, err := s.w.Write(p)
	io.WriteString(s.w, s.line)
	return n, err
}

// Set shows line as the status line.
func (s *StatusLine) Set(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	io.WriteString(s.w, "\r\x1b[K"+line)
	s.line = line
}

// Clear removes the status line.
func (s *StatusLine) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line != "" {
		io.WriteString(s.w, "\r\x1b[K")
		s.line = ""
	}
}
