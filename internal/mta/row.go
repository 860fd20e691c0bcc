package mta

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// The columns of an MTA turnstile file, in the order MTA writes them.
const (
	colCA = iota
	colUnit
	colSCP
	colStation
	colLineName
	colDivision
	colDate
	colTime
	colDesc
	colEntries
	colExits
	numCols
)

// Columns are the column names of an MTA turnstile file, as MTA spells them.
var Columns = [numCols]string{"C/A", "UNIT", "SCP", "STATION", "LINENAME", "DIVISION", "DATE", "TIME", "DESC", "ENTRIES", "EXITS"}

// maxFields bounds the number of columns a header may have.
const maxFields = 32

// Header maps the columns of one turnstile file to the fields of a reading.
// Its zero value is not usable; get one from ParseHeader.
type Header struct {
	idx   [numCols]int // position of each column in a row
	width int          // number of fields in a row
}

// Width returns the number of fields a row under this header has.
func (h *Header) Width() int { return h.width }

// ParseHeader parses the header line of a turnstile file. It accepts the
// variants seen in the wild:
//   - MTA's own C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS;
//   - the same with a leading pandas index column (",C/A,..." or ",CA,...");
//   - the spelled-out "Line Name" and "Description" of the data.ny.gov exports;
//   - spaces around names (MTA pads EXITS with trailing spaces), a UTF-8 byte
//     order mark, quoted names and any letter case.
//
// Columns may come in any order; extra columns are ignored. It returns an
// error naming the missing or repeated columns.
func ParseHeader(line []byte) (Header, error) {
	line = bytes.TrimPrefix(turnstile.TrimLineEnd(line), []byte("\xef\xbb\xbf"))
	var fields [maxFields][]byte
	var sp turnstile.FieldSplitter
	n, err := sp.Split(line, fields[:])
	if err != nil {
		return Header{}, fmt.Errorf("header: %w", err)
	}
	if n > maxFields {
		return Header{}, fmt.Errorf("header: %d columns, want at most %d", n, maxFields)
	}
	h := Header{width: n}
	for i := range h.idx {
		h.idx[i] = -1
	}
	for pos, f := range fields[:n] {
		col := columnOf(f)
		if col < 0 {
			continue // the pandas index column, or a column we do not use
		}
		if h.idx[col] >= 0 {
			return Header{}, fmt.Errorf("header: column %s appears twice", Columns[col])
		}
		h.idx[col] = pos
	}
	var missing []string
	for col, pos := range h.idx {
		if pos < 0 {
			missing = append(missing, Columns[col])
		}
	}
	if len(missing) > 0 {
		return Header{}, fmt.Errorf("header: missing column(s) %s; want %s", strings.Join(missing, ", "), strings.Join(Columns[:], ","))
	}
	return h, nil
}

// aliases are other spellings of column names: CA for C/A, and the
// spelled-out names of the data.ny.gov exports.
var aliases = map[string]int{"CA": colCA, "LINE NAME": colLineName, "DESCRIPTION": colDesc}

// columnOf returns the column a header name stands for, or -1.
func columnOf(name []byte) int {
	for alias, col := range aliases {
		if bytes.EqualFold(name, []byte(alias)) {
			return col
		}
	}
	for col, c := range Columns {
		if bytes.EqualFold(name, []byte(c)) {
			return col
		}
	}
	return -1
}

// Row is one parsed data row of a turnstile file. Its byte slices point into
// the parsed line (or the parser's scratch space) and stay valid only until
// the next call to ParseRow with the same RowParser.
type Row struct {
	CA, Unit, SCP               []byte
	Station, LineName, Division []byte
	Desc                        []byte
	Time                        int64 // DATE and TIME as Unix seconds, the naive time read as UTC
	Entries, Exits              int64 // the cumulative register readings
}

// RowParser parses the data rows of one file. It reuses its scratch space, so
// a valid row parses without allocating; it is not safe for concurrent use.
type RowParser struct {
	Header   Header
	fields   [maxFields][]byte
	splitter turnstile.FieldSplitter
}

// ParseRow parses one data row into r. The row must have as many fields as
// the header; fields are trimmed of spaces; DATE is MM/DD/YYYY, TIME is
// HH:MM:SS, and ENTRIES and EXITS are non-negative integers of at most 18
// digits. CA, UNIT and SCP must not be empty.
func (p *RowParser) ParseRow(line []byte, r *Row) error {
	line = turnstile.TrimLineEnd(line)
	n, err := p.splitter.Split(line, p.fields[:])
	if err != nil {
		return err
	}
	if n != p.Header.width {
		return fmt.Errorf("got %d fields, want %d", n, p.Header.width)
	}
	idx := &p.Header.idx
	f := &p.fields
	r.CA, r.Unit, r.SCP = f[idx[colCA]], f[idx[colUnit]], f[idx[colSCP]]
	if len(r.CA) == 0 || len(r.Unit) == 0 || len(r.SCP) == 0 {
		return fmt.Errorf("empty C/A, UNIT or SCP")
	}
	r.Station, r.LineName, r.Division = f[idx[colStation]], f[idx[colLineName]], f[idx[colDivision]]
	r.Desc = f[idx[colDesc]]
	day, ok := parseDate(f[idx[colDate]])
	if !ok {
		return fmt.Errorf("DATE %q is not MM/DD/YYYY", f[idx[colDate]])
	}
	sec, ok := turnstile.ParseClock(f[idx[colTime]])
	if !ok {
		return fmt.Errorf("TIME %q is not HH:MM:SS", f[idx[colTime]])
	}
	r.Time = day*86400 + sec
	if r.Entries, ok = parseCounter(f[idx[colEntries]]); !ok {
		return fmt.Errorf("ENTRIES %q is not a non-negative integer", f[idx[colEntries]])
	}
	if r.Exits, ok = parseCounter(f[idx[colExits]]); !ok {
		return fmt.Errorf("EXITS %q is not a non-negative integer", f[idx[colExits]])
	}
	return nil
}

// parseDate parses MM/DD/YYYY and returns days since 1970-01-01. It is the
// message parser's YYYY-MM-DD parseDate in another layout; a helper shared by
// the two cost ParseRow a call (2.5 ns a row), so each keeps its three
// ParseUint calls.
func parseDate(b []byte) (int64, bool) {
	if len(b) != 10 || b[2] != '/' || b[5] != '/' {
		return 0, false
	}
	month, ok := turnstile.ParseUint(b[0:2], 12)
	if !ok {
		return 0, false
	}
	day, ok := turnstile.ParseUint(b[3:5], 31)
	if !ok {
		return 0, false
	}
	year, ok := turnstile.ParseUint(b[6:10], 9999)
	if !ok {
		return 0, false
	}
	return turnstile.CivilDays(int(year), int(month), int(day))
}

// parseCounter parses a register reading: 1 to 18 decimal digits. Unlike the
// message counts (turnstile.Parser) it limits the digits, leading zeros
// included, rather than the value; 18 digits always fit in an int64.
func parseCounter(b []byte) (int64, bool) {
	if len(b) > 18 {
		return 0, false
	}
	n, ok := turnstile.ParseUint(b, math.MaxInt64)
	return int64(n), ok
}
