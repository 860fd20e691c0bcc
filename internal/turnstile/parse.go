package turnstile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"time"
	"unicode/utf8"
)

// Field positions in a message value.
const (
	FieldCA = iota
	FieldUnit
	FieldSCP
	FieldStation
	FieldLineName
	FieldDivision
	FieldDate
	FieldTime
	FieldDesc
	FieldEntries
	FieldExits
	FieldID
	FieldTimestamp
)

// Reason says why a message value was rejected. It is a short, stable token
// fit for a metric label and a dead-letter record.
type Reason string

// The reasons a message value can be rejected.
const (
	ReasonJSON       Reason = "bad_json"      // wrapped in quotes, but not a valid JSON string
	ReasonCSV        Reason = "bad_csv"       // not one RFC 4180 record
	ReasonFieldCount Reason = "field_count"   // not exactly 13 fields
	ReasonEntries    Reason = "bad_entries"   // ENTRIES not an integer in [0, 2^31-1]
	ReasonExits      Reason = "bad_exits"     // EXITS not an integer in [0, 2^31-1]
	ReasonID         Reason = "empty_id"      // ID is empty
	ReasonTimestamp  Reason = "bad_timestamp" // TIMESTAMP not YYYY-MM-DD HH:MM:SS
	ReasonEncoding   Reason = "bad_encoding"  // not valid UTF-8
	// ReasonFuture is given by the consumer's clock guard, not by Parse: the
	// TIMESTAMP lies too far ahead of the wall clock.
	ReasonFuture Reason = "future_timestamp"
)

// Reasons lists every Reason, for metrics that want all labels up front.
var Reasons = []Reason{ReasonJSON, ReasonCSV, ReasonFieldCount, ReasonEntries, ReasonExits, ReasonID, ReasonTimestamp, ReasonEncoding, ReasonFuture}

// RejectError is the error Parse returns for an invalid message value.
type RejectError struct {
	Reason Reason
	Detail string
}

func (e *RejectError) Error() string { return string(e.Reason) + ": " + e.Detail }

// ReasonOf returns the Reason of a rejection error, or "" when err is not one.
func ReasonOf(err error) Reason {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

func reject(r Reason, format string, args ...any) error {
	return &RejectError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Message is a parsed message value. Fields hold the trimmed, unquoted fields;
// they point into the parsed value or the Parser's scratch space and stay valid
// only until the next call to Parse with the same Parser.
type Message struct {
	Fields    [NumFields][]byte
	Entries   int64
	Exits     int64
	Timestamp int64 // TIMESTAMP as Unix seconds, the naive time read as UTC

	// keyText is CA through DIVISION as the value holds them, commas
	// included, when the value took the plain path and none of those fields
	// was trimmed; nil otherwise. It spares AppendKey a join.
	keyText []byte
}

// KeyFields are the positions of the grouping key's fields, in the order in
// which keys sort.
var KeyFields = [...]int{FieldCA, FieldUnit, FieldSCP, FieldStation, FieldLineName, FieldDivision, FieldDesc}

// AppendKey appends an encoding of the message's grouping key (CA, UNIT, SCP,
// STATION, LINENAME, DIVISION, DESC) to b. Two messages append the same bytes
// exactly when their key fields are equal, whichever way they were parsed.
//
// The encoding is the fields joined by commas when that is unambiguous: when
// no field holds a comma and the result does not start with a NUL byte.
// Otherwise it is a NUL byte followed by each field prefixed by its length
// as a uvarint; no joined key starts with a NUL byte, so the two never meet.
func (m *Message) AppendKey(b []byte) []byte {
	f := &m.Fields
	if m.keyText != nil {
		b = append(b, m.keyText...)
		b = append(b, ',')
		return append(b, f[FieldDesc]...)
	}
	joined := len(f[FieldCA]) == 0 || f[FieldCA][0] != 0
	for _, fi := range KeyFields {
		if bytes.IndexByte(f[fi], ',') >= 0 {
			joined = false
		}
	}
	if !joined {
		b = append(b, 0)
		for _, fi := range KeyFields {
			b = binary.AppendUvarint(b, uint64(len(f[fi])))
			b = append(b, f[fi]...)
		}
		return b
	}
	for i, fi := range KeyFields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, f[fi]...)
	}
	return b
}

