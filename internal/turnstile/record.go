// Package turnstile holds the turnstile count message shared by the producer and
// the consumer: the record, its 13-field CSV encoding and decoding, and the lake
// row that the consumer writes for one (window, turnstile).
//
// The message contract (a Kafka message value) is one CSV line:
//
//	CA,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS,ID,TIMESTAMP
//
// DATE is MM-DD-YY, TIME is HH:MM:SS and TIMESTAMP is YYYY-MM-DD HH:MM:SS, a naive
// wall-clock time that is treated as UTC. The message key is CA|UNIT|SCP.
package turnstile

import (
	"strconv"
	"time"
)

// NumFields is the number of CSV fields in one message value.
const NumFields = 13

// TimestampLayout is the layout of the TIMESTAMP field.
const TimestampLayout = "2006-01-02 15:04:05"

// MaxCount is the largest ENTRIES or EXITS value a valid record may carry (2^31-1).
const MaxCount = 1<<31 - 1

// Record is one turnstile count: the per-interval ENTRIES and EXITS of one
// turnstile, stamped with the time of the reading.
type Record struct {
	CA, Unit, SCP               string
	Station, LineName, Division string
	Date, Time                  string // DATE (MM-DD-YY) and TIME (HH:MM:SS) as sent
	Desc                        string
	Entries, Exits              int64
	ID                          string
	Timestamp                   time.Time // UTC, whole seconds
}

// Key returns the message key, CA|UNIT|SCP, that keeps one turnstile's records
// in one Kafka partition.
func (r *Record) Key() string { return TurnstileKey(r.CA, r.Unit, r.SCP) }

// TurnstileKey returns the Kafka message key of a turnstile: CA|UNIT|SCP.
func TurnstileKey(ca, unit, scp string) string { return ca + "|" + unit + "|" + scp }

// NewRecord fills DATE, TIME and TIMESTAMP of a record from its reading time t.
func NewRecord(ca, unit, scp, station, lineName, division, desc string, entries, exits int64, id string, t time.Time) Record {
	t = t.UTC().Truncate(time.Second)
	return Record{
		CA: ca, Unit: unit, SCP: scp,
		Station: station, LineName: lineName, Division: division,
		Date: t.Format("01-02-06"), Time: t.Format("15:04:05"),
		Desc:    desc,
		Entries: entries, Exits: exits,
		ID:        id,
		Timestamp: t,
	}
}

// AppendCSV appends the 13-field CSV encoding of r to dst, without a line
// ending. Fields that need it are quoted as RFC 4180 says.
func AppendCSV(dst []byte, r *Record) []byte {
	dst = appendField(dst, r.CA)
	dst = append(dst, ',')
	dst = appendField(dst, r.Unit)
	dst = append(dst, ',')
	dst = appendField(dst, r.SCP)
	dst = append(dst, ',')
	dst = appendField(dst, r.Station)
	dst = append(dst, ',')
	dst = appendField(dst, r.LineName)
	dst = append(dst, ',')
	dst = appendField(dst, r.Division)
	dst = append(dst, ',')
	dst = appendField(dst, r.Date)
	dst = append(dst, ',')
	dst = appendField(dst, r.Time)
	dst = append(dst, ',')
	dst = appendField(dst, r.Desc)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, r.Entries, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, r.Exits, 10)
	dst = append(dst, ',')
	dst = appendField(dst, r.ID)
	dst = append(dst, ',')
	dst = r.Timestamp.UTC().AppendFormat(dst, TimestampLayout)
	return dst
}

// appendField appends s, quoted when it holds a comma, a quote, a line break or
// spaces at either end (which a reader would otherwise trim).
func appendField(dst []byte, s string) []byte {
	if !needsQuotes(s) {
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

func needsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\n', '\r':
			return true
		}
	}
	return false
}
