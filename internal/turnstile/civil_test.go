package turnstile

import (
	"testing"
	"time"
)

// TestCivilDaysRoundTrip checks that civilFromDays inverts daysFromCivil,
// and both agree with the time package, every day from 0001-01-01 to
// 9999-12-31; and that CivilDays refuses the dates that do not exist.
func TestCivilDaysRoundTrip(t *testing.T) {
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	last := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Unix() / 86400
	for d := first; d <= last; d++ {
		y, m, day := civilFromDays(d)
		tm := time.Unix(d*86400, 0).UTC()
		if y != tm.Year() || m != int(tm.Month()) || day != tm.Day() {
			t.Fatalf("civilFromDays(%d) = %04d-%02d-%02d, want %s", d, y, m, day, tm.Format(time.DateOnly))
		}
		if got, ok := CivilDays(y, m, day); !ok || got != d {
			t.Fatalf("CivilDays(%04d-%02d-%02d) = %d, %v; want %d", y, m, day, got, ok, d)
		}
	}
	for _, c := range [][3]int{{2023, 2, 29}, {2100, 2, 29}, {2024, 2, 30}, {2024, 4, 31}, {2024, 0, 1}, {2024, 13, 1}, {2024, 1, 0}, {2024, 1, 32}} {
		if got, ok := CivilDays(c[0], c[1], c[2]); ok {
			t.Errorf("CivilDays(%04d-%02d-%02d) = %d, true; want false", c[0], c[1], c[2], got)
		}
	}
	if _, ok := CivilDays(2000, 2, 29); !ok {
		t.Error("CivilDays refuses 2000-02-29")
	}
}
