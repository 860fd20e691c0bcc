// Package sodatest is a fake Socrata SODA endpoint for tests and local runs:
// an HTTP handler that serves one dataset from rows in memory at
// /resource/DATASET.json, applying $where, $order, $limit and $offset the
// way the ridership poller uses them.
//
// It is as strict as the real service is documented to be: a $limit above
// 50000, a parameter other than $where, $order, $limit and $offset, an
// unknown column and a $where it cannot parse are answered 400 with a JSON
// error. $where understands comparisons (=, !=, <>, <, <=, >, >=) of a
// column with a string literal, AND, OR and parentheses; transit_timestamp
// compares as a floating timestamp, other columns as text (byte order). A
// missing value compares false, as SQL's NULL. Without $order, rows come in
// the order given.
//
// Faults can be queued (Fail): the next requests get them, in order, before
// the rows are served again. A clock (Options.Now) reveals rows
// progressively: only rows whose transit_timestamp is at or before Now()
// exist.
package sodatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxLimit is the largest $limit the service takes.
const MaxLimit = 50000

// DefaultLimit is the $limit when none is given.
const DefaultLimit = 1000

// Row is one row: column name to value, as the JSON answer holds it (the
// real service writes strings, and objects for locations); an absent column
// or nil is null.
type Row map[string]any

// value returns the text of column col in row, and false when it is null.
// Numbers are taken as their text; other non-strings as null.
func (row Row) value(col string) (string, bool) {
	switch v := row[col].(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	}
	return "", false
}

// Columns are the columns of the hourly ridership datasets.
var Columns = []string{"transit_timestamp", "transit_mode", "station_complex_id", "station_complex", "borough",
	"payment_method", "fare_class_category", "ridership", "transfers", "latitude", "longitude", "georeference"}

// Options configure a Server.
type Options struct {
	Dataset  string           // the dataset ID served; "" = 5wq4-mkjj
	AppToken string           // when set, a request without this X-App-Token gets 403
	Now      func() time.Time // when set, only rows with transit_timestamp <= Now() (naive time as UTC) exist
}

// Request is a request the server received.
type Request struct {
	Query    url.Values
	AppToken string // the X-App-Token header
	Status   int    // the status answered
}

// Fault is an answer to give instead of the rows.
type Fault struct {
	Status     int
	RetryAfter string // the Retry-After header; "" = none
}

// Server is the fake endpoint. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	mu   sync.Mutex
	rows []Row
	fail []Fault
	reqs []Request
}

// New returns a Server (an http.Handler) serving rows.
func New(rows []Row, opts Options) *Server {
	if opts.Dataset == "" {
		opts.Dataset = "5wq4-mkjj"
	}
	return &Server{opts: opts, rows: slices.Clone(rows)}
}

// Start serves s on a local port until the test ends, and returns its URL.
func Start(t interface{ Cleanup(func()) }, s *Server) string {
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}

// Add appends rows to the dataset.
func (s *Server) Add(rows ...Row) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, rows...)
}

// Fail queues faults: the next len(faults) requests get them, in order.
func (s *Server) Fail(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, faults...)
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// ServeHTTP answers GET /resource/DATASET.json.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := Request{Query: r.URL.Query(), AppToken: r.Header.Get("X-App-Token")}
	status := s.serve(w, r, req.AppToken)
	req.Status = status
	s.reqs = append(s.reqs, req)
}

func writeError(w http.ResponseWriter, status int, code, msg string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "error": true, "message": msg})
	return status
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, token string) int {
	if r.Method != http.MethodGet {
		return writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "GET only")
	}
	if r.URL.Path != "/resource/"+s.opts.Dataset+".json" {
		return writeError(w, http.StatusNotFound, "not_found", "no dataset at "+r.URL.Path)
	}
	if s.opts.AppToken != "" && token != s.opts.AppToken {
		return writeError(w, http.StatusForbidden, "invalid_app_token", "invalid app token")
	}
	if len(s.fail) > 0 {
		f := s.fail[0]
		s.fail = s.fail[1:]
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		return writeError(w, f.Status, "injected", http.StatusText(f.Status))
	}
	rows, err := s.query(r.URL.Query())
	if err != nil {
		return writeError(w, http.StatusBadRequest, "query.compiler.malformed", err.Error())
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	if rows == nil {
		rows = []Row{}
	}
	json.NewEncoder(w).Encode(rows)
	return http.StatusOK
}

