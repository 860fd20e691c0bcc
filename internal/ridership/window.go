package ridership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// The consumer's side of ridership (apps/consumer --source ridership):
// windows group records by Key and sum ridership and transfers; a closed
// (window, key) is a WindowRow, written to the lake as a CSV line of
// LakeColumns (AppendWindowRow) and to the emit topic as a window message
// (EncodeWindowMessage). This file is the one home of that row codec.

// LakeColumns is the header of a ridership window file. There is no index
// column: the ridership table is new, with no batch files to match.
const LakeColumns = "station_complex_id,station_complex,borough,payment_method,fare_class_category,window_start,window_end,ridership,transfers"

// numRowFields is the number of fields of a lake row (LakeColumns).
const numRowFields = 9

// ReasonValue is the consumer's reject reason (the side records' reason,
// the rejected-records metric's label) for a message value that Parse
// refuses; the detail is Parse's error, which names the field.
const ReasonValue = "bad_value"

// Key is what the consumer's windows group ridership records by: one
// station complex, payment method and fare class, as the record names them.
type Key struct {
	StationComplexID, StationComplex, Borough, PaymentMethod, FareClassCategory string
}

// GroupKey returns the record's Key.
func (r *Record) GroupKey() Key {
	return Key{StationComplexID: r.StationComplexID, StationComplex: r.StationComplex, Borough: r.Borough,
		PaymentMethod: r.PaymentMethod, FareClassCategory: r.FareClassCategory}
}

func (k *Key) fields() [5]string {
	return [...]string{k.StationComplexID, k.StationComplex, k.Borough, k.PaymentMethod, k.FareClassCategory}
}

// AppendKey appends the byte encoding of k that the window engine groups
// by (window.Record.Key) to dst: each field, in Key's order, prefixed by its
// length as a uvarint. Two keys append the same bytes exactly when their
// fields are equal. DecodeKey reads it back.
func AppendKey(dst []byte, k *Key) []byte {
	for _, f := range k.fields() {
		dst = binary.AppendUvarint(dst, uint64(len(f)))
		dst = append(dst, f...)
	}
	return dst
}

// DecodeKey returns the Key that AppendKey encoded into b, or an error when
// b is not such an encoding.
func DecodeKey(b []byte) (Key, error) {
	var f [5]string
	rest := b
	for i := range f {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return Key{}, fmt.Errorf("%q is not a ridership key as ridership.AppendKey encodes it", b)
		}
		f[i], rest = string(rest[w:w+int(n)]), rest[w+int(n):]
	}
	if len(rest) != 0 {
		return Key{}, fmt.Errorf("%q is not a ridership key as ridership.AppendKey encodes it: %d bytes too many", b, len(rest))
	}
	return Key{StationComplexID: f[0], StationComplex: f[1], Borough: f[2], PaymentMethod: f[3], FareClassCategory: f[4]}, nil
}

// CompareKeys orders keys by their fields in Key's order, each compared
// byte by byte: the order of the rows of a window file. It returns -1, 0 or
// +1.
func CompareKeys(a, b *Key) int {
	x, y := a.fields(), b.fields()
	for i := range x {
		if c := strings.Compare(x[i], y[i]); c != 0 {
			return c
		}
	}
	return 0
}

// WindowRow is one closed (window, key) row: the summed ridership and
// transfers of one Key over the window [Start, End), in Unix seconds of the
// naive New York time read as UTC (as Record.Timestamp).
type WindowRow struct {
	Key
	Start, End           int64
	Ridership, Transfers int64
}

// AppendWindowRow appends r as a lake row (LakeColumns, no line ending) to
// dst: window_start and window_end as YYYY-MM-DD HH:MM:SS, the counts as
// decimal integers; a field is quoted ("...", quotes doubled) exactly when
// it holds a comma, a quote, a CR or an LF.
func AppendWindowRow(dst []byte, r *WindowRow) []byte {
	for _, f := range r.fields() {
		dst = appendField(dst, f)
		dst = append(dst, ',')
	}
	dst = turnstile.AppendTimestamp(dst, time.Unix(r.Start, 0))
	dst = append(dst, ',')
	dst = turnstile.AppendTimestamp(dst, time.Unix(r.End, 0))
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, r.Ridership, 10)
	dst = append(dst, ',')
	return strconv.AppendInt(dst, r.Transfers, 10)
}

// ParseWindowRow parses a lake row as AppendWindowRow writes it (one
// trailing "\n" or "\r\n" is ignored). It is strict: the CSV rules of Parse,
// station_complex_id, payment_method and fare_class_category not empty,
// window_start before window_end, the counts non-negative decimal integers.
func ParseWindowRow(line []byte) (WindowRow, error) {
	line = turnstile.TrimLineEnd(line)
	var f [numRowFields]string
	if err := split(string(line), f[:]); err != nil {
		return WindowRow{}, fmt.Errorf("ridership window row: %w", err)
	}
	for _, i := range [...]int{0, 3, 4} {
		if f[i] == "" {
			return WindowRow{}, fmt.Errorf("ridership window row: %s is empty", Columns[i])
		}
	}
	start, ok := turnstile.ParseTimestamp([]byte(f[5]))
	if !ok {
		return WindowRow{}, fmt.Errorf("ridership window row: window_start %q: want YYYY-MM-DD HH:MM:SS", f[5])
	}
	end, ok := turnstile.ParseTimestamp([]byte(f[6]))
	if !ok {
		return WindowRow{}, fmt.Errorf("ridership window row: window_end %q: want YYYY-MM-DD HH:MM:SS", f[6])
	}
	if start >= end {
		return WindowRow{}, fmt.Errorf("ridership window row: window_start %s is not before window_end %s", f[5], f[6])
	}
	ridership, err := parseSum(f[7])
	if err != nil {
		return WindowRow{}, fmt.Errorf("ridership window row: ridership: %w", err)
	}
	transfers, err := parseSum(f[8])
	if err != nil {
		return WindowRow{}, fmt.Errorf("ridership window row: transfers: %w", err)
	}
	return WindowRow{
		Key:   Key{StationComplexID: f[0], StationComplex: f[1], Borough: f[2], PaymentMethod: f[3], FareClassCategory: f[4]},
		Start: start, End: end, Ridership: ridership, Transfers: transfers,
	}, nil
}

// parseSum parses a non-negative decimal integer in canonical form, as
// strconv.AppendInt writes it.
func parseSum(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || strconv.FormatInt(v, 10) != s {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return v, nil
}

// The window message is the wire format of a closed ridership row on the
// consumer's emit topic, as turnstile's (turnstile.EncodeWindowMessage):
//
//   - key: the row's window key (AppendWindowKey);
//   - value: the lake row (AppendWindowRow);
//   - headers window_start and window_end (turnstile.HeaderWindowStart,
//     HeaderWindowEnd): the window bounds in RFC 3339, UTC (the naive New
//     York time read as UTC, as in the row).

// AppendWindowKey appends the window key of r to dst:
//
//	station_complex_id|station_complex|borough|payment_method|fare_class_category|END
//
// END is the window end in Unix seconds (decimal). Inside a field a '\' is
// written '\\' and a '|' is written '\|', so two different rows never share
// a key.
func AppendWindowKey(dst []byte, r *WindowRow) []byte {
	for _, f := range r.fields() {
		for i := 0; i < len(f); i++ {
			if c := f[i]; c == '|' || c == '\\' {
				dst = append(dst, '\\')
			}
			dst = append(dst, f[i])
		}
		dst = append(dst, '|')
	}
	return strconv.AppendInt(dst, r.End, 10)
}

// EncodeWindowMessage encodes r as the emit topic carries it: key, value
// and headers, each freshly allocated. DecodeWindowMessage of the result
// returns r.
func EncodeWindowMessage(r *WindowRow) (key, value []byte, headers []turnstile.Header) {
	return AppendWindowKey(nil, r), AppendWindowRow(nil, r), []turnstile.Header{
		{Key: turnstile.HeaderWindowStart, Value: []byte(time.Unix(r.Start, 0).UTC().Format(time.RFC3339))},
		{Key: turnstile.HeaderWindowEnd, Value: []byte(time.Unix(r.End, 0).UTC().Format(time.RFC3339))},
	}
}

// DecodeWindowMessage decodes a window message. The value must be a lake
// row (ParseWindowRow); the key, when present, must be the value's window
// key; the window_start and window_end headers, when present, must be the
// row's bounds. Other headers are ignored.
func DecodeWindowMessage(key, value []byte, headers []turnstile.Header) (WindowRow, error) {
	if len(value) == 0 {
		return WindowRow{}, errors.New("empty message value")
	}
	r, err := ParseWindowRow(value)
	if err != nil {
		return WindowRow{}, fmt.Errorf("message value: %w", err)
	}
	if len(key) > 0 {
		if want := AppendWindowKey(nil, &r); string(key) != string(want) {
			return WindowRow{}, fmt.Errorf("message key %q does not match its value (want %q)", key, want)
		}
	}
	for _, h := range headers {
		var want int64
		switch h.Key {
		case turnstile.HeaderWindowStart:
			want = r.Start
		case turnstile.HeaderWindowEnd:
			want = r.End
		default:
			continue
		}
		t, err := time.Parse(time.RFC3339, string(h.Value))
		if err != nil {
			return WindowRow{}, fmt.Errorf("header %s: %w", h.Key, err)
		}
		if t.Unix() != want {
			return WindowRow{}, fmt.Errorf("header %s %s does not match the row's %s", h.Key, h.Value,
				time.Unix(want, 0).UTC().Format(time.RFC3339))
		}
	}
	return r, nil
}
