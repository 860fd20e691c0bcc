package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/mta"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

const sampleDir = "../../testdata/mta"

// TestSampleIsUpToDate checks that the shipped sample is what the generator
// writes: regenerate with go run ./tools/mtasample -dir testdata/mta.
func TestSampleIsUpToDate(t *testing.T) {
	files := Generate()
	for _, name := range FileNames {
		got, err := os.ReadFile(filepath.Join(sampleDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, files[name]) {
			t.Errorf("%s differs from the generator's output; run go run ./tools/mtasample -dir testdata/mta", name)
		}
	}
	if again := Generate(); !bytes.Equal(again[MTAFile], files[MTAFile]) {
		t.Error("the generator is not deterministic")
	}
}

// TestSampleHasTheAdvertisedFeatures checks the features the sample exists for.
func TestSampleHasTheAdvertisedFeatures(t *testing.T) {
	files := Generate()
	mtaFile, pandasFile := string(files[MTAFile]), string(files[PandasFile])
	tests := []struct {
		name string
		ok   bool
	}{
		{"MTA header with trailing spaces", strings.HasPrefix(mtaFile, "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS   ")},
		{"pandas index header", strings.HasPrefix(pandasFile, ",C/A,UNIT,")},
		{"RECOVR AUD row", strings.Contains(mtaFile, ",RECOVR AUD,")},
		{"MM/DD/YYYY dates", strings.Contains(mtaFile, ",07/20/2024,00:00:00,")},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Errorf("sample lacks: %s", tt.name)
		}
	}
}

// TestReplayFindsTheTrueDeltas replays both sample files and compares the
// messages with the counts the generator drew: every true interval once, in
// event-time order, with nothing from the reset or the repeated reading.
func TestReplayFindsTheTrueDeltas(t *testing.T) {
	rp, err := mta.Load(context.Background(), []string{
		filepath.Join(sampleDir, MTAFile), filepath.Join(sampleDir, PandasFile),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var prev string
	for rec := range rp.Records() {
		ts := rec.Timestamp.Format(turnstile.TimestampLayout)
		if ts < prev {
			t.Fatalf("records out of event-time order at %s", ts)
		}
		prev = ts
		got = append(got, fmt.Sprintf("%s,%s,%s,%s,%d,%d", rec.CA, rec.Unit, rec.SCP, ts, rec.Entries, rec.Exits))
	}
	want := strings.Split(strings.TrimSpace(string(Generate()[ExpectedFile])), "\n")[1:]
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("replayed deltas differ from the generator's truth:\n got %d: %q\nwant %d: %q", len(got), got, len(want), want)
	}
	st := rp.Stats()
	if st.Turnstiles != 6 || st.Resets != 1 || st.Duplicates != 1 || st.Skipped != 0 || st.Deltas != int64(len(want)) {
		t.Errorf("stats = %+v, want 6 turnstiles, 1 reset, 1 duplicate, %d deltas", st, len(want))
	}
}
