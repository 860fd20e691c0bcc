package ridership

import (
	"bytes"
	"compress/gzip"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/gcstest"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership/sodatest"
)

func replayConfig(t *testing.T, inputs ...string) (Config, *memSink, *bytes.Buffer) {
	cfg, sink, _, _, rejects := testConfig(t, "")
	cfg.Dataset, cfg.SODAURL, cfg.To, cfg.Inputs = "", "", time.Time{}, inputs
	return cfg, sink, rejects
}

// TestReplayMatchesAPI: the CSV export and the API's JSON of the same rows
// give the same messages, IDs included.
func TestReplayMatchesAPI(t *testing.T) {
	cfg, csvSink, rejects := replayConfig(t, filepath.Join(sampleDir, "sample.csv"))
	s, err := Run(context.Background(), cfg)
	if err != nil || rejects.Len() > 0 {
		t.Fatalf("replay: %v, rejects %q", err, rejects)
	}
	rows, err := sodatest.LoadRows(readSample(t, "sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := sodatest.New(rows, sodatest.Options{})
	apiCfg, apiSink, _, _, _ := testConfig(t, sodatest.Start(t, srv))
	apiCfg.PageSize = 100
	if _, err := Run(context.Background(), apiCfg); err != nil {
		t.Fatal(err)
	}
	byID := func(recs []Record) map[string]Record {
		m := map[string]Record{}
		for _, r := range recs {
			m[r.ID] = r
		}
		return m
	}
	fromCSV, fromAPI := byID(csvSink.records(t)), byID(apiSink.records(t))
	if len(fromCSV) != len(rows) || s.Sent != int64(len(rows)) {
		t.Fatalf("replay sent %d distinct IDs (summary %+v), want %d", len(fromCSV), s, len(rows))
	}
	if !maps.Equal(fromCSV, fromAPI) {
		t.Errorf("the CSV export and the API give different records")
	}
}

func TestReplayHeaderVariantsAndBadRows(t *testing.T) {
	dir := t.TempDir()
	// Spelled-out names with a byte order mark and a pandas index column;
	// an ISO timestamp is accepted too.
	csvText := "\ufeff,Transit Timestamp,Station Complex ID,Station Complex,Borough,Payment Method,Fare Class Category,Ridership,Transfers\n" +
		"0,01/14/2025 01:00:00 PM,611,\"Times Sq (1,2,3)\",Manhattan,omny,OMNY - Full Fare,10,1\n" +
		"1,2025-01-14T13:00:00.000,610,Grand Central,Manhattan,omny,OMNY - Full Fare,11.0,0\n" +
		"2,13/14/2025 01:00:00 PM,611,x,Manhattan,omny,OMNY - Students,10,1\n" +
		"3,01/14/2025 01:00:00 PM,611,x,Manhattan,omny,,10,1\n" +
		"4,01/14/2025 01:00:00 PM,611,x,Manhattan,omny,OMNY - Students,ten,1\n" +
		"5,01/14/2025 01:00:00 PM,611\n" +
		"6,01/15/2025 01:00:00 PM,611,x,Manhattan,omny,OMNY - Students,3,1\n"
	plain := filepath.Join(dir, "a.csv")
	if err := os.WriteFile(plain, []byte(csvText), 0o644); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(csvText))
	zw.Close()
	sub := filepath.Join(dir, "dir")
	os.Mkdir(sub, 0o755)
	if err := os.WriteFile(filepath.Join(sub, "b.csv.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{plain, sub} {
		t.Run(filepath.Base(in), func(t *testing.T) {
			cfg, sink, rejects := replayConfig(t, in)
			cfg.To = time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC) // leaves out the last row
			s, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			recs := sink.records(t)
			if len(recs) != 2 || recs[0].StationComplex != "Times Sq (1,2,3)" || recs[1].Ridership != 11 ||
				recs[0].Timestamp != time.Date(2025, 1, 14, 13, 0, 0, 0, time.UTC).Unix() || recs[0].Timestamp != recs[1].Timestamp {
				t.Errorf("records %+v", recs)
			}
			lines := strings.Split(strings.TrimSuffix(rejects.String(), "\n"), "\n")
			want := []string{":4: transit_timestamp", ":5: fare_class_category is empty", ":6: ridership \"ten\"", ":7: wrong number of fields"}
			if len(lines) != len(want) {
				t.Fatalf("rejects:\n%s\nwant %d lines", rejects, len(want))
			}
			for i, w := range want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("reject line %q, want %q", lines[i], w)
				}
			}
			if s.Skipped != 4 || s.Read != 7 {
				t.Errorf("summary %+v, want 7 read, 4 skipped", s)
			}
		})
	}
}

func TestReplayMissingColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.csv")
	os.WriteFile(path, []byte("transit_timestamp,station_complex_id,station_complex,borough,payment_method,ridership\n"), 0o644)
	cfg, _, _ := replayConfig(t, path)
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "fare_class_category, transfers") {
		t.Errorf("Run = %v, want an error naming the missing columns", err)
	}
}

// TestSampleShape: the sample covers what it says in its README.
func TestSampleShape(t *testing.T) {
	rows, err := sodatest.LoadRows(readSample(t, "sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	complexes, fares, hours := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		for k, v := range r {
			if _, ok := v.(string); !ok && k != "georeference" {
				t.Fatalf("row %v: %s is not a string", r, k)
			}
		}
		complexes[r["station_complex_id"].(string)] = true
		fares[r["payment_method"].(string)+"/"+r["fare_class_category"].(string)] = true
		hours[r["transit_timestamp"].(string)] = true
	}
	if len(complexes) < 4 || len(fares) < 4 || len(hours) != 48 {
		t.Errorf("%d complexes %v, %d fare classes, %d hours", len(complexes), slices.Sorted(maps.Keys(complexes)), len(fares), len(hours))
	}
}

// TestReplayFromGCS replays the sample export from the fake GCS through
// gs://, as internal/mta resolves turnstile inputs.
func TestReplayFromGCS(t *testing.T) {
	srv := gcstest.New(t)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host())
	ctx := t.Context()
	up, err := lake.NewGCSBucket(ctx, srv.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if err := up.Put(ctx, "raw/ridership/sample.csv", readSample(t, "sample.csv")); err != nil {
		t.Fatal(err)
	}
	cfg, sink, rejects := replayConfig(t, "gs://"+srv.Bucket()+"/raw/ridership/")
	s, err := Run(ctx, cfg)
	if err != nil || rejects.Len() > 0 {
		t.Fatalf("Run: %v, rejects %q", err, rejects)
	}
	if n := len(sink.records(t)); n != 391 || s.Sent != 391 {
		t.Errorf("sent %d (summary %+v), want the sample's 391 rows", n, s)
	}
}
