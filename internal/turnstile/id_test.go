package turnstile

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestAppendTimestamp(t *testing.T) {
	tests := []time.Time{
		time.Date(2024, 7, 20, 4, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999, time.UTC),
		time.Date(2024, 2, 29, 9, 5, 7, 0, time.FixedZone("EDT", -4*3600)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, tm := range tests {
		if got, want := string(AppendTimestamp([]byte("x"), tm)), "x"+tm.UTC().Format(TimestampLayout); got != want {
			t.Errorf("AppendTimestamp(%v) = %q, want %q", tm, got, want)
		}
	}
}

func TestReadingID(t *testing.T) {
	at := time.Date(2024, 7, 20, 4, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"same reading", ReadingID("A002", "R051", "02-00-00", at), ReadingID("A002", "R051", "02-00-00", at.In(time.FixedZone("X", 3600))), true},
		{"pinned", ReadingID("A002", "R051", "00", at), "f834eacd-5e9a-58eb-b2e5-fb01b9efa8c4", true},
		{"other time", ReadingID("A002", "R051", "02-00-00", at), ReadingID("A002", "R051", "02-00-00", at.Add(time.Second)), false},
		{"other turnstile", ReadingID("A002", "R051", "02-00-00", at), ReadingID("A002", "R051", "02-00-01", at), false},
		{"separator matters", ReadingID("A00", "2R051", "02-00-00", at), ReadingID("A002", "R051", "02-00-00", at), false},
	}
	for _, tt := range tests {
		if (tt.a == tt.b) != tt.same {
			t.Errorf("%s: %s vs %s, want same=%t", tt.name, tt.a, tt.b, tt.same)
		}
		if len(tt.a) != 36 || tt.a[14] != '5' {
			t.Errorf("%s: %s is not a UUIDv5", tt.name, tt.a)
		}
	}
}

func TestNewIDIsUUIDv5(t *testing.T) {
	for _, name := range []string{"", "A002|R051|02-00-00|2024-07-20 04:00:00", "synthetic|1|0", string(make([]byte, 300))} {
		if got, want := NewID([]byte(name)), uuid.NewSHA1(IDNamespace, []byte(name)).String(); got != want {
			t.Errorf("NewID(%q) = %s, want uuid.NewSHA1's %s", name, got, want)
		}
	}
}
