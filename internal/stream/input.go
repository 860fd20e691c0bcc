package stream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
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
func RunInput(ctx context.Context, r io.Reader, p *Processor) (InputResult, error) {
	var res InputResult
	if err := p.Assign(0, InputSource, ""); err != nil {
		return res, err
	}
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		if ctx.Err() != nil {
			res.Interrupted = true
			_, _, err := p.Checkpoint(context.WithoutCancel(ctx), 0)
			return res, err
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it whole.
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			res.Lines++
			line = turnstile.TrimLineEnd(line)
			due, herr := p.Handle(ctx, 0, res.Lines, line)
			if herr != nil {
				return res, herr
			}
			// Nothing is committed in file mode: a checkpoint only writes out
			// the side records (after the windows it waits for), so without
			// side records the windows written behind need no wait here.
			if due && (p.slots == nil || p.holdsSide(p.parts[0])) {
				if _, _, herr := p.Checkpoint(ctx, 0); herr != nil {
					return res, herr
				}
				p.Committed(0)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("read input line %d: %w", res.Lines+1, err)
		}
	}
	if err := p.Flush(ctx, 0); err != nil {
		return res, err
	}
	p.Committed(0)
	return res, nil
}
