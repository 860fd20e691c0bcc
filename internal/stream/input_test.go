package stream

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
)

// TestRunInputLongLine checks how RunInput reads lines: a line longer than
// its 1 MiB read buffer is one whole line, and a last line without a line
// ending is a line too. The three lines are rejected (they are not records),
// so the side output shows each value as read.
func TestRunInputLongLine(t *testing.T) {
	long := "long " + strings.Repeat("X", 3<<20)
	p, b := newTestProcessor(t, false)
	res, err := RunInput(context.Background(), strings.NewReader("first\n"+long+"\nlast"), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 3 {
		t.Errorf("%d lines, want 3", res.Lines)
	}
	names, _ := b.List(context.Background(), "turnstile_rejected/")
	var got []lake.SideRecord
	for _, name := range names {
		data, _ := b.Get(context.Background(), name)
		recs, err := lake.DecodeSide(data)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, recs...)
	}
	slices.SortFunc(got, func(a, b lake.SideRecord) int { return int(a.Offset - b.Offset) })
	want := []string{"first", long, "last"}
	if len(got) != len(want) {
		t.Fatalf("%d rejected lines, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.Offset != int64(i+1) || r.Value != want[i] {
			t.Errorf("rejected line %d: offset %d, value of %d bytes starting %.10q; want offset %d, %d bytes starting %.10q",
				i, r.Offset, len(r.Value), r.Value, i+1, len(want[i]), want[i])
		}
	}
}
