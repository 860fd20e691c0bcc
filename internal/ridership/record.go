package ridership

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Topic is the Kafka topic of ridership messages.
const Topic = "mta-ridership"

// Record is one row of the hourly ridership dataset: the entries at one
// station complex in one hour, by one payment method and fare class.
//
// Timestamp is transit_timestamp as Unix seconds of the naive New York time
// read as UTC (the dataset's floating timestamp, as the turnstile files'
// naive times are read). Ridership and Transfers are whole, non-negative
// numbers. ID is RecordID of the row's natural key.
type Record struct {
	ID                string
	Timestamp         int64
	StationComplexID  string
	StationComplex    string
	Borough           string
	PaymentMethod     string
	FareClassCategory string
	Ridership         int64
	Transfers         int64
}

// Key returns the message key: the station complex ID.
func (r *Record) Key() string { return r.StationComplexID }

// RecordID returns the deterministic ID of a ridership row: the UUIDv5, in
// turnstile.IDNamespace (as turnstile reading IDs), of
//
//	ridership|TIMESTAMP|station_complex_id|payment_method|fare_class_category
//
// with TIMESTAMP as YYYY-MM-DD HH:MM:SS (the naive time read as UTC). It
// depends on the row's natural key only, not on the dataset or on how the
// row was read, so the API's and the CSV export's copy of a row, and a row
// re-sent after a restart, get the same ID and the consumer drops the
// repeats. The "ridership|" prefix keeps these names apart from turnstile
// reading names.
func RecordID(timestamp int64, stationComplexID, paymentMethod, fareClassCategory string) string {
	var buf [256]byte
	b := append(buf[:0], "ridership|"...)
	b = turnstile.AppendTimestamp(b, time.Unix(timestamp, 0))
	b = append(b, '|')
	b = append(b, stationComplexID...)
	b = append(b, '|')
	b = append(b, paymentMethod...)
	b = append(b, '|')
	b = append(b, fareClassCategory...)
	return turnstile.NewID(b)
}

// The message value is one RFC 4180 CSV record of NumFields fields in this
// order, without header and without a line ending:
//
//	station_complex_id,station_complex,borough,payment_method,fare_class_category,transit_timestamp,ridership,transfers,id
//
// transit_timestamp is YYYY-MM-DD HH:MM:SS (the naive New York time);
// ridership and transfers are decimal integers without sign; id is the
// lower-case UUID of RecordID. A field is quoted ("...", quotes doubled)
// exactly when it holds a comma, a quote, a CR or an LF; nothing is trimmed.
const (
	FieldStationComplexID = iota
	FieldStationComplex
	FieldBorough
	FieldPaymentMethod
	FieldFareClassCategory
	FieldTimestamp
	FieldRidership
	FieldTransfers
	FieldID
	NumFields
)

// Columns are the names of the message value's fields, in order.
var Columns = [NumFields]string{"station_complex_id", "station_complex", "borough", "payment_method",
	"fare_class_category", "transit_timestamp", "ridership", "transfers", "id"}

// maxCount bounds ridership and transfers: 18 digits always fit an int64.
const maxCountDigits = 18

// AppendValue appends the message value of r (see the field constants) to
// dst. For every Record that Parse returns, Parse(AppendValue(nil, r))
// returns r again.
func AppendValue(dst []byte, r *Record) []byte {
	dst = appendField(dst, r.StationComplexID)
	dst = append(dst, ',')
	dst = appendField(dst, r.StationComplex)
	dst = append(dst, ',')
	dst = appendField(dst, r.Borough)
	dst = append(dst, ',')
	dst = appendField(dst, r.PaymentMethod)
	dst = append(dst, ',')
	dst = appendField(dst, r.FareClassCategory)
	dst = append(dst, ',')
	dst = turnstile.AppendTimestamp(dst, time.Unix(r.Timestamp, 0))
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, r.Ridership, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, r.Transfers, 10)
	dst = append(dst, ',')
	return appendField(dst, r.ID)
}

// Encode returns the message value of r (AppendValue).
func Encode(r *Record) []byte { return AppendValue(nil, r) }

