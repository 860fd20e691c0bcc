package turnstile

import (
	"math"
	"strconv"
	"testing"
)

func TestParseUint(t *testing.T) {
	tests := []struct {
		in   string
		max  uint64
		want uint64
		ok   bool
	}{
		{"0", 0, 0, true},
		{"7", 9, 7, true},
		{"12345", math.MaxUint64, 12345, true},
		{"000123", 123, 123, true},                        // leading zeros
		{"0000000000000000000000000000042", 42, 42, true}, // more leading zeros than a uint64 has digits
		{"2147483647", MaxCount, MaxCount, true},          // max itself
		{"2147483648", MaxCount, 0, false},                // max + 1
		{"10", 9, 0, false},                               // max + 1 with fewer digits
		{"1", 0, 0, false},                                // above a max of zero
		{"00", 0, 0, true},                                // zero under a max of zero
		{"9223372036854775807", math.MaxInt64, math.MaxInt64, true},
		{"9223372036854775808", math.MaxInt64, 0, false},
		{"9223372036854775808", 1 << 63, 1 << 63, true},
		{"9999999999999999999", math.MaxUint64, MaxParseUint, true},  // MaxParseUint
		{"09999999999999999999", math.MaxUint64, MaxParseUint, true}, // 20 digits, one a leading zero
		{"10000000000000000000", math.MaxUint64, 0, false},           // 20 significant digits
		{"18446744073709551615", math.MaxUint64, 0, false},           // the largest uint64
		{"18446744073709551616", math.MaxUint64, 0, false},           // beyond a uint64
		{"99999999999999999999", math.MaxUint64, 0, false},
		{"00000000000000000000000", math.MaxUint64, 0, true},
		{"0000000000000000000000x", math.MaxUint64, 0, false},
		{"", math.MaxUint64, 0, false},
		{"+1", math.MaxUint64, 0, false}, // no sign
		{"-1", math.MaxUint64, 0, false},
		{"-0", math.MaxUint64, 0, false},
		{" 1", math.MaxUint64, 0, false}, // no spaces
		{"1 ", math.MaxUint64, 0, false},
		{"1_000", math.MaxUint64, 0, false}, // no separators
		{"0x10", math.MaxUint64, 0, false},  // no base prefix
		{"1.5", math.MaxUint64, 0, false},
		{"/", math.MaxUint64, 0, false}, // the bytes just below '0' and above '9'
		{":", math.MaxUint64, 0, false},
		{"\x00", math.MaxUint64, 0, false},
		{"١", math.MaxUint64, 0, false}, // a non-ASCII digit
	}
	for _, tt := range tests {
		got, ok := ParseUint([]byte(tt.in), tt.max)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseUint(%q, %d) = %d, %v; want %d, %v", tt.in, tt.max, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParseUint checks ParseUint against strconv: it accepts exactly what
// strconv.ParseUint(s, 10, 64) accepts with a value no greater than max and
// MaxParseUint, and
// for a max within int64, exactly what strconv.ParseInt(s, 10, 64) accepts
// without a sign in range.
func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"0", "5", "0005", "2147483647", "2147483648", "18446744073709551615", "18446744073709551616", "-1", "+1", " 1", "1_0", "", "x"} {
		f.Add(s, uint64(MaxCount))
		f.Add(s, uint64(math.MaxUint64))
		f.Add(s, uint64(math.MaxInt64))
	}
	f.Fuzz(func(t *testing.T, s string, max uint64) {
		got, ok := ParseUint([]byte(s), max)
		want, err := strconv.ParseUint(s, 10, 64)
		wantOK := err == nil && want <= min(max, MaxParseUint)
		if !wantOK {
			want = 0
		}
		if got != want || ok != wantOK {
			t.Fatalf("ParseUint(%q, %d) = %d, %v; strconv.ParseUint says %d, %v", s, max, got, ok, want, wantOK)
		}
		if max > math.MaxInt64 {
			return
		}
		signed, err := strconv.ParseInt(s, 10, 64)
		signedOK := err == nil && s[0] != '+' && s[0] != '-' && uint64(signed) <= max
		if ok != signedOK || ok && got != uint64(signed) {
			t.Fatalf("ParseUint(%q, %d) = %d, %v; strconv.ParseInt says %d, %v (%v)", s, max, got, ok, signed, signedOK, err)
		}
	})
}

// FuzzParseInt checks the lake row's parseInt, ParseUint with a sign,
// against strconv.ParseInt, which it replaced.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "+0", "42", "-42", "+42", "-", "+", "", "--1", "+-1", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "007", "-007", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseInt([]byte(s))
		want, err := strconv.ParseInt(s, 10, 64)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("parseInt(%q) = %d, %v; strconv.ParseInt gives %d, %v", s, got, ok, want, err)
		}
	})
}

// The decimal parsers as they were before ParseUint, to show that the
// message parser's callers accept and reject what they did.

func oldParseCount(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n > MaxCount {
			return 0, false
		}
	}
	return n, true
}

func oldDigits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func oldParseClock(b []byte) (int64, bool) {
	if len(b) != 8 || b[2] != ':' || b[5] != ':' {
		return 0, false
	}
	hour, ok1 := oldDigits(b[0:2])
	minute, ok2 := oldDigits(b[3:5])
	sec, ok3 := oldDigits(b[6:8])
	if !(ok1 && ok2 && ok3) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	return int64(hour*3600 + minute*60 + sec), true
}

func oldParseDate(b []byte) (int64, bool) {
	if b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	year, ok1 := oldDigits(b[0:4])
	month, ok2 := oldDigits(b[5:7])
	day, ok3 := oldDigits(b[8:10])
	if !(ok1 && ok2 && ok3) {
		return 0, false
	}
	return CivilDays(year, month, day)
}

// FuzzCallersUnchanged checks the message's counts (ENTRIES, EXITS), clock
// and date against the parsers they had before ParseUint.
func FuzzCallersUnchanged(f *testing.F) {
	for _, s := range []string{"0", "0005", "2147483647", "2147483648", "99999999999999999999999", "-1", "+1", "", "10:01:00", "23:59:59", "24:00:00", "1a:00:00", "2024-07-22", "2024-02-30", "2024-13-01", "0000-00-00", "2024-7-022", "+024-07-22"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		n, ok := ParseUint(b, MaxCount) // as Parser.Parse calls it
		if wn, wok := oldParseCount(b); ok != wok || int64(n) != wn {
			t.Errorf("count %q: %d, %v; before: %d, %v", s, n, ok, wn, wok)
		}
		sec, ok := ParseClock(b)
		if wsec, wok := oldParseClock(b); ok != wok || sec != wsec {
			t.Errorf("clock %q: %d, %v; before: %d, %v", s, sec, ok, wsec, wok)
		}
		if len(b) == 10 { // parseDate's callers give it 10 bytes
			days, ok := parseDate(b)
			if wdays, wok := oldParseDate(b); ok != wok || ok && days != wdays {
				t.Errorf("date %q: %d, %v; before: %d, %v", s, days, ok, wdays, wok)
			}
		}
	})
}
