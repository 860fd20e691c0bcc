package mta

import (
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		width   int
		wantErr string
	}{
		{name: "mta", header: "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS", width: 11},
		{name: "mta trailing spaces", header: "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS                                                               \n", width: 11},
		{name: "pandas index C/A", header: ",C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS", width: 12},
		{name: "pandas index CA", header: ",CA,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS\r\n", width: 12},
		{name: "spaces around names", header: " C/A , UNIT,SCP ,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES ,EXITS ", width: 11},
		{name: "byte order mark", header: "\xef\xbb\xbfC/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS", width: 11},
		{name: "lower case and quoted", header: `"c/a","unit",scp,station,linename,division,date,time,desc,entries,exits`, width: 11},
		{name: "data.ny.gov names", header: "C/A,Unit,SCP,Station,Line Name,Division,Date,Time,Description,Entries,Exits", width: 11},
		{name: "other order", header: "UNIT,C/A,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,EXITS,ENTRIES", width: 11},
		{name: "missing EXITS", header: "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES", wantErr: "missing column(s) EXITS"},
		{name: "CA twice", header: "C/A,CA,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS", wantErr: "column C/A appears twice"},
		{name: "a data row", header: "A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,00:00:00,REGULAR,0007215740,0002448299", wantErr: "missing column(s)"},
		{name: "empty", header: "", wantErr: "missing column(s)"},
		{name: "unclosed quote", header: `"C/A,UNIT`, wantErr: "not closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader([]byte(tt.header))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseHeader error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			if h.Width() != tt.width {
				t.Errorf("Width = %d, want %d", h.Width(), tt.width)
			}
		})
	}
}

