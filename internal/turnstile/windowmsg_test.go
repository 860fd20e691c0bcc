package dashboard

import (
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// t0 is a window end: 2019-05-04 12:00:00 UTC.
var t0 = time.Date(2019, 5, 4, 12, 0, 0, 0, time.UTC).Unix()

func wc(station, lines, scp string, end, entries, exits int64) turnstile.WindowCount {
	return turnstile.WindowCount{
		Key: turnstile.Key{CA: "A002", Unit: "R051", SCP: scp, Station: station, LineName: lines, Division: "BMT", Desc: "REGULAR"},
		End: end, Entries: entries, Exits: exits,
	}
}

func row(station, lines, scp string, end, entries, exits int64) Row {
	return Row{WindowCount: wc(station, lines, scp, end, entries, exits), Start: end - 300}
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, c := range []turnstile.WindowCount{
		wc("59 ST", "NQR456W", "02-00-00", t0, 120, 340),
		wc(`TIMES SQ, "42 ST"`, "1237ACENQRSW", "01-00-01", t0+300, 0, 0),
		wc("34 ST-PENN STA", "ACE", "00-00-00", t0, -5, 9_000_000_000),
		wc(`A|B \ C`, "1|2", `\|`, t0, 1, 2), // separators and escapes inside fields
	} {
		key, value, headers := Encode(&c, 5*time.Minute)
		got, err := Decode(key, value, headers)
		if err != nil {
			t.Fatalf("Decode(%s): %v", value, err)
		}
		if got.WindowCount != c {
			t.Errorf("Decode(%s) = %+v, want %+v", value, got.WindowCount, c)
		}
		if got.Start != c.End-300 {
			t.Errorf("Start = %d, want %d", got.Start, c.End-300)
		}
	}
}

func TestDecodeContractExample(t *testing.T) {
	value := "A002,R051,02-00-00,59 ST,NQR456W,BMT,05/04/2019,12:05:00,REGULAR,17,23"
	key := "A002|R051|02-00-00|59 ST|NQR456W|BMT|REGULAR|1556971500"
	headers := []Header{{"window_start", []byte("2019-05-04T12:00:00Z")}, {"window_end", []byte("2019-05-04T12:05:00Z")}}
	got, err := Decode([]byte(key), []byte(value), headers)
	if err != nil {
		t.Fatal(err)
	}
	want := wc("59 ST", "NQR456W", "02-00-00", 1556971500, 17, 23)
	if got.WindowCount != want || got.Start != 1556971200 {
		t.Errorf("got %+v start %d, want %+v start 1556971200", got.WindowCount, got.Start, want)
	}
	// No key and no headers: the value alone is enough.
	if got, err := Decode(nil, []byte(value), nil); err != nil || got.WindowCount != want || got.Start != 0 {
		t.Errorf("value only: got %+v, %v", got, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	c := wc("59 ST", "NQR456W", "02-00-00", t0, 1, 2)
	key, value, headers := Encode(&c, 5*time.Minute)
	for _, tc := range []struct {
		name       string
		key, value string
		headers    []Header
		want       string
	}{
		{"empty value", "", "", nil, "empty"},
		{"too few fields", "", "A002,R051,02-00-00", nil, "fields"},
		{"index column", "", "0," + string(value), nil, "fields"},
		{"bad date", "", strings.Replace(string(value), "05/04/2019", "2019-05-04", 1), nil, "DATE"},
		{"bad entries", "", strings.Replace(string(value), ",1,2", ",x,2", 1), nil, "ENTRIES"},
		{"key of another window", strings.Replace(string(key), "|1556", "|1557", 1), string(value), nil, "does not match"},
		{"key of another turnstile", strings.Replace(string(key), "02-00-00", "02-00-01", 1), string(value), nil, "does not match"},
		{"bad window_end", "", string(value), []Header{{HeaderWindowEnd, []byte("noon")}}, "window_end"},
		{"window_end of another window", "", string(value), []Header{{HeaderWindowEnd, []byte("2019-05-04T12:05:00Z")}}, "does not match"},
		{"window_start after end", "", string(value), []Header{{HeaderWindowStart, []byte("2019-05-04T12:00:00Z")}}, "not before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.key), []byte(tc.value), tc.headers)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := Decode(key, value, headers); err != nil {
		t.Errorf("the good message: %v", err)
	}
}
