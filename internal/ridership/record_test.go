package ridership

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

func testRecord() Record {
	ts := time.Date(2025, 1, 14, 8, 0, 0, 0, time.UTC).Unix()
	return Record{
		ID:        RecordID(ts, "611", "omny", "OMNY - Full Fare"),
		Timestamp: ts, StationComplexID: "611", StationComplex: "Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)",
		Borough: "Manhattan", PaymentMethod: "omny", FareClassCategory: "OMNY - Full Fare", Ridership: 1234, Transfers: 56,
	}
}

func TestRecordIDIsStable(t *testing.T) {
	ts := time.Date(2025, 1, 14, 8, 0, 0, 0, time.UTC).Unix()
	// The golden ID: IDs must never change across releases, or a restart
	// after an upgrade would re-send rows the consumer cannot recognise.
	const want = "44879fd7-5a42-5608-98b8-5e8a0db93a09"
	if got := RecordID(ts, "611", "omny", "OMNY - Full Fare"); got != want {
		t.Errorf("RecordID = %s, want %s", got, want)
	}
	// ... which is the UUIDv5 of the documented name, as the uuid package
	// computes it.
	if u := uuid.NewSHA1(turnstile.IDNamespace, []byte("ridership|2025-01-14 08:00:00|611|omny|OMNY - Full Fare")); u.String() != want {
		t.Errorf("uuid.NewSHA1 of the documented name = %s, want %s", u, want)
	}
	// Every key field changes the ID.
	base := RecordID(ts, "611", "omny", "OMNY - Full Fare")
	for name, id := range map[string]string{
		"timestamp": RecordID(ts+3600, "611", "omny", "OMNY - Full Fare"),
		"complex":   RecordID(ts, "610", "omny", "OMNY - Full Fare"),
		"payment":   RecordID(ts, "611", "metrocard", "OMNY - Full Fare"),
		"fare":      RecordID(ts, "611", "omny", "OMNY - Students"),
	} {
		if id == base {
			t.Errorf("changing the %s does not change the ID", name)
		}
	}
}

func TestValueRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Record)
		value string
	}{
		{"commas in the name are quoted", func(*Record) {},
			`611,"Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)",Manhattan,omny,OMNY - Full Fare,2025-01-14 08:00:00,1234,56,`},
		{"quotes are doubled", func(r *Record) { r.StationComplex = `say "hi"` },
			`611,"say ""hi""",Manhattan,omny,OMNY - Full Fare,2025-01-14 08:00:00,1234,56,`},
		{"spaces are kept", func(r *Record) { r.Borough = " Queens " },
			`611,"Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)", Queens ,omny,OMNY - Full Fare,2025-01-14 08:00:00,1234,56,`},
		{"empty borough, zero counts", func(r *Record) { r.Borough, r.Ridership, r.Transfers = "", 0, 0 },
			`611,"Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)",,omny,OMNY - Full Fare,2025-01-14 08:00:00,0,0,`},
		{"line break in a name", func(r *Record) { r.StationComplex = "a\nb" },
			"611,\"a\nb\",Manhattan,omny,OMNY - Full Fare,2025-01-14 08:00:00,1234,56,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRecord()
			tt.edit(&r)
			got := string(Encode(&r))
			if want := tt.value + r.ID; got != want {
				t.Fatalf("Encode =\n%s\nwant\n%s", got, want)
			}
			var back Record
			if err := Parse([]byte(got+"\n"), &back); err != nil {
				t.Fatalf("Parse(Encode): %v", err)
			}
			if back != r {
				t.Errorf("round trip: got %+v, want %+v", back, r)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	good := string(Encode(ptr(testRecord())))
	id := testRecord().ID
	tests := []struct {
		name, value, want string
	}{
		{"empty", "", "fields"},
		{"too few fields", "611,x,Manhattan,omny,f,2025-01-14 08:00:00,1,2", "8 fields"},
		{"too many fields", good + ",x", "more than 9"},
		{"bad timestamp", "611,x,M,omny,f,2025-02-30 08:00:00,1,2," + id, "transit_timestamp"},
		{"API timestamp form", "611,x,M,omny,f,2025-01-14T08:00:00.000,1,2," + id, "transit_timestamp"},
		{"negative ridership", "611,x,M,omny,f,2025-01-14 08:00:00,-1,2," + id, "ridership"},
		{"decimal ridership", "611,x,M,omny,f,2025-01-14 08:00:00,1.0,2," + id, "ridership"},
		{"spaced transfers", "611,x,M,omny,f,2025-01-14 08:00:00,1, 2," + id, "transfers"},
		{"19 digits", "611,x,M,omny,f,2025-01-14 08:00:00,1000000000000000000,2," + id, "ridership"},
		{"empty complex id", ",x,M,omny,f,2025-01-14 08:00:00,1,2," + id, "station_complex_id is empty"},
		{"empty payment", "611,x,M,,f,2025-01-14 08:00:00,1,2," + id, "payment_method is empty"},
		{"empty fare class", "611,x,M,omny,,2025-01-14 08:00:00,1,2," + id, "fare_class_category is empty"},
		{"upper-case id", "611,x,M,omny,f,2025-01-14 08:00:00,1,2," + strings.ToUpper(id), "id"},
		{"no id", "611,x,M,omny,f,2025-01-14 08:00:00,1,2,", "id"},
		{"unterminated quote", `611,"x,M,omny,f,2025-01-14 08:00:00,1,2,` + id, "unterminated"},
		{"text after quote", `611,"x"y,M,omny,f,2025-01-14 08:00:00,1,2,` + id, "after the closing quote"},
		{"bare quote", `611,x"y,M,omny,f,2025-01-14 08:00:00,1,2,` + id, "unquoted"},
		{"two line endings", good + "\n\n", "unquoted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			err := Parse([]byte(tt.value), &r)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.value, r)
			}
			if !errors.Is(err, ErrValue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want ErrValue mentioning %q", tt.value, err, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzParse: whatever Parse accepts, Encode writes back in a form Parse
// reads as the same record, and that form is stable.
func FuzzParse(f *testing.F) {
	f.Add(string(Encode(ptr(testRecord()))))
	f.Add(`"6""1",x,,omny,f,2025-01-14 08:00:00,0,0,c5cc1c4b-4a66-5e8c-8e0e-0d2aa5fe6a0a` + "\r\n")
	f.Add(`a,"b` + "\n" + `c",d,e,f,9999-12-31 23:59:59,999999999999999999,1,00000000-0000-0000-0000-000000000000`)
	f.Fuzz(func(t *testing.T, value string) {
		var r Record
		if err := Parse([]byte(value), &r); err != nil {
			return
		}
		enc := Encode(&r)
		var back Record
		if err := Parse(enc, &back); err != nil {
			t.Fatalf("Parse(Encode(Parse(%q))) = %v; encoded %q", value, err, enc)
		}
		if back != r {
			t.Fatalf("round trip of %q: %+v, want %+v", value, back, r)
		}
		if again := Encode(&back); string(again) != string(enc) {
			t.Fatalf("Encode not stable: %q then %q", enc, again)
		}
	})
}

// FuzzRecordRoundTrip: every valid Record survives Encode then Parse.
func FuzzRecordRoundTrip(f *testing.F) {
	r := testRecord()
	f.Add(r.Timestamp, r.StationComplexID, r.StationComplex, r.Borough, r.PaymentMethod, r.FareClassCategory, r.Ridership, r.Transfers)
	f.Fuzz(func(t *testing.T, ts int64, id, name, borough, pm, fc string, rid, tr int64) {
		minTS := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		maxTS := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
		if ts < minTS || ts > maxTS || id == "" || pm == "" || fc == "" || rid < 0 || tr < 0 || rid >= 1e18 || tr >= 1e18 {
			return // not a valid Record
		}
		r := Record{ID: RecordID(ts, id, pm, fc), Timestamp: ts, StationComplexID: id, StationComplex: name, Borough: borough,
			PaymentMethod: pm, FareClassCategory: fc, Ridership: rid, Transfers: tr}
		var back Record
		if err := Parse(Encode(&r), &back); err != nil {
			t.Fatalf("Parse(Encode(%+v)) = %v", r, err)
		}
		if back != r {
			t.Fatalf("round trip: %+v, want %+v", back, r)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	r := testRecord()
	r.StationComplex = "Grand Central-42 St (S/4/5/6/7)" // the common, unquoted case
	plain := Encode(&r)
	quoted := Encode(ptr(testRecord()))
	for _, bc := range []struct {
		name  string
		value []byte
	}{{"plain", plain}, {"quoted", quoted}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.value)))
			var out Record
			for b.Loop() {
				if err := Parse(bc.value, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	r := testRecord()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendValue(buf[:0], &r)
	}
}
