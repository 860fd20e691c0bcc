package stream

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/textline"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// LakeSide writes side outputs as gzip JSON-lines objects beside the window
// files, under the sink's sibling prefixes (turnstile_rejected/, turnstile_late/),
// which never match the external table's turnstile/*.csv.gz.
type LakeSide struct {
	Sink    *lake.Sink
	Metrics *Metrics
}

// Write stores recs as one object named by the kind, source and first offset,
// so that a replay writes the same name again.
func (s LakeSide) Write(ctx context.Context, kind lake.SideKind, source string, firstOffset int64, recs []lake.SideRecord) error {
	name, size, err := s.Sink.PutSide(ctx, kind, source, firstOffset, recs)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if s.Metrics != nil {
		s.Metrics.files.WithLabelValues(string(kind)).Inc()
		s.Metrics.bytes.WithLabelValues(string(kind)).Add(float64(size))
	}
	return nil
}

// InputResult summarises a run over a finite input.
type InputResult struct {
	Lines       int64
	Interrupted bool // ctx was cancelled before the end of the input
}

// RunInput processes r, one message value per line, as a single partition
// named InputSource whose offsets are 1-based line numbers: a Driver with
// DriverConfig.Once over a FileSource. At the end of the input every window
// closes and is written. When ctx is cancelled first, it stops reading,
// writes the side outputs and the windows already closed, and leaves the
// open windows unwritten: a re-run writes them whole, under the same names.
func RunInput(ctx context.Context, r io.Reader, p *Processor) (InputResult, error) {
	src := NewFileSource(r, p.cfg.Records)
	err := NewDriver(p, DriverConfig{Once: true, Logger: p.cfg.Logger, Now: p.cfg.Now}).Run(ctx, src)
	return InputResult{Lines: src.lines, Interrupted: !src.eof && ctx.Err() != nil}, err
}

// FileSource is a Source over a finite input, one message value per line:
// one partition, 0, whose offsets are 1-based line numbers, for a Driver
// with DriverConfig.Once. Lines are read and parsed ahead, by its record
// type's parser, on a goroutine of its own (readLines), and handed over in
// batches, in order. It keeps no
// commits, cannot pause, and has no log end or partition count.
type FileSource struct {
	r       io.Reader
	records Records
	started bool
	stop    context.CancelFunc
	batches chan *lineBatch
	free    chan *lineBatch
	cur     *lineBatch // the batch whose events the Driver holds
	events  []Event
	recs    []window.Record
	lines   int64 // lines handed over
	eof     bool  // the end of the input was handed over
	err     error // a read error, handed over after the lines before it
	stopped bool
}

// NewFileSource returns a FileSource reading r, whose values are records of
// the given type (nil: TurnstileRecords()); the Processor it feeds must
// have the same record type.
func NewFileSource(r io.Reader, records Records) *FileSource {
	if records == nil {
		records = TurnstileRecords()
	}
	return &FileSource{r: r, records: records, batches: make(chan *lineBatch, 4), free: make(chan *lineBatch, 6)}
}

