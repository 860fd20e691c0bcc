package turnstile

import (
	"bytes"
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

// FuzzSplitASCII checks that the eight-bytes-at-a-time splitter agrees with
// the general one on every line it accepts as plain, and only refuses lines
// that hold a quote, a control byte or a non-ASCII byte.
func FuzzSplitASCII(f *testing.F) {
	for _, s := range []string{
		good, "", ",", "a,b", " a , b ,c ", "\ta\t,,", "1234567,", "12345678,9", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p",
		"a\"b", "a\nb", "a\rb", "é,b", "0123456789abcdef,0123456789abcdef,", "\x00,\x7f",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast, slow [NumFields][]byte
		n, plain := splitASCII(line, fast[:])
		if !plain {
			if !bytes.ContainsRune(line, '"') && !hasSpecial(line) {
				t.Fatalf("splitASCII refused the plain line %q", line)
			}
			return
		}
		if bytes.ContainsRune(line, '"') || hasSpecial(line) {
			t.Fatalf("splitASCII accepted %q", line)
		}
		var sp FieldSplitter
		want, err := sp.splitQuoted(line, slow[:])
		if err != nil {
			t.Fatalf("the general splitter refused the plain line %q: %v", line, err)
		}
		if n != want {
			t.Fatalf("%q: splitASCII found %d fields, the general splitter %d", line, n, want)
		}
		for i := range min(n, NumFields) {
			if !bytes.Equal(fast[i], slow[i]) {
				t.Fatalf("%q: field %d is %q, the general splitter says %q", line, i, fast[i], slow[i])
			}
		}
	})
}

// hasSpecial reports whether b holds a control byte or a non-ASCII byte.
func hasSpecial(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x80 {
			return true
		}
	}
	return false
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

// keyOf parses a value and returns its AppendKey encoding and key fields.
func keyOf(t *testing.T, value string) (string, [len(KeyFields)]string, bool) {
	t.Helper()
	var p Parser
	var m Message
	if err := p.Parse([]byte(value), &m); err != nil {
		return "", [len(KeyFields)]string{}, false
	}
	var fields [len(KeyFields)]string
	for i, fi := range KeyFields {
		fields[i] = string(m.Fields[fi])
	}
	return string(m.AppendKey(nil)), fields, true
}

// TestAppendKey checks that the key encoding is the same whichever path a
// value took through the parser (plain, trimmed, quoted, JSON), and differs
// whenever a key field differs, commas and NUL bytes included.
func TestAppendKey(t *testing.T) {
	const tail = ",07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00"
	same := [][]string{
		{
			"A002,R051,02-00-00,59 ST,NQR456W,BMT" + tail,
			" A002 ,R051,02-00-00,59 ST,NQR456W, BMT" + tail,
			`"A002","R051",02-00-00,"59 ST",NQR456W,BMT` + tail,
			`"A002,R051,02-00-00,59 ST,NQR456W,BMT` + tail + `"`,
			"A002,R051,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00, REGULAR ,5,3,id2,2024-07-23 10:01:00",
		},
		{
			`A002,R051,02-00-00,"59 ST, LEX",NQR456W,BMT` + tail,
			` A002,R051,02-00-00, "59 ST, LEX" ,NQR456W,BMT` + tail,
		},
		{"\x00A,R051,02-00-00,59 ST,NQR456W,BMT" + tail, "\"\x00A\",R051,02-00-00,59 ST,NQR456W,BMT" + tail},
		{"é,R051,02-00-00,59 ST,NQR456W,BMT" + tail, "\"é\",R051,02-00-00,59 ST,NQR456W,BMT" + tail},
	}
	distinct := []string{
		"A002,R051,02-00-00,59 ST,NQR456W,BMT" + tail,
		`"A002,R051",02-00-00,59 ST,NQR456W,BMT,X` + tail, // joined by commas, these two
		`A002,"R051,02-00-00",59 ST,NQR456W,BMT,X` + tail, // would read the same
		`A002,R051,02-00-00,59 ST,NQR456W,X` + tail,
		`A002,R051,02-00-00,"59 ST, LEX",NQR456W,BMT` + tail,
		`A002,R051,02-00-00,59 ST,"LEX,NQR456W",BMT` + tail,
		"\x00A,R051,02-00-00,59 ST,NQR456W,BMT" + tail,
		",R051,02-00-00,59 ST,NQR456W,BMT" + tail,
		"A002,R051,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,RECOVR AUD,5,3,id1,2024-07-22 10:01:00",
		"é,R051,02-00-00,59 ST,NQR456W,BMT" + tail,
	}
	for _, group := range same {
		want, wantFields, ok := keyOf(t, group[0])
		if !ok {
			t.Fatalf("%q does not parse", group[0])
		}
		for _, v := range group[1:] {
			got, fields, ok := keyOf(t, v)
			if !ok {
				t.Fatalf("%q does not parse", v)
			}
			if fields != wantFields {
				t.Fatalf("%q has key fields %q, want %q", v, fields, wantFields)
			}
			if got != want {
				t.Errorf("%q: key %q, but %q gives %q", v, got, group[0], want)
			}
		}
	}
	seen := map[string]string{}
	for _, v := range distinct {
		key, _, ok := keyOf(t, v)
		if !ok {
			t.Fatalf("%q does not parse", v)
		}
		if other, dup := seen[key]; dup {
			t.Errorf("%q and %q have different key fields but the same key %q", v, other, key)
		}
		seen[key] = v
	}
}

// FuzzAppendKey checks that two values that parse have the same key
// encoding exactly when their key fields are equal.
func FuzzAppendKey(f *testing.F) {
	f.Add([]byte(good), []byte(" "+good))
	f.Add([]byte(good), []byte(`"`+good+`"`))
	f.Add([]byte(`"A002,R051",02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00`),
		[]byte(`A002,"R051,02-00-00",59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		keyA, fieldsA, okA := keyOf(t, string(a))
		keyB, fieldsB, okB := keyOf(t, string(b))
		if !okA || !okB {
			return
		}
		if (keyA == keyB) != (fieldsA == fieldsB) {
			t.Fatalf("fields %q and %q, keys %q and %q", fieldsA, fieldsB, keyA, keyB)
		}
	})
}