// query applies the SoQL parameters to the rows.
func (s *Server) query(q url.Values) ([]Row, error) {
	limit, offset := DefaultLimit, 0
	var where expr
	var order []orderKey
	for name, vals := range q {
		if len(vals) != 1 {
			return nil, fmt.Errorf("parameter %s given %d times", name, len(vals))
		}
		v := vals[0]
		var err error
		switch name {
		case "$limit":
			limit, err = strconv.Atoi(v)
			if err != nil || limit < 0 {
				return nil, fmt.Errorf("$limit %q: want a non-negative integer", v)
			}
			if limit > MaxLimit {
				return nil, fmt.Errorf("$limit %d: the maximum is %d", limit, MaxLimit)
			}
		case "$offset":
			offset, err = strconv.Atoi(v)
			if err != nil || offset < 0 {
				return nil, fmt.Errorf("$offset %q: want a non-negative integer", v)
			}
		case "$where":
			if where, err = parseWhere(v); err != nil {
				return nil, fmt.Errorf("$where: %w", err)
			}
		case "$order":
			if order, err = parseOrder(v); err != nil {
				return nil, fmt.Errorf("$order: %w", err)
			}
		default:
			return nil, fmt.Errorf("unknown parameter %s", name)
		}
	}
	var now string
	if s.opts.Now != nil {
		now = s.opts.Now().UTC().Format("2006-01-02T15:04:05")
	}
	var out []Row
	for _, row := range s.rows {
		if now != "" {
			if ts, ok := row.value("transit_timestamp"); !ok || compare("transit_timestamp", ts, now) > 0 {
				continue
			}
		}
		if where != nil && !where.eval(row) {
			continue
		}
		out = append(out, row)
	}
	if len(order) > 0 {
		slices.SortStableFunc(out, func(a, b Row) int {
			for _, k := range order {
				av, aok := a.value(k.col)
				bv, bok := b.value(k.col)
				c := 0
				switch {
				case !aok && !bok:
				case !aok:
					c = 1 // nulls last
				case !bok:
					c = -1
				default:
					c = compare(k.col, av, bv)
				}
				if k.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	out = out[min(offset, len(out)):]
	return out[:min(limit, len(out))], nil
}

type orderKey struct {
	col  string
	desc bool
}

func parseOrder(s string) ([]orderKey, error) {
	var keys []orderKey
	for part := range strings.SplitSeq(s, ",") {
		f := strings.Fields(part)
		if len(f) == 0 || len(f) > 2 {
			return nil, fmt.Errorf("bad term %q", part)
		}
		k := orderKey{col: f[0]}
		if !slices.Contains(Columns, k.col) {
			return nil, fmt.Errorf("no such column %q", k.col)
		}
		if len(f) == 2 {
			switch strings.ToUpper(f[1]) {
			case "ASC":
			case "DESC":
				k.desc = true
			default:
				return nil, fmt.Errorf("bad direction %q", f[1])
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// floatingLayouts are the forms of a floating timestamp literal.
var floatingLayouts = []string{"2006-01-02T15:04:05.000", "2006-01-02T15:04:05", "2006-01-02"}

// ParseFloating parses a floating timestamp as SoQL writes it.
func ParseFloating(s string) (time.Time, bool) {
	for _, l := range floatingLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// compare compares two values of column col: transit_timestamp as floating
// timestamps (a value that does not parse sorts as text, after the others),
// the rest as text.
func compare(col, a, b string) int {
	if col == "transit_timestamp" {
		ta, oka := ParseFloating(a)
		tb, okb := ParseFloating(b)
		switch {
		case oka && okb:
			return ta.Compare(tb)
		case oka:
			return -1
		case okb:
			return 1
		}
	}
	return strings.Compare(a, b)
}

// LoadRows reads a JSON array of row objects, as the API answers (and as
// testdata/ridership/sample.json holds them).
func LoadRows(data []byte) ([]Row, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var rows []Row
	if err := dec.Decode(&rows); err != nil {
		return nil, fmt.Errorf("sodatest: rows: %w", err)
	}
	return rows, nil
}

// Clock returns a Now for Options: data time start at the moment of the
// call, running speed times as fast as the wall clock.
func Clock(start time.Time, speed float64, wall func() time.Time) func() time.Time {
	began := wall()
	return func() time.Time {
		return start.Add(time.Duration(float64(wall().Sub(began)) * speed))
	}
}
