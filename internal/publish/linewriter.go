package publish

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
)

// LineWriter is a Sink that writes message values to w, one per line, for
// --out -. It needs no broker and opens no connection. A message counts as
// sent once its line has reached w (not merely its buffer).
type LineWriter struct {
	bw       *bufio.Writer
	counting *countingWriter
}

// NewLineWriter returns a LineWriter on w that counts into c.
func NewLineWriter(w io.Writer, c *Counters) *LineWriter {
	cw := &countingWriter{w: w, c: c}
	return &LineWriter{bw: bufio.NewWriterSize(cw, 64<<10), counting: cw}
}

// Send writes value and a newline; the key is not written.
func (l *LineWriter) Send(_ context.Context, _, value []byte) error {
	l.bw.Write(value)
	if err := l.bw.WriteByte('\n'); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	return nil
}

// Close flushes the buffered lines. Lines that could not be written count as
// failed.
func (l *LineWriter) Close(context.Context) error {
	err := l.bw.Flush()
	if err != nil {
		l.counting.c.Failed.Add(l.counting.c.Queued.Load() - l.counting.c.Sent.Load() - l.counting.c.Failed.Load())
		return fmt.Errorf("write messages: %w", err)
	}
	return nil
}

// countingWriter counts the lines that reached w as sent.
type countingWriter struct {
	w io.Writer
	c *Counters
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.c.Sent.Add(int64(bytes.Count(p[:n], []byte{'\n'})))
	return n, err
}

// Flush writes the buffered lines to w, so that they count as sent, without
// closing the writer. Lines that could not be written count as failed.
func (l *LineWriter) Flush(context.Context) error {
	if err := l.bw.Flush(); err != nil {
		l.counting.c.Failed.Add(l.counting.c.Queued.Load() - l.counting.c.Sent.Load() - l.counting.c.Failed.Load())
		return fmt.Errorf("write messages: %w", err)
	}
	return nil
}
