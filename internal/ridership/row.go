package ridership

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The dataset's columns that a Record is made of, as the API names them.
// The CSV export uses the same names (its header may differ in case and use
// spaces for underscores; see headerIndex).
const (
	colTimestamp = iota
	colStationComplexID
	colStationComplex
	colBorough
	colPaymentMethod
	colFareClassCategory
	colRidership
	colTransfers
	numCols
)

// SourceColumns are the dataset columns a Record is read from.
var SourceColumns = [numCols]string{"transit_timestamp", "station_complex_id", "station_complex", "borough",
	"payment_method", "fare_class_category", "ridership", "transfers"}

// row is one dataset row before validation: each column's text and whether
// the row had it at all (a JSON null or an absent key is missing).
type row struct {
	val     [numCols]string
	present [numCols]bool
}

// timestampLayouts are the forms transit_timestamp takes: the API's floating
// timestamp (with or without milliseconds) and the CSV export's.
var timestampLayouts = []string{"2006-01-02T15:04:05.000", "2006-01-02T15:04:05", "01/02/2006 03:04:05 PM"}

// parseSourceTimestamp parses transit_timestamp in any of timestampLayouts
// and returns Unix seconds of the naive time read as UTC.
func parseSourceTimestamp(s string) (int64, bool) {
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if y := t.Year(); y < 1 || y > 9999 {
				return 0, false
			}
			return t.Unix(), true
		}
	}
	return 0, false
}

// parseSourceCount parses ridership or transfers as the datasets write them:
// a whole number, possibly with a fraction of zeros ("31", "31.0"; the
// 2020-2024 dataset has been seen with ".0"). Signs, other fractions and
// thousands separators are refused.
func parseSourceCount(s string) (int64, bool) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if hasFrac && (frac == "" || strings.Trim(frac, "0") != "") {
		return 0, false
	}
	return parseCount(whole)
}

// record validates the row and returns its Record. The error says what is
// wrong, for the reject output.
func (r *row) record() (Record, error) {
	for i := range numCols {
		if !r.present[i] {
			return Record{}, fmt.Errorf("%s is missing", SourceColumns[i])
		}
	}
	for _, i := range [...]int{colStationComplexID, colPaymentMethod, colFareClassCategory} {
		if r.val[i] == "" {
			return Record{}, fmt.Errorf("%s is empty", SourceColumns[i])
		}
	}
	ts, ok := parseSourceTimestamp(r.val[colTimestamp])
	if !ok {
		return Record{}, fmt.Errorf("transit_timestamp %q: want 2006-01-02T15:04:05[.000] or 01/02/2006 03:04:05 PM", r.val[colTimestamp])
	}
	ridership, ok := parseSourceCount(r.val[colRidership])
	if !ok {
		return Record{}, fmt.Errorf("ridership %q: not a whole non-negative number", r.val[colRidership])
	}
	transfers, ok := parseSourceCount(r.val[colTransfers])
	if !ok {
		return Record{}, fmt.Errorf("transfers %q: not a whole non-negative number", r.val[colTransfers])
	}
	rec := Record{
		Timestamp:         ts,
		StationComplexID:  r.val[colStationComplexID],
		StationComplex:    r.val[colStationComplex],
		Borough:           r.val[colBorough],
		PaymentMethod:     r.val[colPaymentMethod],
		FareClassCategory: r.val[colFareClassCategory],
		Ridership:         ridership,
		Transfers:         transfers,
	}
	rec.ID = RecordID(rec.Timestamp, rec.StationComplexID, rec.PaymentMethod, rec.FareClassCategory)
	return rec, nil
}

// decodeJSONRow reads one row object of the API's JSON answer. Values are
// strings in the real API; a JSON number is taken as its text, so that a
// number where a string was expected is validated rather than refused
// outright; null counts as missing. Columns the Record does not use are
// ignored, whatever their type.
func decodeJSONRow(raw json.RawMessage) (row, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return row{}, fmt.Errorf("not a JSON object: %w", err)
	}
	var r row
	for i, name := range SourceColumns {
		v, ok := obj[name]
		if !ok || bytes.Equal(v, []byte("null")) {
			continue
		}
		var s string
		switch {
		case len(v) > 0 && v[0] == '"':
			if err := json.Unmarshal(v, &s); err != nil {
				return row{}, fmt.Errorf("%s: %w", name, err)
			}
		case len(v) > 0 && (v[0] == '-' || '0' <= v[0] && v[0] <= '9'):
			s = string(v)
		default:
			return row{}, fmt.Errorf("%s: want a string, got %s", name, v)
		}
		r.val[i], r.present[i] = s, true
	}
	return r, nil
}