// Poll hands over the assignment of partition 0 first, then the lines in
// batches, then EventEnd. The events of a batch stay valid until the next
// call.
func (s *FileSource) Poll(ctx context.Context, wait time.Duration) ([]Event, error) {
	if s.cur != nil {
		select {
		case s.free <- s.cur: // for readLines to reuse
		default:
		}
		s.cur = nil
	}
	switch {
	case s.stopped || s.eof:
		return nil, ErrStopped
	case s.err != nil:
		return nil, s.err
	case !s.started:
		s.started = true
		readCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		s.stop = stop
		go readLines(readCtx, s.r, s.records.newParser(), s.batches, s.free)
		return []Event{{Kind: EventAssigned, Parts: []int32{0}}}, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	var b *lineBatch
	select {
	case b = <-s.batches:
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, nil
	}
	s.cur = b
	s.events, s.recs = s.events[:0], s.recs[:0]
	for i := range b.lines {
		l := &b.lines[i]
		s.lines++
		ev := Event{Kind: EventRecord, Offset: s.lines, Value: b.data[l.v0:l.v1], Err: l.err}
		if l.err == nil {
			s.recs = append(s.recs, window.Record{Time: l.time, Entries: l.entries, Exits: l.exits,
				Key: b.keys[l.k0:l.k1], Dedup: b.keys[l.k1:l.d1]})
		}
		s.events = append(s.events, ev)
	}
	// Point the records at their parses only now: recs may have grown.
	for i, j := 0, 0; i < len(s.events); i++ {
		if s.events[i].Err == nil {
			s.events[i].Rec = &s.recs[j]
			j++
		}
	}
	switch {
	case b.err != nil:
		s.err = fmt.Errorf("read input line %d: %w", s.lines+1, b.err)
	case b.eof:
		s.eof = true
		s.events = append(s.events, Event{Kind: EventEnd})
	}
	return s.events, nil
}

// Stop stops reading.
func (s *FileSource) Stop() {
	s.stopped = true
	if s.stop != nil {
		s.stop()
	}
}

// Pause does nothing: a Driver with Once never pauses.
func (s *FileSource) Pause(...int32) {}

// Resume does nothing: a Driver with Once never pauses.
func (s *FileSource) Resume(int32, int64) {}

// LogEnd reports that the log end is not known.
func (s *FileSource) LogEnd(context.Context, int32, bool) (int64, int64, bool) { return 0, 0, false }

// PartitionCount returns 1.
func (s *FileSource) PartitionCount(context.Context) (int, error) { return 1, nil }

// Committed reports that nothing was committed.
func (s *FileSource) Committed(_ context.Context, parts []int32) ([]Offset, error) {
	out := make([]Offset, len(parts))
	for i, part := range parts {
		out[i] = Offset{Part: part, Offset: -1}
	}
	return out, nil
}

// Commit keeps nothing: a finite input is read again from its start.
func (s *FileSource) Commit(context.Context, []Offset, []Message) error { return nil }

// Claim keeps nothing.
func (s *FileSource) Claim(context.Context, []Offset) error { return nil }

// lineBatchSize is how many lines readLines hands over at once.
const lineBatchSize = 512

// lineBatch is a run of input lines, read and parsed ahead of the Processor.
type lineBatch struct {
	data  []byte // the lines, without their ends, back to back
	keys  []byte // each valid line's window key and dedup bytes, back to back
	lines []parsedLine
	err   error // a read error after the lines
	eof   bool  // the input ends after the lines
}

// parsedLine is one line of a lineBatch: its value is data[v0:v1]; when it
// parsed (err is nil), its window key is keys[k0:k1] and its dedup bytes
// keys[k1:d1].
type parsedLine struct {
	v0, v1, k0, k1, d1   int
	time, entries, exits int64
	err                  error
}

// readLines reads r line by line, parses each line with parse and sends
// the lines in batches, in order, until the input ends, a read fails or ctx
// is done. It takes batches to reuse from free.
func readLines(ctx context.Context, r io.Reader, parse func([]byte, *window.Record) error, out chan<- *lineBatch, free <-chan *lineBatch) {
	var rec window.Record                                      // parse's reused buffers
	lines := textline.NewReader(bufio.NewReaderSize(r, 1<<20)) // a longer line is gathered whole
	b := &lineBatch{}
	for {
		line, err := lines.Next()
		if len(line) > 0 {
			line = turnstile.TrimLineEnd(line)
			l := parsedLine{v0: len(b.data)}
			b.data = append(b.data, line...)
			l.v1 = len(b.data)
			if l.err = parse(line, &rec); l.err == nil {
				l.time, l.entries, l.exits = rec.Time, rec.Entries, rec.Exits
				l.k0 = len(b.keys)
				b.keys = append(b.keys, rec.Key...)
				l.k1 = len(b.keys)
				b.keys = append(b.keys, rec.Dedup...)
				l.d1 = len(b.keys)
			}
			b.lines = append(b.lines, l)
		}
		switch {
		case err == io.EOF:
			b.eof = true
		case err != nil:
			b.err = err
		case len(b.lines) < lineBatchSize:
			continue
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
		if b.eof || b.err != nil {
			return
		}
		select {
		case b = <-free:
			b.data, b.keys, b.lines = b.data[:0], b.keys[:0], b.lines[:0]
		default:
			b = &lineBatch{}
		}
	}
}
