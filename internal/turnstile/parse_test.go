package turnstile

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const good = "A002,R051,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00"

func TestParseValid(t *testing.T) {
	want := Record{
		CA: "A002", Unit: "R051", SCP: "02-00-00", Station: "59 ST", LineName: "NQR456W", Division: "BMT",
		Date: "07-22-24", Time: "10:01:00", Desc: "REGULAR", Entries: 5, Exits: 3, ID: "id1",
		Timestamp: time.Date(2024, 7, 22, 10, 1, 0, 0, time.UTC),
	}
	tests := []struct {
		name  string
		value string
		edit  func(r *Record)
	}{
		{name: "plain", value: good},
		{name: "trailing newline", value: good + "\n"},
		{name: "trailing CRLF", value: good + "\r\n"},
		{name: "JSON string from the Python producer", value: `"` + good + `"`},
		{name: "JSON string with escapes", value: `"A002,R051,02-00-00,\"59 ST\",NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00"`},
		{name: "JSON unicode escape", value: `"A002,R051,02-00-00,CAF\u00c9,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00"`,
			edit: func(r *Record) { r.Station = "CAFÉ" }},
		{name: "quoted fields with a comma and an escaped quote",
			value: `A002,R051,02-00-00,"59 ST, ""LEX""",NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00`,
			edit:  func(r *Record) { r.Station = `59 ST, "LEX"` }},
		{name: "every field quoted", value: `"A002","R051","02-00-00","59 ST","NQR456W","BMT","07-22-24","10:01:00","REGULAR","5","3","id1","2024-07-22 10:01:00"`},
		{name: "spaces around fields are trimmed", value: " A002 , R051 ,02-00-00,  59 ST ,NQR456W,BMT,07-22-24,10:01:00, REGULAR ,  5 ,3 , id1 , 2024-07-22 10:01:00 "},
		{name: "spaces around a quoted field", value: `A002,R051,02-00-00, "59 ST" ,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00`},
		{name: "largest count", value: "A002,R051,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,2147483647,0,id1,2024-07-22 10:01:00",
			edit: func(r *Record) { r.Entries, r.Exits = MaxCount, 0 }},
		{name: "leading zeros", value: "A002,R051,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,0005,03,id1,2024-07-22 10:01:00"},
		{name: "leap day", value: "A002,R051,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-02-29 23:59:59",
			edit: func(r *Record) { r.Timestamp = time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC) }},
		{name: "DATE and TIME are carried, not checked", value: "A002,R051,02-00-00,59 ST,NQR456W,BMT,,,REGULAR,5,3,id1,2024-07-22 10:01:00",
			edit: func(r *Record) { r.Date, r.Time = "", "" }},
		{name: "newline inside a quoted field", value: "A002,R051,02-00-00,\"59\nST\",NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00",
			edit: func(r *Record) { r.Station = "59\nST" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.value))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			w := want
			if tt.edit != nil {
				tt.edit(&w)
			}
			if got != w {
				t.Fatalf("got  %+v\nwant %+v", got, w)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	replace := func(field int, v string) string {
		f := strings.Split(good, ",")
		f[field] = v
		return strings.Join(f, ",")
	}
	tests := []struct {
		name  string
		value string
		want  Reason
	}{
		{"empty value", "", ReasonFieldCount},
		{"12 fields", strings.TrimSuffix(good, ",2024-07-22 10:01:00"), ReasonFieldCount},
		{"14 fields", good + ",extra", ReasonFieldCount},
		{"one field", "hello", ReasonFieldCount},
		{"unterminated quote", `A002,"R051,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00`, ReasonCSV},
		{"text after closing quote", `A002,"R051"x,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00`, ReasonCSV},
		{"bare quote", `A002,R0"51,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00`, ReasonCSV},
		{"two lines", good + "\n" + good, ReasonCSV},
		{"bad JSON escape", `"A002,R051\q,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00"`, ReasonJSON},
		{"bad JSON unicode escape", `"A002,R051\u12,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00"`, ReasonJSON},
		{"invalid UTF-8", replace(FieldStation, "59 \xff"), ReasonEncoding},
		{"entries not a number", replace(FieldEntries, "five"), ReasonEntries},
		{"entries empty", replace(FieldEntries, ""), ReasonEntries},
		{"entries negative", replace(FieldEntries, "-1"), ReasonEntries},
		{"entries fraction", replace(FieldEntries, "1.5"), ReasonEntries},
		{"entries too large", replace(FieldEntries, "2147483648"), ReasonEntries},
		{"entries huge", replace(FieldEntries, "99999999999999999999999"), ReasonEntries},
		{"exits not a number", replace(FieldExits, "x"), ReasonExits},
		{"exits too large", replace(FieldExits, "4294967296"), ReasonExits},
		{"empty ID", replace(FieldID, ""), ReasonID},
		{"blank ID", replace(FieldID, "   "), ReasonID},
		{"timestamp empty", replace(FieldTimestamp, ""), ReasonTimestamp},
		{"timestamp without seconds", replace(FieldTimestamp, "2024-07-22 10:01"), ReasonTimestamp},
		{"timestamp with T", replace(FieldTimestamp, "2024-07-22T10:01:00"), ReasonTimestamp},
		{"timestamp MTA date", replace(FieldTimestamp, "07/22/2024 10:01:00"), ReasonTimestamp},
		{"timestamp month 13", replace(FieldTimestamp, "2024-13-22 10:01:00"), ReasonTimestamp},
		{"timestamp February 30", replace(FieldTimestamp, "2024-02-30 10:01:00"), ReasonTimestamp},
		{"timestamp February 29 of a common year", replace(FieldTimestamp, "2023-02-29 10:01:00"), ReasonTimestamp},
		{"timestamp hour 24", replace(FieldTimestamp, "2024-07-22 24:00:00"), ReasonTimestamp},
		{"timestamp with zone", replace(FieldTimestamp, "2024-07-22 10:01:00Z"), ReasonTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.value))
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseTimestampMatchesTimePackage(t *testing.T) {
	for _, s := range []string{"1970-01-01 00:00:00", "1969-12-31 23:59:59", "2000-02-29 12:00:00", "2024-07-22 10:01:00", "2100-03-01 00:00:00", "0001-01-01 00:00:00", "9999-12-31 23:59:59"} {
		want, err := time.Parse(TimestampLayout, s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := ParseTimestamp([]byte(s))
		if !ok || got != want.Unix() {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d", s, got, ok, want.Unix())
		}
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	var p Parser
	var m Message
	values := [][]byte{[]byte(good), []byte(`"` + good + `"`), []byte(`A002,R051,02-00-00,"59 ST, ""LEX""",NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00`)}
	for _, v := range values {
		_ = p.Parse(v, &m) // warm the scratch buffers
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, v := range values {
			if err := p.Parse(v, &m); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("Parse allocates %.1f times per run, want 0", allocs)
	}
}

// FuzzParse checks that Parse never panics, that what it accepts is valid, and
// that a record it accepts survives AppendCSV and Parse unchanged. Its seed
// corpus runs in every go test.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		good, `"` + good + `"`, "", ",,,,,,,,,,,,", `"a""b",c`, `"unterminated`, "a\nb", `"\u00e9\ud83d\ude00"`,
		`A002,R051,02-00-00,"59 ST, ""LEX""",NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00`,
		"A002,R051,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,2147483648,3,id1,2024-07-22 10:01:00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		rec, err := Parse(value)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if rec.Entries < 0 || rec.Entries > MaxCount || rec.Exits < 0 || rec.Exits > MaxCount || rec.ID == "" {
			t.Fatalf("accepted an invalid record: %+v", rec)
		}
		if !utf8.ValidString(rec.Station) {
			t.Fatalf("accepted invalid UTF-8: %q", rec.Station)
		}
		again, err := Parse(AppendCSV(nil, &rec))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", AppendCSV(nil, &rec), err)
		}
		if again != rec {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", rec, again)
		}
	})
}

