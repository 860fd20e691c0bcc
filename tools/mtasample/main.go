// Command mtasample writes the sample MTA turnstile files shipped under
// testdata/mta, in the real MTA format, because the real files cannot be
// downloaded on the build machines.
//
//	go run ./tools/mtasample -dir testdata/mta
//
// It writes:
//   - turnstile_240720.txt: MTA's own format (C/A header, EXITS padded with
//     trailing spaces, zero-padded counters) for 6 turnstiles at 3 stations
//     over 4 days, readings every 4 hours, with a counter reset, a RECOVR AUD
//     reading off the 4-hour grid and a repeated reading;
//   - turnstile_240724_pandas.csv: the next 2 days as pandas writes them, with
//     a leading index column (",C/A,...");
//   - expected_deltas.csv: the true per-interval counts the generator drew,
//     the answer the producer's delta conversion must find (the first reading
//     of each turnstile, the reset and the repeat emit nothing).
//
// The output is deterministic: running it again gives the same bytes.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

func main() {
	dir := flag.String("dir", "testdata/mta", "directory to write the sample files to")
	flag.Parse()
	files := Generate()
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "mtasample:", err)
		os.Exit(1)
	}
	for _, name := range FileNames {
		if err := os.WriteFile(filepath.Join(*dir, name), files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "mtasample:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", filepath.Join(*dir, name))
	}
}

// File names of the sample.
const (
	MTAFile      = "turnstile_240720.txt"
	PandasFile   = "turnstile_240724_pandas.csv"
	ExpectedFile = "expected_deltas.csv"
)

// FileNames lists the files Generate returns, in writing order.
var FileNames = []string{MTAFile, PandasFile, ExpectedFile}

type gate struct {
	ca, unit, scp, station, lines, division string
	offset                                  time.Duration // first reading of the day
	weight                                  float64       // peak entries per hour
	entries, exits                          int64         // register readings
}

// a reading as written to a file
type reading struct {
	g              *gate
	t              time.Time
	desc           string
	entries, exits int64
}

