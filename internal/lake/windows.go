package lake

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// flushSize is how many bytes of CSV EncodeWindows gathers per write to the
// compressor.
const flushSize = 64 << 10

// gzipLevel is the deflate level of every lake object. BestSpeed deflates
// about 1.6 times faster than the default level for files about 10 % bigger
// (BENCHMARKS.md); a release that changes it must keep comparing objects by
// their text (sameText), not their bytes.
const gzipLevel = gzip.BestSpeed

// gzipWriters recycles compressors: each holds about a megabyte of state.
var gzipWriters = sync.Pool{New: func() any {
	zw, err := gzip.NewWriterLevel(io.Discard, gzipLevel)
	if err != nil {
		panic(err) // gzipLevel is a valid constant
	}
	return zw
}}

// newGzipWriter returns a gzip writer with a fixed header (no name, no
// comment, zero ModTime), so the same input gives the same bytes. Give it back
// with releaseGzipWriter after Close. It is klauspost/compress's gzip, which
// writes standard gzip several times faster than compress/gzip.
func newGzipWriter(w io.Writer) *gzip.Writer {
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(w)
	// No name, no comment, and ModTime 0 ("not set"): klauspost writes the
	// zero time.Time as a wrapped 32-bit value, so set the epoch explicitly.
	zw.Header = gzip.Header{ModTime: time.Unix(0, 0), OS: 255}
	return zw
}

func releaseGzipWriter(zw *gzip.Writer) { gzipWriters.Put(zw) }

// EncodeWindows writes rows to w as a gzip CSV window file, in the order
// given, each line ending in "\n". With index, the header is
// turnstile.LakeHeader and each row starts with its 0-based row number in the
// file (the pandas index column the batch files have); without it, the header
// is turnstile.LakeColumns and rows are bare. The bytes depend only on rows
// and index: the gzip header carries no name and a zero ModTime, so a
// re-emitted file overwrites its object with the same bytes.
func EncodeWindows(w io.Writer, rows []turnstile.WindowCount, index bool) error {
	return EncodeWindowsEpoch(w, rows, index, 0)
}

// EncodeWindowsEpoch is EncodeWindows for a writer that holds an ownership
// epoch (the consumer in Kafka mode, docs/consumer.md "Fencing"): a nonzero
// epoch is written into the gzip header's comment field, which gzip readers,
// BigQuery among them, skip, and WindowEpoch reads it back. The bytes depend
// only on rows, index and epoch.
func EncodeWindowsEpoch(w io.Writer, rows []turnstile.WindowCount, index bool, epoch uint64) error {
	return EncodeRowsEpoch(w, turnstile.LakeColumns, windowCounts(rows), index, epoch)
}

// Rows are the rows of one window file, of any record type.
type Rows interface {
	// Len is the number of rows.
	Len() int
	// AppendRow appends row i as a CSV line, without the index column and
	// without a line ending, to dst.
	AppendRow(dst []byte, i int) []byte
}

// windowCounts are turnstile rows as Rows.
type windowCounts []turnstile.WindowCount

func (r windowCounts) Len() int { return len(r) }

func (r windowCounts) AppendRow(dst []byte, i int) []byte {
	return turnstile.AppendWindowCount(dst, &r[i])
}

// EncodeRowsEpoch is EncodeWindowsEpoch for rows of any record type: the
// header is columns (with index, "," + columns, and each row starts with
// its 0-based row number), then the rows in order, each line ending in
// "\n". EncodeWindowsEpoch is EncodeRowsEpoch with turnstile.LakeColumns,
// byte for byte. The bytes depend only on columns, rows, index and epoch.
func EncodeRowsEpoch(w io.Writer, columns string, rows Rows, index bool, epoch uint64) error {
	zw := newGzipWriter(w)
	defer releaseGzipWriter(zw)
	if epoch != 0 {
		zw.Header.Comment = epochComment + strconv.FormatUint(epoch, 10)
	}
	buf := make([]byte, 0, flushSize+1024)
	if index {
		buf = append(buf, ',')
	}
	buf = append(buf, columns...)
	buf = append(buf, '\n')
	for i, n := 0, rows.Len(); i < n; i++ {
		if index {
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, ',')
		}
		buf = rows.AppendRow(buf, i)
		buf = append(buf, '\n')
		if len(buf) >= flushSize {
			if _, err := zw.Write(buf); err != nil {
				return fmt.Errorf("lake: encode windows: %w", err)
			}
			buf = buf[:0]
		}
	}
	if _, err := zw.Write(buf); err != nil {
		return fmt.Errorf("lake: encode windows: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("lake: encode windows: %w", err)
	}
	return nil
}

// epochComment starts the gzip comment of a window file written with an
// epoch.
const epochComment = "turnstile-stream epoch="

// WindowEpoch returns the ownership epoch written into a window file's gzip
// header by EncodeWindowsEpoch: 0 for a file written without one (file mode,
// earlier releases). It reads the header only.
func WindowEpoch(data []byte) (uint64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("lake: window file header: %w", err)
	}
	v, ok := strings.CutPrefix(zr.Header.Comment, epochComment)
	if !ok {
		return 0, nil
	}
	epoch, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("lake: window file header: epoch %q: %w", v, err)
	}
	return epoch, nil
}

// DecodeWindows reads a window file that EncodeWindows wrote, with or without
// the index column. It checks the header, that every row parses and, with
// the index, that the index column counts 0, 1, 2... It is for tests, checks
// and tools, not for the hot path.
func DecodeWindows(data []byte) ([]turnstile.WindowCount, error) {
	text, err := gunzip(data)
	if err != nil {
		return nil, fmt.Errorf("lake: decode windows: %w", err)
	}
	lines := splitRecords(text)
	if len(lines) == 0 {
		return nil, fmt.Errorf("lake: decode windows: empty file, want the header %q", turnstile.LakeHeader)
	}
	var index bool
	switch header := string(bytes.TrimSuffix(lines[0], []byte("\r"))); header {
	case turnstile.LakeHeader:
		index = true
	case turnstile.LakeColumns:
	default:
		return nil, fmt.Errorf("lake: decode windows: header %q, want %q or %q", header, turnstile.LakeHeader, turnstile.LakeColumns)
	}
	rows := make([]turnstile.WindowCount, 0, len(lines)-1)
	for i, line := range lines[1:] {
		lineNo := i + 2
		if index {
			comma := bytes.IndexByte(line, ',')
			if comma < 0 {
				return nil, fmt.Errorf("lake: decode windows: line %d: no index column", lineNo)
			}
			if got := string(line[:comma]); got != strconv.Itoa(i) {
				return nil, fmt.Errorf("lake: decode windows: line %d: index %q, want %d", lineNo, got, i)
			}
			line = line[comma+1:]
		}
		row, err := turnstile.ParseWindowCount(line)
		if err != nil {
			return nil, fmt.Errorf("lake: decode windows: line %d: %w", lineNo, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// splitRecords splits CSV text into records at the line ends that are not
// inside a quoted field. A final line end does not start a record.
func splitRecords(text []byte) [][]byte {
	var recs [][]byte
	quoted := false
	start := 0
	for i, c := range text {
		switch c {
		case '"':
			quoted = !quoted
		case '\n':
			if !quoted {
				recs = append(recs, text[start:i])
				start = i + 1
			}
		}
	}
	if start < len(text) {
		recs = append(recs, text[start:])
	}
	return recs
}

func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	text, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	if err := zr.Close(); err != nil {
		return nil, err
	}
	return text, nil
}