// TestParserRemembersDates checks that a Parser's cached day number follows
// the date: records alternating between days, and a bad date after a good
// one, parse as they do with a fresh Parser.
func TestParserRemembersDates(t *testing.T) {
	var p Parser
	var m Message
	for _, ts := range []string{
		"2024-07-22 10:01:00", "2024-07-22 23:59:59", "2024-07-23 00:00:00", "2024-07-22 00:00:01",
		"2024-02-30 10:00:00", "2024-07-22 10:01:00", "1969-12-31 23:59:59", "2024-07-22 24:00:00", "2024-07-22 10:01:00",
	} {
		line := strings.Replace(good, "2024-07-22 10:01:00", ts, 1)
		err := p.Parse([]byte(line), &m)
		want, wantErr := Parse([]byte(line))
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%s: Parser after others says %v, a fresh one %v", ts, err, wantErr)
		}
		if err == nil && m.Timestamp != want.Timestamp.Unix() {
			t.Fatalf("%s: Parser after others gives %d, a fresh one %d", ts, m.Timestamp, want.Timestamp.Unix())
		}
		if tm, perr := time.Parse(TimestampLayout, ts); (perr == nil) != (err == nil) || (err == nil && tm.Unix() != m.Timestamp) {
			t.Fatalf("%s: Parser says %d, %v; time.Parse says %v, %v", ts, m.Timestamp, err, tm, perr)
		}
	}
}
