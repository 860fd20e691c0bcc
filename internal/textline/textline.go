// Package textline reads newline-terminated lines of any length from a
// bufio.Reader: the one loop around bufio.Reader.ReadSlice that gathers a
// line longer than the reader's buffer.
package textline

import (
	"bufio"
	"errors"
)

// Reader reads lines from a bufio.Reader. A line that fits in the
// bufio.Reader's buffer is returned in place, as ReadSlice returns it; a
// longer one is gathered whole, with no limit on its length, into a buffer of
// the Reader's own that is reused from line to line (so the Reader keeps the
// longest such line's memory). A Reader is not safe for concurrent use.
type Reader struct {
	br   *bufio.Reader
	long []byte
}

// NewReader returns a Reader that reads lines from br. The caller may use br
// before (to Peek at it, say), but not between calls to Next.
func NewReader(br *bufio.Reader) *Reader { return &Reader{br: br} }

// Next returns the next line, its '\n' included, as br.ReadSlice('\n') would
// with a buffer large enough for it:
//   - err is nil exactly when the line ends with '\n';
//   - at the end of the input, err is io.EOF and the line is the last one,
//     which has no '\n' (it is empty when the input is empty or ends with
//     '\n');
//   - on a read error, err is that error and the line holds the bytes read
//     before it.
//
// The line is valid only until the next call to Next.
func (r *Reader) Next() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	r.long = append(r.long[:0], line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = r.br.ReadSlice('\n')
		r.long = append(r.long, line...)
	}
	return r.long, err
}
