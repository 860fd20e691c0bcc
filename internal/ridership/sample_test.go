package ridership

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "regenerate the golden files: testdata/ridership/sample.json and sample.csv (TestSample), testdata/window_rows.golden (TestWindowRowGolden)")

// sampleDir is the repository's testdata/ridership.
var sampleDir = filepath.Join("..", "..", "testdata", "ridership")

type sampleStation struct {
	id, name, borough, mode string
	lat, lon                string
	base                    int
}

// The sample's station complexes: names as the dataset writes them (commas
// and parentheses included); IDs, coordinates and volumes are made up.
var sampleStations = []sampleStation{
	{"611", "Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)", "Manhattan", "subway", "40.75731", "-73.98621", 900},
	{"610", "Grand Central-42 St (S,4,5,6,7)", "Manhattan", "subway", "40.75197", "-73.97653", 700},
	{"636", "Jay St-MetroTech (A,C,F,R)", "Brooklyn", "subway", "40.69234", "-73.98731", 300},
	{"604", "161 St-Yankee Stadium (B,D,4)", "Bronx", "subway", "40.82788", "-73.92565", 200},
	{"TRAM1", "RI Tramway (Manhattan)", "Manhattan", "tram", "40.761337", "-73.96416", 20},
}

var sampleFares = [][2]string{
	{"metrocard", "Metrocard - Full Fare"},
	{"metrocard", "Metrocard - Unlimited 30-Day"},
	{"metrocard", "Metrocard - Fair Fare"},
	{"omny", "OMNY - Full Fare"},
	{"omny", "OMNY - Seniors & Disability"},
	{"omny", "OMNY - Students"},
}

// apiRow is a row as the API's JSON answer writes it: strings everywhere,
// georeference a GeoJSON point.
type apiRow struct {
	TransitTimestamp  string `json:"transit_timestamp"`
	TransitMode       string `json:"transit_mode"`
	StationComplexID  string `json:"station_complex_id"`
	StationComplex    string `json:"station_complex"`
	Borough           string `json:"borough"`
	PaymentMethod     string `json:"payment_method"`
	FareClassCategory string `json:"fare_class_category"`
	Ridership         string `json:"ridership"`
	Transfers         string `json:"transfers"`
	Latitude          string `json:"latitude"`
	Longitude         string `json:"longitude"`
	Georeference      struct {
		Type        string    `json:"type"`
		Coordinates []float64 `json:"coordinates"`
	} `json:"georeference"`
}

// sampleRows generates the sample: 48 hours from 2025-01-14 00:00 (New
// York time), a deterministic quarter of the (station, fare class) pairs in
// each hour, volumes following a daily curve.
func sampleRows() []apiRow {
	start := time.Date(2025, 1, 14, 0, 0, 0, 0, time.UTC)
	curve := []int{2, 1, 1, 1, 2, 4, 8, 14, 18, 12, 9, 9, 10, 10, 10, 11, 14, 18, 15, 10, 7, 5, 4, 3}
	var rows []apiRow
	x := uint32(2025)
	rnd := func() uint32 { x ^= x << 13; x ^= x >> 17; x ^= x << 5; return x }
	for h := range 48 {
		t := start.Add(time.Duration(h) * time.Hour)
		for _, st := range sampleStations {
			for _, f := range sampleFares {
				if rnd()%4 != 0 {
					continue
				}
				rid := st.base*curve[t.Hour()]/18 + int(rnd()%7) + 1
				r := apiRow{
					TransitTimestamp: t.Format("2006-01-02T15:04:05.000"), TransitMode: st.mode,
					StationComplexID: st.id, StationComplex: st.name, Borough: st.borough,
					PaymentMethod: f[0], FareClassCategory: f[1],
					Ridership: strconv.Itoa(rid), Transfers: strconv.Itoa(rid / 12),
					Latitude: st.lat, Longitude: st.lon,
				}
				lat, _ := strconv.ParseFloat(st.lat, 64)
				lon, _ := strconv.ParseFloat(st.lon, 64)
				r.Georeference.Type = "Point"
				r.Georeference.Coordinates = []float64{lon, lat}
				rows = append(rows, r)
			}
		}
	}
	return rows
}

func sampleJSON(t *testing.T) []byte {
	data, err := json.MarshalIndent(sampleRows(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(data, '\n')
}

// sampleCSV writes the rows as the CSV export does: the API field names
// with Georeference capitalised, "01/02/2006 03:04:05 PM" timestamps and a
// WKT point.
func sampleCSV(t *testing.T) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"transit_timestamp", "transit_mode", "station_complex_id", "station_complex", "borough",
		"payment_method", "fare_class_category", "ridership", "transfers", "latitude", "longitude", "Georeference"})
	for _, r := range sampleRows() {
		ts, err := time.Parse("2006-01-02T15:04:05.000", r.TransitTimestamp)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]string{ts.Format("01/02/2006 03:04:05 PM"), r.TransitMode, r.StationComplexID, r.StationComplex, r.Borough,
			r.PaymentMethod, r.FareClassCategory, r.Ridership, r.Transfers, r.Latitude, r.Longitude,
			fmt.Sprintf("POINT (%s %s)", r.Longitude, r.Latitude)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSample checks that testdata/ridership holds what the generator makes;
// go test -run TestSample -update rewrites it.
func TestSample(t *testing.T) {
	for name, data := range map[string][]byte{"sample.json": sampleJSON(t), "sample.csv": sampleCSV(t)} {
		path := filepath.Join(sampleDir, name)
		if *update {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/ridership -run TestSample -update)", err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s differs from the generator's output; run go test ./internal/ridership -run TestSample -update", path)
		}
	}
	if n := len(sampleRows()); n < 200 || n > 600 {
		t.Errorf("sample has %d rows, want a few hundred", n)
	}
}
