package stream

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

func ridershipValue(t *testing.T, id, name, fare, ts string, riders, transfers int64) []byte {
	t.Helper()
	tm, err := time.Parse(time.DateTime, ts)
	if err != nil {
		t.Fatal(err)
	}
	r := ridership.Record{Timestamp: tm.Unix(), StationComplexID: id, StationComplex: name, Borough: "Manhattan",
		PaymentMethod: "omny", FareClassCategory: fare, Ridership: riders, Transfers: transfers}
	r.ID = ridership.RecordID(r.Timestamp, id, r.PaymentMethod, fare)
	return ridership.Encode(&r)
}

func newRidershipProcessor(t *testing.T, keepRows bool) (*Processor, *lake.MemBucket) {
	t.Helper()
	spec, err := window.NewSpec(time.Hour, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := lake.NewMemBucket()
	sink := &lake.Sink{Bucket: b, Layout: lake.Layout{Prefix: "ridership"}}
	// Index is asked for and must be ignored: ridership files have no index column.
	return New(Config{Records: RidershipRecords(), Spec: spec, Sink: sink, Side: LakeSide{Sink: sink},
		Index: true, KeepRows: keepRows}), b
}

// TestRidershipRecords runs ridership values through a Processor (Handle)
// and through file mode (RunInput, whose parse-ahead uses the record type):
// windows group by the ridership key, a repeated record (same ID) counts
// once, a bad value is rejected with reason bad_value, the window files have
// the ridership header and no index column, both paths write the same
// bytes, and the checkpoint's emit messages decode as ridership rows.
func TestRidershipRecords(t *testing.T) {
	ctx := context.Background()
	a := ridershipValue(t, "611", "Times Sq, 42 St", "OMNY - Full Fare", "2025-01-14 08:00:00", 10, 1)
	values := [][]byte{
		a,
		ridershipValue(t, "610", "Grand Central", "OMNY - Students", "2025-01-14 08:00:00", 5, 0),
		a, // a repeat: same ID and time
		[]byte("not,a,ridership,value"),
		ridershipValue(t, "611", "Times Sq, 42 St", "OMNY - Full Fare", "2025-01-14 09:00:00", 3, 2),
		ridershipValue(t, "611", "Times Sq, 42 St", "OMNY - Seniors", "2025-01-14 09:00:00", 4, 0),
	}
	want := map[string]string{
		"ridership/20250114T090000_p0.csv.gz": ridership.LakeColumns + "\n" +
			"610,Grand Central,Manhattan,omny,OMNY - Students,2025-01-14 08:00:00,2025-01-14 09:00:00,5,0\n" +
			`611,"Times Sq, 42 St",Manhattan,omny,OMNY - Full Fare,2025-01-14 08:00:00,2025-01-14 09:00:00,10,1` + "\n",
		"ridership/20250114T100000_p0.csv.gz": ridership.LakeColumns + "\n" +
			`611,"Times Sq, 42 St",Manhattan,omny,OMNY - Full Fare,2025-01-14 09:00:00,2025-01-14 10:00:00,3,2` + "\n" +
			`611,"Times Sq, 42 St",Manhattan,omny,OMNY - Seniors,2025-01-14 09:00:00,2025-01-14 10:00:00,4,0` + "\n",
	}

	p, b := newRidershipProcessor(t, true)
	if err := p.Assign(0, PartitionSource(0), ""); err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		if _, err := p.Handle(ctx, 0, int64(i), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx, 0); err != nil {
		t.Fatal(err)
	}
	cp, ok, err := p.Checkpoint(ctx, 0)
	if err != nil || !ok {
		t.Fatalf("checkpoint: %v, %v", ok, err)
	}
	files := windowTexts(t, b, "ridership/")
	if len(files) != len(want) {
		t.Fatalf("window files %v, want %d", slices.Sorted(maps.Keys(files)), len(want))
	}
	for name, text := range want {
		if files[name] != text {
			t.Errorf("%s:\n%s\nwant:\n%s", name, files[name], text)
		}
	}

	var rows []string
	for _, m := range cp.Rows {
		r, err := ridership.DecodeWindowMessage(m.Key, m.Value, m.Headers)
		if err != nil {
			t.Fatalf("emit message %q %q: %v", m.Key, m.Value, err)
		}
		rows = append(rows, string(ridership.AppendWindowRow(nil, &r)))
	}
	var wantRows []string
	for _, text := range want {
		wantRows = append(wantRows, strings.Split(strings.TrimSuffix(text, "\n"), "\n")[1:]...)
	}
	slices.Sort(rows)
	slices.Sort(wantRows)
	if !slices.Equal(rows, wantRows) {
		t.Errorf("emit messages hold rows\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(wantRows, "\n"))
	}

	rejected, err := b.List(ctx, "ridership_rejected/")
	if err != nil || len(rejected) != 1 {
		t.Fatalf("rejected files %v, %v; want one", rejected, err)
	}
	data, _ := b.Get(ctx, rejected[0])
	recs, err := lake.DecodeSide(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Reason != ridership.ReasonValue || recs[0].Offset != 3 {
		t.Errorf("rejected records %+v, want one with reason %s at offset 3", recs, ridership.ReasonValue)
	}

	// File mode: the parse-ahead goroutine uses the record type too.
	fp, fb := newRidershipProcessor(t, false)
	if _, err := RunInput(ctx, bytes.NewReader(bytes.Join(values, []byte("\n"))), fp); err != nil {
		t.Fatal(err)
	}
	fileMode := windowTexts(t, fb, "ridership/")
	for name, text := range want {
		name = strings.Replace(name, "_p0", "_"+InputSource, 1)
		if fileMode[name] != text {
			t.Errorf("file mode %s:\n%s\nwant:\n%s", name, fileMode[name], text)
		}
	}
}

// windowTexts returns the text of every window file under prefix, by name.
func windowTexts(t *testing.T, b *lake.MemBucket, prefix string) map[string]string {
	t.Helper()
	names, err := b.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, name := range names {
		data, err := b.Get(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		text, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = string(text)
	}
	return out
}

func TestRecordsNamed(t *testing.T) {
	for _, name := range []string{"turnstile", "ridership"} {
		r, err := RecordsNamed(name)
		if err != nil || r.Name() != name {
			t.Errorf("RecordsNamed(%q) = %v, %v", name, r, err)
		}
	}
	if _, err := RecordsNamed("subway"); err == nil {
		t.Error("RecordsNamed accepted an unknown name")
	}
}
