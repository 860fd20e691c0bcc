package turnstile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
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

// SplitKey splits a grouping key encoded by AppendKey into its fields, in
// KeyFields order. The fields point into b. It reports false when b is not
// such an encoding.
func SplitKey(b []byte, fields *[len(KeyFields)][]byte) bool {
	if len(b) > 0 && b[0] == 0 {
		b = b[1:]
		for i := range fields {
			n, w := binary.Uvarint(b)
			if w <= 0 || n > uint64(len(b)-w) {
				return false
			}
			fields[i], b = b[w:w+int(n)], b[w+int(n):]
		}
		return len(b) == 0
	}
	for i := range len(fields) - 1 {
		j := bytes.IndexByte(b, ',')
		if j < 0 {
			return false
		}
		fields[i], b = b[:j], b[j+1:]
	}
	if bytes.IndexByte(b, ',') >= 0 {
		return false
	}
	fields[len(fields)-1] = b
	return true
}

// DecodeKey returns the Key that a grouping key encoded by AppendKey holds,
// or an error when b is not such an encoding. The Key's fields share one
// allocation.
func DecodeKey(b []byte) (Key, error) {
	var f [len(KeyFields)][]byte
	if !SplitKey(b, &f) {
		return Key{}, fmt.Errorf("%q is not a grouping key as turnstile.Message.AppendKey encodes it", b)
	}
	n := 0
	for _, fi := range f {
		n += len(fi)
	}
	buf := make([]byte, 0, n)
	var ends [len(KeyFields)]int
	for j := range f {
		buf = append(buf, f[j]...)
		ends[j] = len(buf)
	}
	all := string(buf)
	field := func(j int) string {
		if j == 0 {
			return all[:ends[0]]
		}
		return all[ends[j-1]:ends[j]]
	}
	return Key{CA: field(0), Unit: field(1), SCP: field(2), Station: field(3),
		LineName: field(4), Division: field(5), Desc: field(6)}, nil
}

// AppendDedup appends the identity of the message among those with the same
// TIMESTAMP to b: its ID and STATION, each prefixed by its length as a
// uvarint. Two messages append the same bytes exactly when their ID and
// STATION are equal.
func (m *Message) AppendDedup(b []byte) []byte {
	b = appendLengthPrefixed(b, m.Fields[FieldID])
	return appendLengthPrefixed(b, m.Fields[FieldStation])
}

// appendLengthPrefixed appends f to b, prefixed by its length as a uvarint:
// a list of fields encoded so has no other list's encoding, whatever bytes
// the fields hold.
func appendLengthPrefixed(b, f []byte) []byte {
	if len(f) < 0x80 {
		b = append(b, byte(len(f))) // the one-byte uvarint
	} else {
		b = binary.AppendUvarint(b, uint64(len(f)))
	}
	return append(b, f...)
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
