package turnstile

import (
	"testing"
	"time"
)

func TestAppendCSVRoundTrip(t *testing.T) {
	recs := []Record{
		NewRecord("A002", "R051", "02-00-00", "59 ST", "NQR456W", "BMT", "REGULAR", 5, 3, "id", time.Date(2024, 7, 22, 10, 1, 0, 0, time.UTC)),
		NewRecord("A002", "R051", "02-00-00", `59 ST, "LEX"`, "NQR456W", "BMT", "RECOVR AUD", 0, 2147483647, "id,2", time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)),
	}
	for _, r := range recs {
		got, err := Parse(AppendCSV(nil, &r))
		if err != nil {
			t.Fatalf("Parse(AppendCSV(%+v)): %v", r, err)
		}
		if got != r {
			t.Fatalf("round trip: got %+v, want %+v", got, r)
		}
	}
}

func TestNewRecordFormatsDateAndTime(t *testing.T) {
	r := NewRecord("A", "B", "C", "S", "L", "D", "REGULAR", 1, 2, "id", time.Date(2024, 7, 2, 9, 5, 7, 0, time.UTC))
	if r.Date != "07-02-24" || r.Time != "09:05:07" {
		t.Fatalf("DATE %q TIME %q, want 07-02-24 09:05:07", r.Date, r.Time)
	}
	if r.Key() != "A|B|C" {
		t.Fatalf("key %q", r.Key())
	}
}