func appendField(dst []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// ErrValue is the error (wrapped) of every value Parse rejects.
var ErrValue = errors.New("bad ridership message")

// Parse parses one message value into r. It is strict: the value must be
// exactly NumFields CSV fields (one trailing "\n" or "\r\n" is ignored);
// a quoted field must be closed and followed by a comma or the end; an
// unquoted field holds no quote, CR or LF; station_complex_id,
// payment_method and fare_class_category are not empty; transit_timestamp is
// a valid YYYY-MM-DD HH:MM:SS; ridership and transfers are 1 to 18 digits;
// id is a lower-case UUID. Errors wrap ErrValue and name the field.
//
// A value without quotes costs one allocation: the strings of r share one
// copy of the value.
func Parse(value []byte, r *Record) error {
	if n := len(value); n > 0 && value[n-1] == '\n' {
		value = value[:n-1]
		if n := len(value); n > 0 && value[n-1] == '\r' {
			value = value[:n-1]
		}
	}
	var f [NumFields]string
	if err := split(string(value), f[:]); err != nil {
		return fmt.Errorf("%w: %w", ErrValue, err)
	}
	ts, ok := turnstile.ParseTimestamp([]byte(f[FieldTimestamp]))
	if !ok {
		return fmt.Errorf("%w: transit_timestamp %q: want YYYY-MM-DD HH:MM:SS", ErrValue, f[FieldTimestamp])
	}
	ridership, ok := parseCount(f[FieldRidership])
	if !ok {
		return fmt.Errorf("%w: ridership %q: want a whole number", ErrValue, f[FieldRidership])
	}
	transfers, ok := parseCount(f[FieldTransfers])
	if !ok {
		return fmt.Errorf("%w: transfers %q: want a whole number", ErrValue, f[FieldTransfers])
	}
	for _, i := range [...]int{FieldStationComplexID, FieldPaymentMethod, FieldFareClassCategory} {
		if f[i] == "" {
			return fmt.Errorf("%w: %s is empty", ErrValue, Columns[i])
		}
	}
	if !isUUID(f[FieldID]) {
		return fmt.Errorf("%w: id %q: want a lower-case UUID", ErrValue, f[FieldID])
	}
	*r = Record{
		ID: f[FieldID], Timestamp: ts,
		StationComplexID: f[FieldStationComplexID], StationComplex: f[FieldStationComplex], Borough: f[FieldBorough],
		PaymentMethod: f[FieldPaymentMethod], FareClassCategory: f[FieldFareClassCategory],
		Ridership: ridership, Transfers: transfers,
	}
	return nil
}

// split splits s into exactly len(f) CSV fields, strictly (see Parse).
func split(s string, f []string) error {
	n := 0
	for {
		if n == len(f) {
			return fmt.Errorf("more than %d fields", len(f))
		}
		var field string
		if len(s) > 0 && s[0] == '"' {
			var b strings.Builder
			i := 1
			for {
				j := strings.IndexByte(s[i:], '"')
				if j < 0 {
					return fmt.Errorf("field %d: unterminated quote", n+1)
				}
				b.WriteString(s[i : i+j])
				i += j + 1
				if i < len(s) && s[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			field, s = b.String(), s[i:]
			if len(s) > 0 && s[0] != ',' {
				return fmt.Errorf("field %d: text after the closing quote", n+1)
			}
		} else {
			j := strings.IndexByte(s, ',')
			if j < 0 {
				j = len(s)
			}
			field, s = s[:j], s[j:]
			if strings.ContainsAny(field, "\"\r\n") {
				return fmt.Errorf("field %d: quote or line break in an unquoted field", n+1)
			}
		}
		f[n] = field
		n++
		if len(s) == 0 {
			break
		}
		s = s[1:] // the comma
	}
	if n != len(f) {
		return fmt.Errorf("%d fields, want %d", n, len(f))
	}
	return nil
}

// parseCount parses 1 to 18 decimal digits.
func parseCount(s string) (int64, bool) {
	if len(s) == 0 || len(s) > maxCountDigits {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// isUUID reports whether s is a UUID in the canonical lower-case form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
