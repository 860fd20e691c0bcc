package turnstile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// LakeColumns is the header of a lake window file without the index column.
const LakeColumns = "CA,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS"

// LakeHeader is the header of a lake window file: an empty column name for
// the pandas index column, then LakeColumns. The batch files and the BigQuery
// external table over turnstile/*.csv.gz carry it.
const LakeHeader = "," + LakeColumns

// Key is what windows group by: one turnstile as the record describes it.
type Key struct {
	CA, Unit, SCP               string
	Station, LineName, Division string
	Desc                        string
}

// CompareKeys orders keys by their fields in KeyFields order (CA, UNIT, SCP,
// STATION, LINENAME, DIVISION, DESC), each compared byte by byte: the order
// of the rows of a window file. It returns -1, 0 or +1.
func CompareKeys(a, b *Key) int {
	x := [...]string{a.CA, a.Unit, a.SCP, a.Station, a.LineName, a.Division, a.Desc}
	y := [...]string{b.CA, b.Unit, b.SCP, b.Station, b.LineName, b.Division, b.Desc}
	for i := range x {
		if c := strings.Compare(x[i], y[i]); c != 0 {
			return c
		}
	}
	return 0
}

// WindowCount is one lake row: the summed ENTRIES and EXITS of one Key over
// one window. End is the window end in Unix seconds; the row's DATE
// (MM/DD/YYYY) and TIME (HH:MM:SS) are the window end.
type WindowCount struct {
	Key
	End            int64
	Entries, Exits int64
}

// EndTime returns the window end as a UTC time.
func (c *WindowCount) EndTime() time.Time { return time.Unix(c.End, 0).UTC() }

// AppendWindowCount appends c as a lake row (LakeColumns, no index column and
// no line ending) to dst.
func AppendWindowCount(dst []byte, c *WindowCount) []byte {
	dst = appendField(dst, c.CA)
	dst = append(dst, ',')
	dst = appendField(dst, c.Unit)
	dst = append(dst, ',')
	dst = appendField(dst, c.SCP)
	dst = append(dst, ',')
	dst = appendField(dst, c.Station)
	dst = append(dst, ',')
	dst = appendField(dst, c.LineName)
	dst = append(dst, ',')
	dst = appendField(dst, c.Division)
	dst = append(dst, ',')
	dst = appendDateTime(dst, c.End)
	dst = append(dst, ',')
	dst = appendField(dst, c.Desc)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, c.Entries, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, c.Exits, 10)
	return dst
}

// ParseWindowCount parses a lake row of LakeColumns (no index column) as
// AppendWindowCount writes it.
func ParseWindowCount(line []byte) (WindowCount, error) {
	line = TrimLineEnd(line)
	var sp FieldSplitter
	var fields [11][]byte
	n, err := sp.Split(line, fields[:])
	if err != nil {
		return WindowCount{}, fmt.Errorf("window row: %w", err)
	}
	if n != len(fields) {
		return WindowCount{}, fmt.Errorf("window row: got %d fields, want %d", n, len(fields))
	}
	end, err := time.Parse("01/02/2006 15:04:05", string(fields[6])+" "+string(fields[7]))
	if err != nil {
		return WindowCount{}, fmt.Errorf("window row: DATE/TIME: %w", err)
	}
	entries, ok := parseInt(fields[9])
	if !ok {
		return WindowCount{}, fmt.Errorf("window row: ENTRIES %q is not an integer", fields[9])
	}
	exits, ok := parseInt(fields[10])
	if !ok {
		return WindowCount{}, fmt.Errorf("window row: EXITS %q is not an integer", fields[10])
	}
	return WindowCount{
		Key: Key{
			CA: string(fields[0]), Unit: string(fields[1]), SCP: string(fields[2]),
			Station: string(fields[3]), LineName: string(fields[4]), Division: string(fields[5]),
			Desc: string(fields[8]),
		},
		End:     end.Unix(),
		Entries: entries, Exits: exits,
	}, nil
}

// parseInt parses a lake row's ENTRIES or EXITS as strconv.ParseInt(s, 10,
// 64) does: unlike the other callers of ParseUint, it takes a leading '+' or
// '-', and any value of an int64.
func parseInt(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '-' {
		n, ok := ParseUint(b[1:], 1<<63) // -(1<<63) is math.MinInt64
		return -int64(n), ok
	}
	if len(b) > 0 && b[0] == '+' {
		b = b[1:]
	}
	n, ok := ParseUint(b, math.MaxInt64)
	return int64(n), ok
}

// appendDateTime appends the Unix time t as MM/DD/YYYY,HH:MM:SS (UTC), the
// DATE and TIME columns of a lake row. It is time.Time.AppendFormat without
// the layout parsing, for the window writer's hot path.
func appendDateTime(dst []byte, t int64) []byte {
	days, secs := t/86400, t%86400
	if secs < 0 {
		days, secs = days-1, secs+86400
	}
	y, m, d := civilFromDays(days)
	if y < 0 || y > 9999 {
		tm := time.Unix(t, 0).UTC()
		return tm.AppendFormat(dst, "01/02/2006,15:04:05")
	}
	dst = append2(dst, m)
	dst = append(dst, '/')
	dst = append2(dst, d)
	dst = append(dst, '/')
	dst = append2(dst, y/100)
	dst = append2(dst, y%100)
	dst = append(dst, ',')
	dst = append2(dst, int(secs/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(secs/60%60))
	dst = append(dst, ':')
	return append2(dst, int(secs%60))
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }
