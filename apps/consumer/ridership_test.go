package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// ridershipHeader is the header of a ridership window file, as
// docs/lake.md and the ridership contract write it.
const ridershipHeader = "station_complex_id,station_complex,borough,payment_method,fare_class_category,window_start,window_end,ridership,transfers"

// sampleRecord is one row of testdata/ridership/sample.csv.
type sampleRecord struct {
	fields [5]string // station_complex_id, station_complex, borough, payment_method, fare_class_category
	at     time.Time
	riders int64
	xfers  int64
}

// readSample reads the hourly ridership sample export with encoding/csv.
func readSample(t *testing.T) []sampleRecord {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "ridership", "sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	var out []sampleRecord
	for _, r := range rows[1:] {
		at, err := time.Parse("01/02/2006 03:04:05 PM", r[col["transit_timestamp"]])
		if err != nil {
			t.Fatal(err)
		}
		riders, err1 := strconv.ParseInt(r[col["ridership"]], 10, 64)
		xfers, err2 := strconv.ParseInt(r[col["transfers"]], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("sample row %v: %v %v", r, err1, err2)
		}
		out = append(out, sampleRecord{
			fields: [5]string{r[col["station_complex_id"]], r[col["station_complex"]], r[col["borough"]],
				r[col["payment_method"]], r[col["fare_class_category"]]},
			at: at, riders: riders, xfers: xfers,
		})
	}
	if len(out) < 100 {
		t.Fatalf("the sample has %d rows; want the 48-hour sample", len(out))
	}
	return out
}

// messageValue is the producer's message value of a sample row
// (ridership.Encode).
func messageValue(s sampleRecord) []byte {
	r := ridership.Record{Timestamp: s.at.Unix(), StationComplexID: s.fields[0], StationComplex: s.fields[1],
		Borough: s.fields[2], PaymentMethod: s.fields[3], FareClassCategory: s.fields[4], Ridership: s.riders, Transfers: s.xfers}
	r.ID = ridership.RecordID(r.Timestamp, r.StationComplexID, r.PaymentMethod, r.FareClassCategory)
	return ridership.Encode(&r)
}

// referenceRows aggregates the sample by key and tumbling window of the
// given size, independently of the consumer: one "key
// fields|window_start|window_end" -> "ridership,transfers" per (key,
// window).
func referenceRows(sample []sampleRecord, size time.Duration) map[string]string {
	type sums struct{ riders, xfers int64 }
	agg := map[string]sums{}
	for _, s := range sample {
		start := s.at.Truncate(size) // the zero time is a whole number of days before the Unix epoch
		k := strings.Join(s.fields[:], "|") + "|" + start.Format(time.DateTime) + "|" + start.Add(size).Format(time.DateTime)
		v := agg[k]
		v.riders += s.riders
		v.xfers += s.xfers
		agg[k] = v
	}
	out := map[string]string{}
	for k, v := range agg {
		out[k] = fmt.Sprintf("%d,%d", v.riders, v.xfers)
	}
	return out
}

// lakeRidershipRows reads every ridership window file under dir/ridership
// with encoding/csv and returns its rows as referenceRows does. It checks
// the header (no index column), the file names and that each row's
// window_end is its file's.
func lakeRidershipRows(t *testing.T, dir string) (map[string]string, error) {
	t.Helper()
	b, err := lake.NewFileBucket(dir)
	if err != nil {
		t.Fatal(err)
	}
	names, err := b.List(context.Background(), "ridership/")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, name := range names {
		end, ok := lake.WindowEnd(name)
		if !ok || !strings.HasSuffix(name, ".csv.gz") {
			return nil, fmt.Errorf("object %s is not a window file", name)
		}
		data, err := b.Get(context.Background(), name)
		if err != nil {
			return nil, err
		}
		text, err := gunzip(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(recs) < 2 || strings.Join(recs[0], ",") != ridershipHeader {
			return nil, fmt.Errorf("%s: header %q, want %q and rows", name, recs[0], ridershipHeader)
		}
		for _, r := range recs[1:] {
			if r[0] == sentinelID {
				continue
			}
			if r[6] != end.Format(time.DateTime) {
				return nil, fmt.Errorf("%s: row %v ends at %s, not at the file's window end", name, r, r[6])
			}
			k := strings.Join(r[:7], "|")
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("%s: row %v written twice", name, r)
			}
			out[k] = r[7] + "," + r[8]
		}
	}
	return out, nil
}

// sentinelID is the station of a record an hour after the sample, whose
// window stays open in Kafka mode, so that the watermark closes the sample's
// last hour.
const sentinelID = "SENTINEL"

func compareRows(t *testing.T, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for k, v := range want {
		if got[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: got %q, want %q", k, got[k], v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: got %q, want no row", k, v))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 0 {
		t.Fatalf("%d of %d rows differ from the reference:\n%s", len(diffs), len(want), strings.Join(diffs[:min(len(diffs), 20)], "\n"))
	}
}

// TestRidershipFileMode runs the consumer binary with --source ridership in
// file mode over the message values of the hourly ridership sample (every
// seventh one twice, as a producer restart repeats records, and one bad
// value) and compares the lake with the reference aggregation of the
// sample: with 1-hour windows (one record per key and window) and 3-hour
// windows (sums of up to three).
func TestRidershipFileMode(t *testing.T) {
	for _, size := range []time.Duration{time.Hour, 3 * time.Hour} {
		t.Run(size.String(), func(t *testing.T) { testRidershipFileMode(t, size) })
	}
}

func testRidershipFileMode(t *testing.T, size time.Duration) {
	bin := consumerBinary(t)
	sample := readSample(t)
	var input bytes.Buffer
	for i, s := range sample {
		v := messageValue(s)
		input.Write(v)
		input.WriteByte('\n')
		if i%7 == 0 {
			input.Write(v)
			input.WriteByte('\n')
		}
		if i == 10 {
			input.WriteString("not,a,ridership,value\n")
		}
	}
	dir := t.TempDir()
	inputFile := filepath.Join(dir, "values.txt")
	if err := os.WriteFile(inputFile, input.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--source", "ridership", "--input", inputFile, "--duration", size.String(),
		"--sink", "file://"+filepath.Join(dir, "lake", "ridership"))
	cmd.Stderr = &logs
	if err := cmd.Run(); err != nil {
		t.Fatalf("consumer: %v\n%s", err, logs.String())
	}
	got, err := lakeRidershipRows(t, filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, logs.String())
	}
	compareRows(t, got, referenceRows(sample, size))

	b, err := lake.NewFileBucket(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := b.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var rejected []string
	for _, name := range all {
		switch {
		case name == "ridership_shape", strings.HasPrefix(name, "ridership/"):
		case strings.HasPrefix(name, "ridership_rejected/"):
			rejected = append(rejected, name)
		default:
			t.Errorf("unexpected object %s: side files and the shape marker follow the prefix ridership", name)
		}
	}
	if !slices.Contains(all, "ridership_shape") {
		t.Errorf("no shape marker ridership_shape in %v", all)
	}
	if len(rejected) != 1 {
		t.Fatalf("rejected files %v, want one", rejected)
	}
	data, err := b.Get(context.Background(), rejected[0])
	if err != nil {
		t.Fatal(err)
	}
	recs, err := lake.DecodeSide(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Reason != ridership.ReasonValue || recs[0].Value != "not,a,ridership,value" {
		t.Errorf("rejected records %+v, want the bad value with reason %s", recs, ridership.ReasonValue)
	}
}

// TestRidershipFlags checks the flags that --source ridership changes or
// refuses.
func TestRidershipFlags(t *testing.T) {
	o, err := parseFlags([]string{"--source", "ridership"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.topic != "mta-ridership" || o.group != "ridership-consumer" || o.client != "ridership-consumer" ||
		o.sink != "file://./lake/ridership" || o.index {
		t.Errorf("ridership defaults: topic %s group %s client %s sink %s index %v", o.topic, o.group, o.client, o.sink, o.index)
	}
	o, err = parseFlags([]string{"--source", "ridership", "--topic", "t", "--group", "g", "--sink", "gs://b/x/ridership", "--index=false"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.topic != "t" || o.group != "g" || o.sink != "gs://b/x/ridership" {
		t.Errorf("explicit flags were overridden: topic %s group %s sink %s", o.topic, o.group, o.sink)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown source", []string{"--input", "-", "--source", "subway"}, "--source"},
		{"index with ridership", []string{"--input", "-", "--source", "ridership", "--index"}, "no index column"},
		// Kafka mode, refused before it connects (nothing listens on port 1).
		{"ridership in the turnstile group", []string{"--bootstrap", "127.0.0.1:1", "--sink", "file://" + t.TempDir() + "/ridership",
			"--source", "ridership", "--group", "turnstile-consumer"}, "turnstile consumer's group"},
		{"turnstile in the ridership group", []string{"--bootstrap", "127.0.0.1:1", "--sink", "file://" + t.TempDir() + "/turnstile",
			"--group", "ridership-consumer"}, "ridership consumer's group"},
		{"ridership under the turnstile prefix", []string{"--input", "-", "--source", "ridership", "--sink", "file://" + t.TempDir() + "/turnstile"}, "named for turnstile"},
		{"turnstile under the ridership prefix", []string{"--input", "-", "--sink", "file://" + t.TempDir() + "/ridership"}, "named for ridership"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tc.args, strings.NewReader(""), &stderr); code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr does not mention %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

// TestRidershipKafka runs the consumer binary with --source ridership and
// no --topic against the embedded broker: the sample's message values on
// two partitions of mta-ridership (by station complex, as the producer keys
// them; each value sent twice, as after a producer restart), then a
// sentinel an hour later on each partition. The lake must hold the
// reference aggregation exactly once, and the emit topic the same rows as
// ridership window messages.
func TestRidershipKafka(t *testing.T) {
	bin := consumerBinary(t)
	broker, err := kafkatest.Start(kafkatest.Topics(2, ridership.Topic, "mta-ridership-windows"))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	sample := readSample(t)
	partitionOf := map[string]int32{}
	var records []kafkatest.Record
	last := sample[0].at
	for _, s := range sample {
		p, ok := partitionOf[s.fields[0]]
		if !ok {
			p = int32(len(partitionOf) % 2)
			partitionOf[s.fields[0]] = p
		}
		v := messageValue(s)
		records = append(records, kafkatest.Record{Partition: p, Key: []byte(s.fields[0]), Value: v},
			kafkatest.Record{Partition: p, Key: []byte(s.fields[0]), Value: v})
		if s.at.After(last) {
			last = s.at
		}
	}
	for p := range int32(2) {
		sentinel := sampleRecord{fields: [5]string{sentinelID, "x", "x", "omny", "x"}, at: last.Add(2 * time.Hour)}
		records = append(records, kafkatest.Record{Partition: p, Key: []byte(sentinelID), Value: messageValue(sentinel)})
	}
	if err := kafkatest.Produce(broker.Addr(), ridership.Topic, records); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--source", "ridership", "--bootstrap", broker.Addr(), "--duration", "1h", "--watermark", "0s",
		"--idle-close", "0", "--emit-topic", "mta-ridership-windows", "--sink", "file://"+filepath.Join(dir, "ridership"))
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	want := referenceRows(sample, time.Hour)
	var got map[string]string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got, err = lakeRidershipRows(t, dir); err == nil && len(got) >= len(want) {
			break
		}
	}
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, logs.String())
	}
	compareRows(t, got, want)

	emitted := map[string]string{}
	for _, m := range readCommitted(t, broker.Addr(), "mta-ridership-windows", 60*time.Second, func(n int) bool { return n >= len(want) }) {
		hs := make([]turnstile.Header, len(m.Headers))
		for i, h := range m.Headers {
			hs[i] = turnstile.Header{Key: h.Key, Value: h.Value}
		}
		r, err := ridership.DecodeWindowMessage(m.Key, m.Value, hs)
		if err != nil {
			t.Fatalf("emitted message %q %q: %v", m.Key, m.Value, err)
		}
		k := strings.Join([]string{r.StationComplexID, r.StationComplex, r.Borough, r.PaymentMethod, r.FareClassCategory,
			time.Unix(r.Start, 0).UTC().Format(time.DateTime), time.Unix(r.End, 0).UTC().Format(time.DateTime)}, "|")
		if _, dup := emitted[k]; dup {
			t.Fatalf("row %s emitted twice", k)
		}
		emitted[k] = fmt.Sprintf("%d,%d", r.Ridership, r.Transfers)
	}
	compareRows(t, emitted, want)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("consumer did not stop cleanly: %v\n%s", err, logs.String())
	}
	for _, s := range []string{"source=ridership", "topic=mta-ridership", "group=ridership-consumer"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("the start log does not say %s:\n%s", s, logs.String())
		}
	}
}