// Record returns a copy of m that owns its strings.
func (m *Message) Record() Record {
	f := &m.Fields
	return Record{
		CA: string(f[FieldCA]), Unit: string(f[FieldUnit]), SCP: string(f[FieldSCP]),
		Station: string(f[FieldStation]), LineName: string(f[FieldLineName]), Division: string(f[FieldDivision]),
		Date: string(f[FieldDate]), Time: string(f[FieldTime]), Desc: string(f[FieldDesc]),
		Entries: m.Entries, Exits: m.Exits,
		ID:        string(f[FieldID]),
		Timestamp: time.Unix(m.Timestamp, 0).UTC(),
	}
}

// Parser parses message values. Its zero value is ready to use. A Parser
// reuses its scratch space, so a valid value parses without allocating; it is
// not safe for concurrent use.
type Parser struct {
	json   []byte
	fields FieldSplitter

	// The date part of the last TIMESTAMP parsed ("YYYY-MM-DD ") and its day
	// number: consecutive records mostly share the date.
	date    [11]byte
	days    int64
	hasDate bool
}

// Parse parses one message value into m. It returns a *RejectError when the
// value is not a valid record:
//   - a value that is a whole JSON string literal (as the Python producer sends)
//     is decoded first;
//   - the rest must be one RFC 4180 record of exactly 13 fields, each trimmed of
//     the spaces around it;
//   - ENTRIES and EXITS are integers in [0, 2^31-1], ID is not empty and
//     TIMESTAMP is YYYY-MM-DD HH:MM:SS.
//
// One trailing line ending is ignored.
func (p *Parser) Parse(value []byte, m *Message) error {
	value = TrimLineEnd(value)
	n, plain := splitASCII(value, m.Fields[:])
	if !plain {
		// Quotes, control bytes or non-ASCII bytes: perhaps a JSON string (as
		// the Python producer sends), perhaps quoted fields.
		if v := trimSpace(value); len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && isJSONString(v) {
			decoded, err := p.decodeJSON(v)
			if err != nil {
				return err
			}
			value = TrimLineEnd(decoded)
			n, plain = splitASCII(value, m.Fields[:])
		}
	}
	if !plain {
		if !utf8.Valid(value) {
			return reject(ReasonEncoding, "value is not valid UTF-8")
		}
		var err error
		if n, err = p.fields.splitQuoted(value, m.Fields[:]); err != nil {
			return err
		}
	}
	m.keyText = nil
	if plain && n == NumFields {
		m.keyText = untrimmedPrefix(value, m.Fields[:FieldDivision+1])
	}
	if n != NumFields {
		return reject(ReasonFieldCount, "got %d fields, want %d", n, NumFields)
	}
	f := &m.Fields
	var ok bool
	if m.Entries, ok = parseCount(f[FieldEntries]); !ok {
		return reject(ReasonEntries, "ENTRIES %q is not an integer in [0, %d]", f[FieldEntries], MaxCount)
	}
	if m.Exits, ok = parseCount(f[FieldExits]); !ok {
		return reject(ReasonExits, "EXITS %q is not an integer in [0, %d]", f[FieldExits], MaxCount)
	}
	if len(f[FieldID]) == 0 {
		return reject(ReasonID, "ID is empty")
	}
	if m.Timestamp, ok = p.timestamp(f[FieldTimestamp]); !ok {
		return reject(ReasonTimestamp, "TIMESTAMP %q is not YYYY-MM-DD HH:MM:SS", f[FieldTimestamp])
	}
	return nil
}

// Parse parses one message value into a Record that owns its strings. It is
// the convenient, allocating form of Parser.Parse.
func Parse(value []byte) (Record, error) {
	var p Parser
	var m Message
	if err := p.Parse(value, &m); err != nil {
		return Record{}, err
	}
	return m.Record(), nil
}

// FieldSplitter splits CSV records into fields. Its zero value is ready to
// use; it reuses its scratch space, so splitting allocates nothing once warm.
// The MTA file reader uses it too.
type FieldSplitter struct {
	scratch []byte
}

// Split splits one RFC 4180 record into fields trimmed of the spaces and tabs
// around them, stores the first len(fields) of them and returns how many fields
// the record has. A quoted field may hold commas, doubled quotes and line
// breaks; an unquoted one may hold neither a quote nor a line break. The fields
// point into s or into the splitter's scratch space and stay valid until the
// next Split. Errors are *RejectError with ReasonCSV.
func (p *FieldSplitter) Split(s []byte, fields [][]byte) (int, error) {
	if n, plain := splitASCII(s, fields); plain {
		return n, nil
	}
	return p.splitQuoted(s, fields)
}

