package turnstile

import (
	"errors"
	"fmt"
	"strconv"
)

// The window key is the Kafka message key of a closed (window, key) row on
// the consumer's emit topic, and what the dashboard tells rows apart by:
//
//	CA|UNIT|SCP|STATION|LINENAME|DIVISION|DESC|END
//
// END is the window end in Unix seconds (decimal). Inside a field a '\' is
// written '\\' and a '|' is written '\|', so a '|' that is not escaped always
// separates two fields and two different rows never share a key. A field
// without '|' or '\' is written as it is: the keys of real turnstiles read as
// they did before the escaping.

// AppendWindowKey appends the window key of c to dst.
func AppendWindowKey(dst []byte, c *WindowCount) []byte {
	for _, f := range [...]string{c.CA, c.Unit, c.SCP, c.Station, c.LineName, c.Division, c.Desc} {
		dst = appendEscaped(dst, f)
		dst = append(dst, '|')
	}
	return strconv.AppendInt(dst, c.End, 10)
}

// WindowKey returns the window key of c.
func WindowKey(c *WindowCount) string { return string(AppendWindowKey(nil, c)) }

func appendEscaped(dst []byte, f string) []byte {
	for i := 0; i < len(f); i++ {
		if b := f[i]; b == '|' || b == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, f[i])
	}
	return dst
}

// ParseWindowKey decodes a window key as AppendWindowKey writes it: the
// grouping key and the window end. Entries and Exits of the result are zero.
func ParseWindowKey(b []byte) (WindowCount, error) {
	var fields [8]string
	var cur []byte
	n := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			if i+1 == len(b) || (b[i+1] != '\\' && b[i+1] != '|') {
				return WindowCount{}, fmt.Errorf("window key %q: '\\' at byte %d escapes neither '\\' nor '|'", b, i)
			}
			i++
			cur = append(cur, b[i])
		case '|':
			if n == len(fields)-1 {
				return WindowCount{}, fmt.Errorf("window key %q: more than %d fields", b, len(fields))
			}
			fields[n], cur = string(cur), cur[:0]
			n++
		default:
			cur = append(cur, b[i])
		}
	}
	if n != len(fields)-1 {
		return WindowCount{}, fmt.Errorf("window key %q: got %d fields, want %d", b, n+1, len(fields))
	}
	fields[n] = string(cur)
	end, err := strconv.ParseInt(fields[7], 10, 64)
	if err != nil {
		return WindowCount{}, fmt.Errorf("window key %q: window end: %w", b, errors.Unwrap(err))
	}
	if strconv.FormatInt(end, 10) != fields[7] {
		// "+5" or "05" would decode to a row whose key is not this one.
		return WindowCount{}, fmt.Errorf("window key %q: window end %q is not in canonical form", b, fields[7])
	}
	return WindowCount{
		Key: Key{CA: fields[0], Unit: fields[1], SCP: fields[2], Station: fields[3],
			LineName: fields[4], Division: fields[5], Desc: fields[6]},
		End: end,
	}, nil
}
