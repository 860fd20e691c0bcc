package turnstile

import (
	"testing"
	"time"
)

func TestWindowCountRoundTrip(t *testing.T) {
	c := WindowCount{Key: Key{CA: "A002", Unit: "R051", SCP: "02-00-00", Station: "59 ST, LEX", LineName: "NQR456W", Division: "BMT", Desc: "REGULAR"},
		End: time.Date(2024, 7, 23, 0, 0, 0, 0, time.UTC).Unix(), Entries: 10, Exits: 20}
	line := AppendWindowCount(nil, &c)
	if want := `A002,R051,02-00-00,"59 ST, LEX",NQR456W,BMT,07/23/2024,00:00:00,REGULAR,10,20`; string(line) != want {
		t.Fatalf("row %s, want %s", line, want)
	}
	got, err := ParseWindowCount(line)
	if err != nil || got != c {
		t.Fatalf("ParseWindowCount = %+v, %v; want %+v", got, err, c)
	}
	if _, err := ParseWindowCount([]byte("a,b,c")); err == nil {
		t.Fatal("a short row parsed")
	}
}

func TestAppendDateTimeMatchesTimePackage(t *testing.T) {
	for _, tm := range []time.Time{
		time.Unix(0, 0), time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), time.Date(2024, 7, 23, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 0, 1, 0, time.UTC), time.Date(2000, 3, 1, 12, 5, 9, 0, time.UTC), time.Date(2100, 12, 31, 1, 2, 3, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		got := string(appendDateTime(nil, tm.Unix()))
		if want := tm.Format("01/02/2006,15:04:05"); got != want {
			t.Errorf("appendDateTime(%s) = %s, want %s", tm, got, want)
		}
	}
	for d := int64(-800_000); d < 3_000_000; d += 997 { // every few days from 0160 to 9999
		tm := time.Unix(d*86400+3723, 0).UTC()
		if got, want := string(appendDateTime(nil, tm.Unix())), tm.Format("01/02/2006,15:04:05"); got != want {
			t.Fatalf("appendDateTime(%s) = %s, want %s", tm, got, want)
		}
	}
}

// TestCompareKeys checks the order of a window file's rows: field by field in
// KeyFields order, each field byte by byte, a shorter prefix first.
func TestCompareKeys(t *testing.T) {
	base := Key{CA: "A002", Unit: "R051", SCP: "02-00-00", Station: "59 ST", LineName: "NQR456W", Division: "BMT", Desc: "REGULAR"}
	with := func(f func(*Key)) Key { k := base; f(&k); return k }
	tests := []struct {
		name string
		a, b Key
		want int
	}{
		{name: "equal", a: base, b: base, want: 0},
		{name: "CA decides before UNIT", a: with(func(k *Key) { k.CA, k.Unit = "A001", "R999" }), b: base, want: -1},
		{name: "DESC decides last", a: base, b: with(func(k *Key) { k.Desc = "RECOVR AUD" }), want: 1},
		{name: "a prefix sorts first", a: with(func(k *Key) { k.SCP = "02-00" }), b: base, want: -1},
		{name: "field bounds, not the comma-joined text", a: with(func(k *Key) { k.CA = "A002!" }), b: base, want: 1},
		{name: "bytes, not letters", a: with(func(k *Key) { k.Station = "59 st" }), b: base, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CompareKeys(&tt.a, &tt.b); got != tt.want {
				t.Errorf("CompareKeys = %d, want %d", got, tt.want)
			}
			if got := CompareKeys(&tt.b, &tt.a); got != -tt.want {
				t.Errorf("CompareKeys swapped = %d, want %d", got, -tt.want)
			}
		})
	}
}
