package turnstile

import (
	"strings"
	"testing"
	"time"
)

// wmEnd is a window end: 2019-05-04 12:00:00 UTC.
var wmEnd = time.Date(2019, 5, 4, 12, 0, 0, 0, time.UTC).Unix()

func wmRow(station, lines, scp string, end, entries, exits int64) WindowCount {
	return WindowCount{
		Key: Key{CA: "A002", Unit: "R051", SCP: scp, Station: station, LineName: lines, Division: "BMT", Desc: "REGULAR"},
		End: end, Entries: entries, Exits: exits,
	}
}

func TestWindowMessageRoundTrip(t *testing.T) {
	for _, c := range []WindowCount{
		wmRow("59 ST", "NQR456W", "02-00-00", wmEnd, 120, 340),
		wmRow(`TIMES SQ, "42 ST"`, "1237ACENQRSW", "01-00-01", wmEnd+300, 0, 0),
		wmRow("34 ST-PENN STA", "ACE", "00-00-00", wmEnd, -5, 9_000_000_000),
		wmRow(`A|B \ C`, "1|2", `\|`, wmEnd, 1, 2), // separators and escapes inside fields
	} {
		key, value, headers := EncodeWindowMessage(&c, 5*time.Minute)
		got, start, err := DecodeWindowMessage(key, value, headers)
		if err != nil {
			t.Fatalf("DecodeWindowMessage(%s): %v", value, err)
		}
		if got != c {
			t.Errorf("DecodeWindowMessage(%s) = %+v, want %+v", value, got, c)
		}
		if start != c.End-300 {
			t.Errorf("start = %d, want %d", start, c.End-300)
		}
	}
}

func TestWindowMessageContractExample(t *testing.T) {
	value := "A002,R051,02-00-00,59 ST,NQR456W,BMT,05/04/2019,12:05:00,REGULAR,17,23"
	key := "A002|R051|02-00-00|59 ST|NQR456W|BMT|REGULAR|1556971500"
	headers := []Header{{"window_start", []byte("2019-05-04T12:00:00Z")}, {"window_end", []byte("2019-05-04T12:05:00Z")}}
	got, start, err := DecodeWindowMessage([]byte(key), []byte(value), headers)
	if err != nil {
		t.Fatal(err)
	}
	want := wmRow("59 ST", "NQR456W", "02-00-00", 1556971500, 17, 23)
	if got != want || start != 1556971200 {
		t.Errorf("got %+v start %d, want %+v start 1556971200", got, start, want)
	}
	// No key and no headers: the value alone is enough.
	if got, start, err := DecodeWindowMessage(nil, []byte(value), nil); err != nil || got != want || start != 0 {
		t.Errorf("value only: got %+v start %d, %v", got, start, err)
	}
	// The encoder writes exactly the contract's bytes.
	k, v, hs := EncodeWindowMessage(&want, 5*time.Minute)
	if string(k) != key || string(v) != value || len(hs) != 2 ||
		hs[0].Key != headers[0].Key || string(hs[0].Value) != string(headers[0].Value) ||
		hs[1].Key != headers[1].Key || string(hs[1].Value) != string(headers[1].Value) {
		t.Errorf("EncodeWindowMessage = %q, %q, %q; want the contract example", k, v, hs)
	}
}

func TestDecodeWindowMessageRejects(t *testing.T) {
	c := wmRow("59 ST", "NQR456W", "02-00-00", wmEnd, 1, 2)
	key, value, headers := EncodeWindowMessage(&c, 5*time.Minute)
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
			_, _, err := DecodeWindowMessage([]byte(tc.key), []byte(tc.value), tc.headers)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, _, err := DecodeWindowMessage(key, value, headers); err != nil {
		t.Errorf("the good message: %v", err)
	}
}
