package stream

import (
	"bufio"
	"context"
	"fmt"
	"io"

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
// named InputSource whose offsets are 1-based line numbers. At the end of the
// input every window closes and is written. When ctx is cancelled first, it
// stops reading, writes the side outputs and the windows already closed, and
// leaves the open windows unwritten: a re-run writes them whole, under the
// same names.
//
// Lines are read and parsed ahead, on a goroutine of its own (readLines), and
// handed over in batches; the Processor takes them in order on the caller's
// goroutine, so the output is the same as a line-by-line loop's.
func RunInput(ctx context.Context, r io.Reader, p *Processor) (InputResult, error) {
	var res InputResult
	if err := p.Assign(0, InputSource, ""); err != nil {
		return res, err
	}
	st := p.parts[0]
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	batches, free := make(chan *lineBatch, 4), make(chan *lineBatch, 6)
	go readLines(readCtx, r, batches, free)
	var rec window.Record
	for {
		var b *lineBatch
		if ctx.Err() == nil {
			select {
			case b = <-batches:
			case <-ctx.Done():
			}
		}
		if b == nil { // cancelled
			res.Interrupted = true
			_, _, err := p.Checkpoint(context.WithoutCancel(ctx), 0)
			return res, err
		}
		for i := range b.lines {
			l := &b.lines[i]
			res.Lines++
			value := b.data[l.v0:l.v1]
			var recp *window.Record
			if l.err == nil {
				rec = window.Record{Time: l.time, Entries: l.entries, Exits: l.exits, Key: b.keys[l.k0:l.k1], Dedup: b.keys[l.k1:l.d1]}
				recp = &rec
			}
			wrote, herr := p.handleParsed(ctx, st, res.Lines, value, recp, l.err)
			if herr != nil {
				return res, herr
			}
			// Nothing is committed in file mode: a checkpoint only writes out
			// the side records (after the windows it waits for), so without
			// side records the windows written behind need no wait here.
			if (wrote || p.sideDue(st)) && p.holdsSide(st) {
				if _, _, herr := p.Checkpoint(ctx, 0); herr != nil {
					return res, herr
				}
				p.Committed(0)
			}
		}
		if b.err != nil {
			return res, fmt.Errorf("read input line %d: %w", res.Lines+1, b.err)
		}
		if b.eof {
			break
		}
		select {
		case free <- b: // for readLines to reuse
		default:
		}
	}
	if err := p.Flush(ctx, 0); err != nil {
		return res, err
	}
	p.Committed(0)
	return res, nil
}

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

// readLines reads r line by line, parses each line and sends the lines in
// batches, in order, until the input ends, a read fails or ctx is done. It
// takes batches to reuse from free.
func readLines(ctx context.Context, r io.Reader, out chan<- *lineBatch, free <-chan *lineBatch) {
	var (
		parser turnstile.Parser
		msg    turnstile.Message
		rec    window.Record // windowRecord's reused buffers
	)
	lines := textline.NewReader(bufio.NewReaderSize(r, 1<<20)) // a longer line is gathered whole
	b := &lineBatch{}
	for {
		line, err := lines.Next()
		if len(line) > 0 {
			line = turnstile.TrimLineEnd(line)
			l := parsedLine{v0: len(b.data)}
			b.data = append(b.data, line...)
			l.v1 = len(b.data)
			if l.err = parser.Parse(line, &msg); l.err == nil {
				r := windowRecord(&msg, &rec)
				l.time, l.entries, l.exits = r.Time, r.Entries, r.Exits
				l.k0 = len(b.keys)
				b.keys = append(b.keys, r.Key...)
				l.k1 = len(b.keys)
				b.keys = append(b.keys, r.Dedup...)
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
