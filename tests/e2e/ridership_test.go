package e2e

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership/sodatest"
)

// ridershipHeader is the header of a ridership window file and of the
// case's expected.csv (the contract's, written out here rather than taken
// from the code under test).
const ridershipHeader = "station_complex_id,station_complex,borough,payment_method,fare_class_category,window_start,window_end,ridership,transfers"

// ridershipSentinel is the station complex of the records that close every
// real ridership window: one per partition, months after the sample but
// before the wall clock (the consumer's --max-future); their own windows
// stay open and are never written.
const ridershipSentinel = "SENTINEL"

// Case 12: the hourly ridership sample from the fake SODA API through the
// producer, Kafka and the consumer to a folder lake. The window rows must
// equal expected.csv (-update rewrites it) and an aggregation of the sample
// computed here, independently of internal/ridership. The sample holds one
// row per key and hour, as the dataset does, so a 1-hour window sums one
// row; a second consumer (its own group and lake) with 3-hour windows
// checks sums over several rows against the same aggregation.
func TestRidershipSODAToLake(t *testing.T) {
	e := newEnv(t, "ridership", envOption{})
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	sample := filepath.Join(root, "testdata", "ridership", "sample.json")
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := sodatest.LoadRows(data)
	if err != nil {
		t.Fatal(err)
	}
	sodaURL := sodatest.Start(t, sodatest.New(rows, sodatest.Options{}))

	from, to := caseFlagTime(t, e.cs.producer, "--from"), caseFlagTime(t, e.cs.producer, "--to")
	want, sent := ridershipReference(t, data, from, to, time.Hour)
	want3h, _ := ridershipReference(t, data, from, to, 3*time.Hour)
	if sent == 0 || len(want) == 0 || len(want3h) >= len(want) {
		t.Fatalf("the sample has %d rows in [%s, %s), %d 1-hour and %d 3-hour window rows: want some, and fewer 3-hour ones", sent, from, to, len(want), len(want3h))
	}

	lakeDir, lake3h := t.TempDir(), t.TempDir()
	consumer := func(name, group, dir string, extra ...string) *proc {
		args := []string{"--config", e.props, "--topic", e.topic, "--group", group,
			"--sink", "file://" + filepath.ToSlash(dir) + "/ridership", "--commit-interval", "200ms", "--idle-close", "0"}
		args = append(append(args, e.cs.consumer...), extra...)
		return e.start(name, consumerBin, nil, args...)
	}
	c := consumer("consumer", e.group, lakeDir)
	c3h := consumer("consumer-3h", e.group+"-3h", lake3h, "--duration", "3h")
	p := e.runProducer("producer", "--soda-url", sodaURL)
	checkSummary(t, p, sent)
	e.sendRidershipSentinels()

	got := waitRidershipLake(t, filepath.Join(lakeDir, "ridership"), time.Hour, len(want), 60*time.Second)
	got3h := waitRidershipLake(t, filepath.Join(lake3h, "ridership"), 3*time.Hour, len(want3h), 60*time.Second)
	c.stop(t)
	c3h.stop(t)

	// No side records: every row of the sample is valid and on time.
	for _, dir := range []string{lakeDir, lake3h} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if n := en.Name(); n != "ridership" && n != "ridership_shape" && !strings.HasPrefix(n, ".") {
				t.Errorf("unexpected entry %s in the lake folder %s (side records?)", n, dir)
			}
		}
	}

	// The golden file.
	goldenPath := filepath.Join(e.cs.dir, "expected.csv")
	if *update {
		text := ridershipHeader + "\n" + strings.Join(got, "\n") + "\n"
		if err := os.WriteFile(goldenPath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("-update: wrote %s (%d rows); review it by hand before committing", goldenPath, len(got))
	}
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(golden), "\n"), "\n")
	if lines[0] != ridershipHeader {
		t.Fatalf("%s: header %q, want %q", goldenPath, lines[0], ridershipHeader)
	}
	if d := diffRows(got, lines[1:]); d != "" {
		t.Errorf("lake rows differ from %s (%d rows, want %d):\n%s", goldenPath, len(got), len(lines)-1, d)
	}
	// The independent aggregation.
	if d := diffRows(got, want); d != "" {
		t.Errorf("lake rows differ from the sample's aggregation in 1-hour windows (%d rows, want %d):\n%s", len(got), len(want), d)
	}
	if d := diffRows(got3h, want3h); d != "" {
		t.Errorf("3-hour lake rows differ from the sample's aggregation in 3-hour windows (%d rows, want %d):\n%s", len(got3h), len(want3h), d)
	}
	if !t.Failed() {
		t.Logf("the lakes hold exactly the %d 1-hour and %d 3-hour window rows of the %d sample rows in [%s, %s)", len(got), len(got3h), sent,
			from.Format(time.DateTime), to.Format(time.DateTime))
	}
}

// caseFlagTime returns the time of a --from or --to flag among args
// (YYYY-MM-DD HH:MM:SS, the naive time read as UTC).
func caseFlagTime(t *testing.T, args []string, flag string) time.Time {
	t.Helper()
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("case.txt's producer has no %s", flag)
	}
	ts, err := time.Parse(time.DateTime, args[i+1])
	if err != nil {
		t.Fatalf("case.txt's producer %s: %v", flag, err)
	}
	return ts
}