// splitQuoted is Split's general path, for records with quotes, control
// bytes or non-ASCII bytes.
func (p *FieldSplitter) splitQuoted(s []byte, fields [][]byte) (int, error) {
	if cap(p.scratch) < len(s) {
		p.scratch = make([]byte, 0, len(s)+64)
	}
	p.scratch = p.scratch[:0]
	n := 0
	i := 0
	for {
		// Skip the spaces before a field, so that a quote after them still opens
		// a quoted field.
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		var field []byte
		if i < len(s) && s[i] == '"' {
			start := i + 1
			escaped := false
			j := start
			for {
				if j >= len(s) {
					return 0, reject(ReasonCSV, "field %d: quoted field is not closed", n+1)
				}
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						escaped = true
						j += 2
						continue
					}
					break
				}
				j++
			}
			field = s[start:j]
			if escaped {
				from := len(p.scratch)
				for k := start; k < j; k++ {
					p.scratch = append(p.scratch, s[k])
					if s[k] == '"' {
						k++
					}
				}
				field = p.scratch[from:]
			}
			i = j + 1
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			if i < len(s) && s[i] != ',' {
				return 0, reject(ReasonCSV, "field %d: unexpected %q after the closing quote", n+1, s[i])
			}
		} else {
			j := i
			for j < len(s) && s[j] != ',' {
				switch s[j] {
				case '"':
					return 0, reject(ReasonCSV, "field %d: bare quote in an unquoted field", n+1)
				case '\n', '\r':
					return 0, reject(ReasonCSV, "value holds more than one line")
				}
				j++
			}
			field = s[i:j]
			i = j
		}
		if n < len(fields) {
			fields[n] = trimSpace(field)
		}
		n++
		if i >= len(s) {
			break
		}
		i++ // the comma
	}
	return n, nil
}

// untrimmedPrefix returns the start of value that holds the given fields and
// the commas between them, or nil when a field was trimmed of spaces. The
// fields must be consecutive results of splitASCII on value; where a field
// ends within value follows from its capacity, which runs to value's end.
func untrimmedPrefix(value []byte, fields [][]byte) []byte {
	n := len(fields) - 1 // the commas
	for _, f := range fields {
		n += len(f)
	}
	first, last := fields[0], fields[len(fields)-1]
	start := cap(value) - cap(first)
	end := cap(value) - (cap(last) - len(last))
	if start != 0 || end != n {
		return nil
	}
	return value[:n]
}

// Bytes of a 64-bit word, for splitASCII.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	sevens = 0x7f7f7f7f7f7f7f7f
)

// zeroBytes returns a word with the high bit set in every byte of x that is
// zero, and no other bit. Every byte of x must be below 0x80.
func zeroBytes(x uint64) uint64 { return ^(x + sevens) & highs }

// splitASCII splits s on commas, as Split does, when s is printable ASCII
// with no quote: the common case, which it scans eight bytes at a time.
// plain is false, and fields are left in an unspecified state, when s needs
// the general path.
func splitASCII(s []byte, fields [][]byte) (n int, plain bool) {
	start := 0
	for i := 0; i < len(s); i += 8 {
		var w uint64
		switch rest := len(s) - i; {
		case rest >= 8:
			w = binary.LittleEndian.Uint64(s[i:])
		case len(s) >= 8:
			// The last, partial word: load the last eight bytes, shift out
			// those already scanned and pad with a byte that is neither a
			// comma nor special.
			w = binary.LittleEndian.Uint64(s[len(s)-8:])>>(8*(8-rest)) | 'x'*ones<<(8*rest)
		default:
			var short [8]byte
			copy(short[:], s)
			for k := len(s); k < 8; k++ {
				short[k] = 'x'
			}
			w = binary.LittleEndian.Uint64(short[:])
		}
		// Non-ASCII bytes, quotes and control bytes (line breaks among them,
		// tabs too, which the general path trims just as well) take the
		// general path.
		if (w|zeroBytes(w^('"'*ones))|(w-' '*ones)&^w)&highs != 0 {
			return 0, false
		}
		for c := zeroBytes(w ^ (',' * ones)); c != 0; c &= c - 1 {
			j := i + bits.TrailingZeros64(c)>>3
			if n < len(fields) {
				fields[n] = trimSpaces(s[start:j])
			}
			n++
			start = j + 1
		}
	}
	if n < len(fields) {
		fields[n] = trimSpaces(s[start:])
	}
	return n + 1, true
}

