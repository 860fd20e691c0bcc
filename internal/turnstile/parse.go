package turnstile

import "unicode/utf8"

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
	// ENTRIES and EXITS: ParseUint's grammar (no sign, any leading zeros),
	// values up to MaxCount.
	entries, ok := ParseUint(f[FieldEntries], MaxCount)
	if m.Entries = int64(entries); !ok {
		return reject(ReasonEntries, "ENTRIES %q is not an integer in [0, %d]", f[FieldEntries], MaxCount)
	}
	exits, ok := ParseUint(f[FieldExits], MaxCount)
	if m.Exits = int64(exits); !ok {
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
	year, ok := ParseUint(b[0:4], 9999)
	if !ok {
		return 0, false
	}
	month, ok := ParseUint(b[5:7], 12)
	if !ok {
		return 0, false
	}
	day, ok := ParseUint(b[8:10], 31)
	if !ok {
		return 0, false
	}
	return CivilDays(int(year), int(month), int(day))
}

// ParseClock parses HH:MM:SS into seconds since midnight. The MTA file
// reader uses it for the files' TIME column.
func ParseClock(b []byte) (int64, bool) {
	if len(b) != 8 || b[2] != ':' || b[5] != ':' {
		return 0, false
	}
	hour, ok := ParseUint(b[0:2], 23)
	if !ok {
		return 0, false
	}
	minute, ok := ParseUint(b[3:5], 59)
	if !ok {
		return 0, false
	}
	sec, ok := ParseUint(b[6:8], 59)
	if !ok {
		return 0, false
	}
	return int64(hour*3600 + minute*60 + sec), true
}
