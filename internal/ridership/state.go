package ridership

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Cursor is the position of the poller in the dataset: the Order columns of
// the last row taken, as the API wrote them. The next page holds the rows
// strictly after it in Order.
type Cursor struct {
	TransitTimestamp  string `json:"transit_timestamp"`
	StationComplexID  string `json:"station_complex_id"`
	PaymentMethod     string `json:"payment_method"`
	FareClassCategory string `json:"fare_class_category"`
}

// IsZero reports whether c is the start of the dataset.
func (c Cursor) IsZero() bool { return c == Cursor{} }

// cursorOf returns the cursor of a row, and false when the row lacks one of
// the Order columns (it cannot be a cursor).
func cursorOf(r *row) (Cursor, bool) {
	for _, i := range [...]int{colTimestamp, colStationComplexID, colPaymentMethod, colFareClassCategory} {
		if !r.present[i] {
			return Cursor{}, false
		}
	}
	return Cursor{r.val[colTimestamp], r.val[colStationComplexID], r.val[colPaymentMethod], r.val[colFareClassCategory]}, true
}

// soqlString quotes s as a SoQL string literal.
func soqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// After returns the SoQL condition "row is strictly after c in Order":
// a lexicographic comparison of the tuple, spelled out with OR and AND, so
// that rows tied with c on transit_timestamp (and on more columns) are
// neither skipped nor taken twice at page edges.
func (c Cursor) After() string {
	cols := [...]string{"transit_timestamp", "station_complex_id", "payment_method", "fare_class_category"}
	vals := [...]string{c.TransitTimestamp, c.StationComplexID, c.PaymentMethod, c.FareClassCategory}
	// Built from the last column outwards:
	// a > A OR (a = A AND (b > B OR (b = B AND ...)))
	expr := cols[3] + " > " + soqlString(vals[3])
	for i := 2; i >= 0; i-- {
		v := soqlString(vals[i])
		expr = cols[i] + " > " + v + " OR (" + cols[i] + " = " + v + " AND (" + expr + "))"
	}
	return "(" + expr + ")"
}

// State is what the state file holds: the dataset and the cursor of the
// last row whose message was delivered.
type State struct {
	Dataset string `json:"dataset"`
	Cursor  Cursor `json:"cursor"`
}

// LoadState reads the state file. A missing file is the zero State and no
// error: the run starts at --from.
func LoadState(path string) (State, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read state file: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return State{}, fmt.Errorf("state file %s is corrupt (remove it to start again at --from): %w", path, err)
	}
	return st, nil
}

// SaveState writes the state file atomically: a temporary file in the same
// directory, synced, then renamed over the old one. A crash leaves either
// the old or the new state, never a torn one.
func SaveState(path string, st State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state file %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // the rename itself; best effort
		d.Close()
	}
	return nil
}