// trimSpaces trims the spaces around b: trimSpace for a plain line, which
// holds no tab.
func trimSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// isJSONString reports whether v, which starts and ends with a quote, has no
// unescaped quote inside: that is, whether it reads as one JSON string literal
// rather than a CSV line that starts and ends with quoted fields.
func isJSONString(v []byte) bool {
	for i := 1; i < len(v)-1; i++ {
		switch v[i] {
		case '\\':
			i++
			if i == len(v)-1 {
				return false // the closing quote is escaped
			}
		case '"':
			return false
		}
	}
	return true
}

// decodeJSON decodes the JSON string literal v into the parser's buffer.
func (p *Parser) decodeJSON(v []byte) ([]byte, error) {
	out := p.json[:0]
	for i := 1; i < len(v)-1; i++ {
		c := v[i]
		if c != '\\' {
			if c < 0x20 {
				return nil, reject(ReasonJSON, "control character 0x%02x in JSON string", c)
			}
			out = append(out, c)
			continue
		}
		i++
		switch v[i] {
		case '"', '\\', '/':
			out = append(out, v[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(v, i+1)
			if !ok {
				return nil, reject(ReasonJSON, "bad \\u escape at byte %d", i)
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 { // a surrogate pair
				if r2, ok := hex4(v, i+3); ok && i+2 < len(v) && v[i+1] == '\\' && v[i+2] == 'u' && r2 >= 0xDC00 && r2 < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, reject(ReasonJSON, "bad escape \\%c", v[i])
		}
	}
	p.json = out
	return out, nil
}

func hex4(v []byte, at int) (rune, bool) {
	if at+4 > len(v)-1 {
		return 0, false
	}
	var r rune
	for _, c := range v[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// parseCount parses a non-negative decimal integer no larger than MaxCount.
func parseCount(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n > MaxCount {
			return 0, false
		}
	}
	return n, true
}

// ParseTimestamp parses YYYY-MM-DD HH:MM:SS as UTC and returns Unix seconds.
// It rejects impossible dates such as February 30th.
func ParseTimestamp(b []byte) (int64, bool) {
	if len(b) != 19 || b[10] != ' ' {
		return 0, false
	}
	days, ok1 := parseDate(b[:10])
	secs, ok2 := ParseClock(b[11:])
	return days*86400 + secs, ok1 && ok2
}

// timestamp is ParseTimestamp with the day number of the last date remembered.
func (p *Parser) timestamp(b []byte) (int64, bool) {
	if len(b) != 19 {
		return 0, false
	}
	if !p.hasDate || string(b[:11]) != string(p.date[:]) {
		days, ok := parseDate(b[:10])
		if !ok || b[10] != ' ' {
			return 0, false
		}
		copy(p.date[:], b[:11])
		p.days, p.hasDate = days, true
	}
	secs, ok := ParseClock(b[11:])
	return p.days*86400 + secs, ok
}

// parseDate parses YYYY-MM-DD into a day number (days since 1970-01-01).
func parseDate(b []byte) (int64, bool) {
	if b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	year, ok1 := Digits(b[0:4])
	month, ok2 := Digits(b[5:7])
	day, ok3 := Digits(b[8:10])
	if !(ok1 && ok2 && ok3) {
		return 0, false
	}
	return CivilDays(year, month, day)
}

// ParseClock parses HH:MM:SS into seconds since midnight. The MTA file
// reader uses it for the files' TIME column.
func ParseClock(b []byte) (int64, bool) {
	if len(b) != 8 || b[2] != ':' || b[5] != ':' {
		return 0, false
	}
	hour, ok1 := Digits(b[0:2])
	minute, ok2 := Digits(b[3:5])
	sec, ok3 := Digits(b[6:8])
	if !(ok1 && ok2 && ok3) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	return int64(hour*3600 + minute*60 + sec), true
}

// CivilDays returns the number of days from 1970-01-01 to the given date of
// the proleptic Gregorian calendar, and false for an impossible date such as
// February 30th.
func CivilDays(year, month, day int) (int64, bool) {
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return 0, false
	}
	return daysFromCivil(year, month, day), true
}

// Digits parses b, which must hold only decimal digits, as a non-negative
// integer. The MTA file reader uses it for its dates.
func Digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to the given date in
// the proleptic Gregorian calendar.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// TrimLineEnd removes one trailing "\n", then one trailing "\r", from b.
func TrimLineEnd(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}
