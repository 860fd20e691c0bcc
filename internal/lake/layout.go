package lake

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Layout names the objects of one sink. Prefix is the folder of the window
// files inside the bucket ("turnstile", or "a/b/turnstile"); it has no
// leading or trailing slash.
//
// Flat (the default): <prefix>/20240722T101500_<source>.csv.gz
//
// Hive: <prefix>/dt=2024-07-22/20240722T101500_<source>.csv.gz
//
// The timestamp is the window end in UTC, so names sort by time, and dt is
// its date. Side files (dead letters, late records) live under the sibling
// folders <prefix>_rejected/ and <prefix>_late/, and the shape marker (the
// window shape of every window file under the prefix, see Sink.ClaimShape)
// is the sibling object <prefix>_shape: <prefix>/* never matches either.
type Layout struct {
	Prefix string
	Hive   bool
}

// SideKind is the kind of a side file.
type SideKind string

// The kinds of side files.
const (
	Rejected SideKind = "rejected" // dead letters: values the parser rejected
	Late     SideKind = "late"     // records that came after their window was emitted
)

const endFormat = "20060102T150405"

// WindowObject returns the name of the window file of the window that ends at
// end, written by source ("p3" for Kafka partition 3, "input" in file mode;
// see CheckSource).
func (l Layout) WindowObject(end time.Time, source string) string {
	end = end.UTC()
	var b strings.Builder
	b.Grow(len(l.Prefix) + len(source) + 40)
	b.WriteString(l.Prefix)
	b.WriteByte('/')
	if l.Hive {
		b.WriteString(end.Format("dt=2006-01-02/"))
	}
	b.WriteString(end.Format(endFormat))
	b.WriteByte('_')
	b.WriteString(source)
	b.WriteString(".csv.gz")
	return b.String()
}

// WindowEnd returns the window end that a window file's name carries: the
// inverse of WindowObject, for a full name or its base. It reports false for
// a name of another form.
func WindowEnd(name string) (time.Time, bool) {
	base := path.Base(name)
	end, _, ok := strings.Cut(base, "_")
	if !ok || !strings.HasSuffix(base, ".csv.gz") {
		return time.Time{}, false
	}
	t, err := time.Parse(endFormat, end)
	return t, err == nil
}

// WindowPattern returns the path.Match pattern that every window file matches
// and no side file does: <prefix>/*.csv.gz, or <prefix>/dt=*/*.csv.gz in hive
// layout.
func (l Layout) WindowPattern() string {
	if l.Hive {
		return l.Prefix + "/dt=*/*.csv.gz"
	}
	return l.Prefix + "/*.csv.gz"
}

// SideObject returns the name of a side file whose first record has the
// offset firstOffset (a Kafka offset, or a 1-based line number in file mode):
// <prefix>_<kind>/<source>_<firstOffset as 20 digits>.jsonl.gz. The padding
// makes names sort by offset. Side files never match <prefix>/*.csv.gz.
func (l Layout) SideObject(kind SideKind, source string, firstOffset int64) string {
	return fmt.Sprintf("%s_%s/%s_%020d.jsonl.gz", l.Prefix, kind, source, firstOffset)
}

// SideObjectN returns the name of the n-th side file whose first record has
// the offset firstOffset: SideObject for n = 0, then
// <prefix>_<kind>/<source>_<firstOffset as 20 digits>_<n>.jsonl.gz. PutSide
// uses n > 0 when a replay batched the records differently from an earlier
// run, since a side file is never replaced.
func (l Layout) SideObjectN(kind SideKind, source string, firstOffset int64, n int) string {
	if n == 0 {
		return l.SideObject(kind, source, firstOffset)
	}
	return fmt.Sprintf("%s_%s/%s_%020d_%d.jsonl.gz", l.Prefix, kind, source, firstOffset, n)
}

// SidePrefix returns the folder of the side files of kind, with a trailing
// slash, for List.
func (l Layout) SidePrefix(kind SideKind) string { return l.Prefix + "_" + string(kind) + "/" }

// WindowPrefix returns the folder of the window files, with a trailing
// slash, for List.
func (l Layout) WindowPrefix() string { return l.Prefix + "/" }

// CheckSource reports whether source can name objects: 1 to 64 characters
// among letters, digits, '-' and '.', so that it stays inside one name
// element and keeps the names unambiguous.
func CheckSource(source string) error {
	ok := len(source) >= 1 && len(source) <= 64 && source[0] != '.'
	for i := 0; i < len(source) && ok; i++ {
		c := source[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
	}
	if !ok {
		return fmt.Errorf("lake: source %q: want 1 to 64 letters, digits, '-' or '.', not starting with '.'", source)
	}
	return nil
}