// Generate returns the sample files by name.
func Generate() map[string][]byte {
	rng := rand.New(rand.NewPCG(20240720, 3))
	gates := []*gate{
		{ca: "A002", unit: "R051", scp: "02-00-00", station: "59 ST", lines: "NQR456W", division: "BMT", weight: 420, entries: 7215740, exits: 2448299},
		{ca: "A002", unit: "R051", scp: "02-00-01", station: "59 ST", lines: "NQR456W", division: "BMT", weight: 310, entries: 6483080, exits: 2189007},
		{ca: "R151", unit: "R033", scp: "00-00-00", station: "TIMES SQ-42 ST", lines: "1237ACENQRSW", division: "IRT", offset: 3 * time.Hour, weight: 650, entries: 12458861, exits: 9954021},
		{ca: "R151", unit: "R033", scp: "00-00-01", station: "TIMES SQ-42 ST", lines: "1237ACENQRSW", division: "IRT", offset: 3 * time.Hour, weight: 600, entries: 1718264, exits: 1422380},
		{ca: "H009", unit: "R235", scp: "00-00-00", station: "BEDFORD AV", lines: "L", division: "BMT", offset: 4 * time.Hour, weight: 380, entries: 3015576, exits: 3462213},
		{ca: "H009", unit: "R235", scp: "00-06-00", station: "BEDFORD AV", lines: "L", division: "BMT", offset: 4 * time.Hour, weight: 250, entries: 889304, exits: 1054920},
	}
	first := time.Date(2024, 7, 20, 0, 0, 0, 0, time.UTC)
	split := time.Date(2024, 7, 24, 0, 0, 0, 0, time.UTC)
	last := time.Date(2024, 7, 26, 0, 0, 0, 0, time.UTC)

	var week1, week2 []reading
	var expected bytes.Buffer
	expected.WriteString("CA,UNIT,SCP,TIMESTAMP,ENTRIES,EXITS\n")
	for _, g := range gates {
		var rs []reading
		prev := time.Time{}
		emit := func(t time.Time, desc string) {
			if !prev.IsZero() {
				de, dx := draw(rng, g, prev, t)
				g.entries += de
				g.exits += dx
				fmt.Fprintf(&expected, "%s,%s,%s,%s,%d,%d\n", g.ca, g.unit, g.scp, t.Format("2006-01-02 15:04:05"), de, dx)
			}
			rs = append(rs, reading{g: g, t: t, desc: desc, entries: g.entries, exits: g.exits})
			prev = t
		}
		for t := first.Add(g.offset); t.Before(last); t = t.Add(4 * time.Hour) {
			switch {
			case g.scp == "02-00-01" && t.Equal(time.Date(2024, 7, 21, 12, 0, 0, 0, time.UTC)):
				// An audit recovered off the 4-hour grid, before the regular reading.
				emit(time.Date(2024, 7, 21, 9, 13, 27, 0, time.UTC), "RECOVR AUD")
				emit(t, "REGULAR")
			case g.ca == "R151" && g.scp == "00-00-01" && t.Equal(time.Date(2024, 7, 22, 11, 0, 0, 0, time.UTC)):
				// The register is replaced: the reading restarts near zero. The
				// interval is lost (skipped as a reset); the next delta is taken
				// against the new register.
				g.entries, g.exits = 112, 87
				rs = append(rs, reading{g: g, t: t, desc: "REGULAR", entries: g.entries, exits: g.exits})
				prev = t
			case g.ca == "H009" && g.scp == "00-00-00" && t.Equal(time.Date(2024, 7, 21, 16, 0, 0, 0, time.UTC)):
				emit(t, "REGULAR")
				// The same reading sent twice, the repeat with garbage counters:
				// only the first in file order counts.
				rs = append(rs, reading{g: g, t: t, desc: "REGULAR", entries: g.entries + 5000000, exits: 0})
			default:
				emit(t, "REGULAR")
			}
		}
		for _, r := range rs {
			if r.t.Before(split) {
				week1 = append(week1, r)
			} else {
				week2 = append(week2, r)
			}
		}
	}

	var mta bytes.Buffer
	// MTA pads the last header name with spaces.
	mta.WriteString("C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS                                                               \n")
	for _, r := range week1 {
		fmt.Fprintf(&mta, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%010d,%010d\n", r.g.ca, r.g.unit, r.g.scp, r.g.station, r.g.lines, r.g.division,
			r.t.Format("01/02/2006"), r.t.Format("15:04:05"), r.desc, r.entries, r.exits)
	}
	var pandas bytes.Buffer
	pandas.WriteString(",C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS\n")
	for i, r := range week2 {
		fmt.Fprintf(&pandas, "%d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%d,%d\n", i, r.g.ca, r.g.unit, r.g.scp, r.g.station, r.g.lines, r.g.division,
			r.t.Format("01/02/2006"), r.t.Format("15:04:05"), r.desc, r.entries, r.exits)
	}
	return map[string][]byte{MTAFile: mta.Bytes(), PandasFile: pandas.Bytes(), ExpectedFile: expected.Bytes()}
}

// draw returns the entries and exits of g between two readings: the hourly
// weight shaped by the time of day, with Gaussian noise.
func draw(rng *rand.Rand, g *gate, from, to time.Time) (int64, int64) {
	var entries, exits float64
	for t := from; t.Before(to); t = t.Add(15 * time.Minute) {
		h := t.Hour()
		quarter := min(to.Sub(t), 15*time.Minute).Hours()
		morning := peak(h, 8)
		evening := peak(h, 18)
		base := 0.08 // night
		switch {
		case h < 5:
			base = 0.03
		case h >= 6 && h < 22:
			base = 0.3 // daytime
		}
		entries += g.weight * quarter * (base + morning + 0.6*evening)
		exits += g.weight * quarter * 0.85 * (base + 0.6*morning + evening)
	}
	noisy := func(m float64) int64 { return int64(max(0, m+rng.NormFloat64()*0.1*m)) }
	return noisy(entries), noisy(exits)
}

// peak is a bump of height 1 around hour center, 2 hours wide.
func peak(h, center int) float64 {
	d := float64(h - center)
	return 1 / (1 + d*d/2)
}
