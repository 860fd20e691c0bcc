package ridership

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/publish"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership/sodatest"
)

// memSink is a publish.Sink that delivers each message as it is sent.
type memSink struct {
	counters *publish.Counters
	mu       sync.Mutex
	msgs     []msg
	onSend   func(n int) // called after the n-th message (1-based) is stored
	closed   bool
}

type msg struct{ key, value string }

func newMemSink(c *publish.Counters) *memSink { return &memSink{counters: c} }

func (s *memSink) Send(ctx context.Context, key, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, msg{string(key), string(value)})
	n := len(s.msgs)
	s.mu.Unlock()
	s.counters.Sent.Add(1)
	if s.onSend != nil {
		s.onSend(n)
	}
	return nil
}

func (s *memSink) Close(context.Context) error { s.closed = true; return nil }

// records parses every message, failing the test on a bad one or a key that
// is not the station complex ID.
func (s *memSink) records(t *testing.T) []Record {
	t.Helper()
	var out []Record
	for _, m := range s.msgs {
		var r Record
		if err := Parse([]byte(m.value), &r); err != nil {
			t.Fatalf("message %q: %v", m.value, err)
		}
		if m.key != r.StationComplexID {
			t.Fatalf("message key %q, want station_complex_id %q", m.key, r.StationComplexID)
		}
		out = append(out, r)
	}
	return out
}

func ids(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

// sleeps records the waits of a run instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
	on func(n int, d time.Duration) error // called with the 1-based count; nil = return nil
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	n := len(s.d)
	s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.on != nil {
		return s.on(n, d)
	}
	return nil
}

// mkRow is a dataset row as the API writes it: strings everywhere.
func mkRow(ts, complexID, pm, fc, ridership string) sodatest.Row {
	return sodatest.Row{
		"transit_timestamp": ts, "transit_mode": "subway", "station_complex_id": complexID,
		"station_complex": "Complex " + complexID, "borough": "Queens", "payment_method": pm,
		"fare_class_category": fc, "ridership": ridership, "transfers": "1",
		"latitude": "40.7", "longitude": "-73.9",
		"georeference": map[string]any{"type": "Point", "coordinates": []float64{-73.9, 40.7}},
	}
}

// tiedRows returns hours × complexes × 2 payment methods × 2 fare classes
// rows, in an order unlike Order, so that many rows tie on
// transit_timestamp and on more columns.
func tiedRows(hours int) []sodatest.Row {
	var rows []sodatest.Row
	for _, fc := range []string{"Full Fare", "Students"} {
		for _, pm := range []string{"omny", "metrocard"} {
			for _, c := range []string{"611", "TRAM1", "120"} {
				for h := hours - 1; h >= 0; h-- {
					ts := time.Date(2025, 1, 14, h, 0, 0, 0, time.UTC).Format("2006-01-02T15:04:05.000")
					rows = append(rows, mkRow(ts, c, pm, fc, "7"))
				}
			}
		}
	}
	return rows
}

// expectedIDs returns the IDs of rows in Order.
func expectedIDs(t *testing.T, rows []sodatest.Row) []string {
	t.Helper()
	type k struct{ ts, c, pm, fc string }
	var keys []k
	for _, r := range rows {
		keys = append(keys, k{r["transit_timestamp"].(string), r["station_complex_id"].(string), r["payment_method"].(string), r["fare_class_category"].(string)})
	}
	slices.SortFunc(keys, func(a, b k) int {
		return strings.Compare(a.ts+"\x00"+a.c+"\x00"+a.pm+"\x00"+a.fc, b.ts+"\x00"+b.c+"\x00"+b.pm+"\x00"+b.fc)
	})
	var out []string
	for _, key := range keys {
		ts, ok := parseSourceTimestamp(key.ts)
		if !ok {
			t.Fatalf("bad timestamp %q", key.ts)
		}
		out = append(out, RecordID(ts, key.c, key.pm, key.fc))
	}
	return out
}

// testConfig returns a polling Config against url with a memSink, a
// recorded sleep, and the log in logBuf.
func testConfig(t *testing.T, url string) (Config, *memSink, *sleeps, *bytes.Buffer, *bytes.Buffer) {
	var counters publish.Counters
	sink := newMemSink(&counters)
	sl := &sleeps{}
	var logBuf, rejects bytes.Buffer
	cfg := Config{
		Dataset: "5wq4-mkjj", SODAURL: url, PageSize: 7, PollInterval: time.Minute,
		To:   time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		Sink: sink, Counters: &counters, Logger: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Rejects: &rejects, sleep: sl.sleep,
	}
	return cfg, sink, sl, &logBuf, &rejects
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sampleDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