func TestParseRow(t *testing.T) {
	const mtaHeader = "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS"
	const pandasHeader = ",CA,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS"
	at := func(s string) int64 {
		tm, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.Unix()
	}
	type want struct {
		ca, unit, scp, station, line, div, desc string
		time                                    int64
		entries, exits                          int64
	}
	tests := []struct {
		name    string
		header  string
		row     string
		want    want
		wantErr string
	}{
		{
			name: "mta", header: mtaHeader,
			row:  "A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,04:00:00,REGULAR,0007215740,0002448299\n",
			want: want{"A002", "R051", "02-00-00", "59 ST", "NQR456W", "BMT", "REGULAR", at("2024-07-20 04:00:00"), 7215740, 2448299},
		},
		{
			name: "pandas index and trailing spaces", header: pandasHeader,
			row:  "17,R238,R046,00-03-00 ,GRD CNTRL-42 ST,4567S,IRT,12/31/2023,23:59:59,RECOVR AUD   ,1,0  \r\n",
			want: want{"R238", "R046", "00-03-00", "GRD CNTRL-42 ST", "4567S", "IRT", "RECOVR AUD", at("2023-12-31 23:59:59"), 1, 0},
		},
		{
			name: "quoted station with a comma", header: mtaHeader,
			row:  `A002,R051,02-00-00,"59 ST, ""LEX""",NQR456W,BMT,02/29/2024,00:00:00,REGULAR,5,6`,
			want: want{"A002", "R051", "02-00-00", `59 ST, "LEX"`, "NQR456W", "BMT", "REGULAR", at("2024-02-29 00:00:00"), 5, 6},
		},
		{name: "too few fields", header: mtaHeader, row: "A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,04:00:00,REGULAR,0007215740", wantErr: "got 10 fields, want 11"},
		{name: "pandas row without index", header: pandasHeader, row: "A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,04:00:00,REGULAR,1,2", wantErr: "got 11 fields, want 12"},
		{name: "ISO date", header: mtaHeader, row: "A002,R051,02-00-00,59 ST,NQR456W,BMT,2024-07-20,04:00:00,REGULAR,1,2", wantErr: "DATE"},
		{name: "February 30th", header: mtaHeader, row: "A002,R051,02-00-00,59 ST,NQR456W,BMT,02/30/2024,04:00:00,REGULAR,1,2", wantErr: "DATE"},
		{name: "hour 24", header: mtaHeader, row: "A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,24:00:00,REGULAR,1,2", wantErr: "TIME"},
		{name: "negative entries", header: mtaHeader, row: "A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,04:00:00,REGULAR,-1,2", wantErr: "ENTRIES"},
		{name: "decimal exits", header: mtaHeader, row: "A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,04:00:00,REGULAR,1,2.0", wantErr: "EXITS"},
		{name: "19 digit entries", header: mtaHeader, row: "A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,04:00:00,REGULAR,9999999999999999999,2", wantErr: "ENTRIES"},
		{name: "empty SCP", header: mtaHeader, row: "A002,R051, ,59 ST,NQR456W,BMT,07/20/2024,04:00:00,REGULAR,1,2", wantErr: "empty C/A, UNIT or SCP"},
		{name: "bare quote", header: mtaHeader, row: `A002,R051,02-00-00,59 "ST,NQR456W,BMT,07/20/2024,04:00:00,REGULAR,1,2`, wantErr: "bare quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader([]byte(tt.header))
			if err != nil {
				t.Fatal(err)
			}
			p := RowParser{Header: h}
			var r Row
			err = p.ParseRow([]byte(tt.row), &r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRow error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRow: %v", err)
			}
			got := want{string(r.CA), string(r.Unit), string(r.SCP), string(r.Station), string(r.LineName), string(r.Division), string(r.Desc), r.Time, r.Entries, r.Exits}
			if got != tt.want {
				t.Errorf("ParseRow =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// FuzzParseRow checks that no header and row crash the parser, and that an
// accepted row holds what a turnstile record needs. Its seeds run in plain
// go test.
func FuzzParseRow(f *testing.F) {
	f.Add("C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS                    ",
		"A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,04:00:00,REGULAR,0007215740,0002448299")
	f.Add(",C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS",
		"3,A002,R051,02-00-00,59 ST,NQR456W,BMT,07/20/2024,09:13:27,RECOVR AUD,0007215740,0002448299\r\n")
	f.Add(",CA,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS",
		`0,A002,R051,02-00-00,"59 ST, ""X""",NQR456W,BMT,02/29/2024,00:00:00,REGULAR,1,2`)
	f.Add("C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS", `A002,"R051`)
	f.Add("\"", ",,,,,,,,,,")
	f.Fuzz(func(t *testing.T, header, row string) {
		h, err := ParseHeader([]byte(header))
		if err != nil {
			return
		}
		if h.Width() < numCols || h.Width() > maxFields {
			t.Fatalf("header %q: width %d out of range", header, h.Width())
		}
		p := RowParser{Header: h}
		var r Row
		if err := p.ParseRow([]byte(row), &r); err != nil {
			return
		}
		if len(r.CA) == 0 || len(r.Unit) == 0 || len(r.SCP) == 0 {
			t.Fatalf("row %q: accepted with an empty turnstile key", row)
		}
		if r.Entries < 0 || r.Exits < 0 {
			t.Fatalf("row %q: negative counter %d/%d", row, r.Entries, r.Exits)
		}
		if tm := time.Unix(r.Time, 0).UTC(); tm.Year() < 0 || tm.Year() > 9999 {
			t.Fatalf("row %q: time %v out of range", row, tm)
		}
	})
}

func TestParseCounter(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"0007215740", 7215740, true},
		{"999999999999999999", 999999999999999999, true}, // 18 digits
		{"000000000000000001", 1, true},                  // 18 digits, leading zeros
		{"0000000000000000001", 0, false},                // 19 digits: the limit counts leading zeros
		{"1000000000000000000", 0, false},
		{"", 0, false},
		{"+1", 0, false},
		{"-1", 0, false},
		{"1 ", 0, false},
		{"1e3", 0, false},
	}
	for _, tt := range tests {
		if got, ok := parseCounter([]byte(tt.in)); got != tt.want || ok != tt.ok {
			t.Errorf("parseCounter(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// oldParseCounter and oldParseDate are the parsers as they were before
// turnstile.ParseUint, to show that the file reader accepts and rejects what
// it did.
func oldParseCounter(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
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

func oldParseDate(b []byte) (int64, bool) {
	if len(b) != 10 || b[2] != '/' || b[5] != '/' {
		return 0, false
	}
	month, ok1 := oldDigits(b[0:2])
	day, ok2 := oldDigits(b[3:5])
	year, ok3 := oldDigits(b[6:10])
	if !(ok1 && ok2 && ok3) {
		return 0, false
	}
	return turnstile.CivilDays(year, month, day)
}

// FuzzCounterAndDateUnchanged checks ENTRIES, EXITS and DATE against the
// parsers they had before turnstile.ParseUint.
func FuzzCounterAndDateUnchanged(f *testing.F) {
	for _, s := range []string{"0", "0007215740", "999999999999999999", "0000000000000000001", "-1", "+1", "", "07/20/2024", "02/30/2024", "13/01/2024", "00/00/0000", "7/020/2024", "07/20/+024", "07-20-2024"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		n, ok := parseCounter(b)
		if wn, wok := oldParseCounter(b); ok != wok || n != wn {
			t.Errorf("counter %q: %d, %v; before: %d, %v", s, n, ok, wn, wok)
		}
		days, ok := parseDate(b)
		if wdays, wok := oldParseDate(b); ok != wok || days != wdays {
			t.Errorf("date %q: %d, %v; before: %d, %v", s, days, ok, wdays, wok)
		}
	})
}