// ridershipReference aggregates the sample's JSON rows (the API's answer)
// with transit_timestamp in [from, to) into tumbling windows of size, per
// (station_complex_id, station_complex, borough, payment_method,
// fare_class_category), and returns the rows as a ridership window file
// holds them (quoted exactly when a field holds a comma, a quote, a CR or an
// LF), with the number of sample rows in range.
func ridershipReference(t *testing.T, data []byte, from, to time.Time, size time.Duration) ([]string, int) {
	t.Helper()
	var sample []map[string]any
	if err := json.Unmarshal(data, &sample); err != nil {
		t.Fatal(err)
	}
	type key struct {
		fields [5]string
		start  time.Time
	}
	sums := map[key]*[2]int64{}
	inRange := 0
	for i, r := range sample {
		str := func(name string) string {
			s, ok := r[name].(string)
			if !ok {
				t.Fatalf("sample row %d: %s is not a string", i, name)
			}
			return s
		}
		count := func(name string) int64 {
			f, err := strconv.ParseFloat(str(name), 64)
			if err != nil || f < 0 || f != float64(int64(f)) {
				t.Fatalf("sample row %d: %s %q is not a whole number", i, name, str(name))
			}
			return int64(f)
		}
		ts, err := time.Parse("2006-01-02T15:04:05.000", str("transit_timestamp"))
		if err != nil {
			t.Fatalf("sample row %d: %v", i, err)
		}
		if ts.Before(from) || !ts.Before(to) {
			continue
		}
		inRange++
		sec := int64(size / time.Second) // windows start at multiples of their size since the Unix epoch
		k := key{[5]string{str("station_complex_id"), str("station_complex"), str("borough"), str("payment_method"), str("fare_class_category")},
			time.Unix(ts.Unix()-ts.Unix()%sec, 0).UTC()}
		s := sums[k]
		if s == nil {
			s = &[2]int64{}
			sums[k] = s
		}
		s[0] += count("ridership")
		s[1] += count("transfers")
	}
	quote := func(f string) string {
		if strings.ContainsAny(f, ",\"\r\n") {
			return `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
		}
		return f
	}
	var out []string
	for k, s := range sums {
		var fields []string
		for _, f := range k.fields {
			fields = append(fields, quote(f))
		}
		fields = append(fields, k.start.Format(time.DateTime), k.start.Add(size).Format(time.DateTime),
			strconv.FormatInt(s[0], 10), strconv.FormatInt(s[1], 10))
		out = append(out, strings.Join(fields, ","))
	}
	slices.Sort(out)
	return out, inRange
}

// sendRidershipSentinels appends a ridership sentinel record to every
// partition.
func (e *env) sendRidershipSentinels() {
	e.t.Helper()
	ts := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).Unix()
	var recs []kafkatest.Record
	for p := 0; p < e.cs.partitions; p++ {
		id := fmt.Sprintf("%s-%d", ridershipSentinel, p)
		r := ridership.Record{ID: ridership.RecordID(ts, id, "omny", "sentinel"), Timestamp: ts, StationComplexID: id,
			StationComplex: "sentinel", Borough: "X", PaymentMethod: "omny", FareClassCategory: "sentinel"}
		recs = append(recs, kafkatest.Record{Partition: int32(p), Key: []byte(id), Value: ridership.Encode(&r)})
	}
	if err := kafkatest.Produce(e.cluster.Addr, e.topic, recs); err != nil {
		e.t.Fatalf("send ridership sentinels: %v", err)
	}
}

var ridershipWindowName = regexp.MustCompile(`^(\d{8}T\d{6})_p(\d+)\.csv\.gz$`)

// readRidershipLake reads every finished window file in dir, checks its
// name, header, and that each row has 9 CSV fields, a window end equal to
// the name's and a start size before it, and returns the rows but the
// sentinels', sorted.
func readRidershipLake(dir string, size time.Duration) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rows []string
	for _, en := range entries {
		name := en.Name()
		if strings.HasPrefix(name, ".") { // a write in progress
			continue
		}
		m := ridershipWindowName.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("window file %s: name does not match %s", name, ridershipWindowName)
		}
		end, err := time.Parse("20060102T150405", m[1])
		if err != nil {
			return nil, fmt.Errorf("window file %s: %w", name, err)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		text, err := gunzip(data)
		if err != nil {
			return nil, fmt.Errorf("window file %s: %w", name, err)
		}
		if !strings.HasSuffix(text, "\n") {
			return nil, fmt.Errorf("window file %s: no final line end", name)
		}
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		if lines[0] != ridershipHeader {
			return nil, fmt.Errorf("window file %s: header %q, want %q", name, lines[0], ridershipHeader)
		}
		if len(lines) == 1 {
			return nil, fmt.Errorf("window file %s: no rows", name)
		}
		for i, line := range lines[1:] {
			f, err := csv.NewReader(strings.NewReader(line)).Read()
			if err != nil || len(f) != 9 {
				return nil, fmt.Errorf("window file %s: line %d: not 9 CSV fields: %q (%v)", name, i+2, line, err)
			}
			if f[6] != end.Format(time.DateTime) || f[5] != end.Add(-size).Format(time.DateTime) {
				return nil, fmt.Errorf("window file %s: line %d: window %s to %s, want the %s ending %s", name, i+2, f[5], f[6], size, end.Format(time.DateTime))
			}
			if strings.HasPrefix(f[0], ridershipSentinel) {
				continue
			}
			rows = append(rows, line)
		}
	}
	slices.Sort(rows)
	return rows, nil
}

// waitRidershipLake polls dir until it holds at least n window rows of
// windows of size (readRidershipLake), then
// waits a second for more (a doubled row would show) and returns them.
func waitRidershipLake(t *testing.T, dir string, size time.Duration, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rows, err := readRidershipLake(dir, size)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after %s the lake holds %d ridership window rows, want %d", timeout, len(rows), n)
			return rows
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	rows, err := readRidershipLake(dir, size)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
