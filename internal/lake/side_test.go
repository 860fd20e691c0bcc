package lake

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestSideRoundTrip(t *testing.T) {
	p3 := int32(3)
	recs := []SideRecord{
		{Reason: "field_count", Detail: "got 12 fields, want 13", Source: "p3", Partition: &p3, Offset: 42,
			Value: `A002,R051,02-00-00,59 ST,"a <b> & c"`},
		{Reason: "bad_encoding", Detail: "value is not valid UTF-8", Source: "p3", Partition: &p3, Offset: 43,
			Value: "A002,\xff\xfe,\x00end\n"},
		{Reason: "late", Source: "input", Offset: 7, Value: "", WindowEnd: "2024-07-22T10:15:00Z"},
	}
	var buf bytes.Buffer
	if err := EncodeSide(&buf, recs); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSide(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("got %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		g, w := got[i], recs[i]
		if g.Value != w.Value || g.Reason != w.Reason || g.Detail != w.Detail || g.Source != w.Source ||
			g.Offset != w.Offset || g.WindowEnd != w.WindowEnd || (g.Partition == nil) != (w.Partition == nil) ||
			(g.Partition != nil && *g.Partition != *w.Partition) {
			t.Errorf("record %d: got %+v, want %+v", i, g, w)
		}
	}

	text := gunzipT(t, buf.Bytes())
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got %q", text)
	}
	wantLines := []string{
		`{"reason":"field_count","detail":"got 12 fields, want 13","source":"p3","partition":3,"offset":42,"value":"A002,R051,02-00-00,59 ST,\"a <b> & c\""}`,
		`{"reason":"bad_encoding","detail":"value is not valid UTF-8","source":"p3","partition":3,"offset":43,"value_base64":"QTAwMiz//iwAZW5kCg=="}`,
		`{"reason":"late","source":"input","offset":7,"value":"","window_end":"2024-07-22T10:15:00Z"}`,
	}
	if !slices.Equal(lines, wantLines) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("invalid JSON line %s", l)
		}
	}

	var again bytes.Buffer
	if err := EncodeSide(&again, recs); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Errorf("encoding is not deterministic (%v)", err)
	}
}

func TestDecodeSideRejects(t *testing.T) {
	for _, tt := range []struct{ name, text, want string }{
		{"not JSON", "nope\n", "line 1"},
		{"no value", `{"reason":"x","source":"p0","offset":1}` + "\n", "no value"},
		{"both values", `{"reason":"x","source":"p0","offset":1,"value":"a","value_base64":"YQ=="}` + "\n", "both"},
		{"bad base64", `{"reason":"x","source":"p0","offset":1,"value_base64":"!!"}` + "\n", "value_base64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeSide(gz(t, tt.text)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeSide error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	if recs, err := DecodeSide(gz(t, "")); err != nil || len(recs) != 0 {
		t.Errorf("empty side file: %v, %v", recs, err)
	}
}

// TestSideRecordJSON checks the one encoding of a side record: MarshalJSON is
// a side file's line without its line end, json.Marshal and json.Unmarshal go
// through it, and every value round-trips, valid UTF-8 or not.
func TestSideRecordJSON(t *testing.T) {
	p0 := int32(0)
	for _, tt := range []struct {
		name string
		rec  SideRecord
		want string
	}{
		{"utf-8", SideRecord{Reason: "field_count", Source: "p0", Partition: &p0, Offset: 1, Value: "a <b> & c"},
			`{"reason":"field_count","source":"p0","partition":0,"offset":1,"value":"a <b> & c"}`},
		{"not utf-8", SideRecord{Reason: "bad_encoding", Detail: "d", Source: "p0", Partition: &p0, Offset: 2, Value: "\xff\xfe\x00"},
			`{"reason":"bad_encoding","detail":"d","source":"p0","partition":0,"offset":2,"value_base64":"//4A"}`},
		{"late, file mode", SideRecord{Reason: "late", Source: "input", Offset: 3, WindowEnd: "2024-07-22T10:15:00Z"},
			`{"reason":"late","source":"input","offset":3,"value":"","window_end":"2024-07-22T10:15:00Z"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rec.MarshalJSON()
			if err != nil || string(got) != tt.want {
				t.Fatalf("MarshalJSON = %s, %v; want %s", got, err, tt.want)
			}
			var side bytes.Buffer
			if err := EncodeSide(&side, []SideRecord{tt.rec}); err != nil {
				t.Fatal(err)
			}
			if line := gunzipT(t, side.Bytes()); line != tt.want+"\n" {
				t.Errorf("side file line %q, want MarshalJSON's %q", line, tt.want+"\n")
			}
			viaMarshal, err := json.Marshal(&tt.rec)
			if err != nil {
				t.Fatal(err)
			}
			for _, data := range [][]byte{got, viaMarshal} {
				var back SideRecord
				if err := json.Unmarshal(data, &back); err != nil {
					t.Fatalf("Unmarshal(%s): %v", data, err)
				}
				if back.Value != tt.rec.Value || back.Offset != tt.rec.Offset || back.Reason != tt.rec.Reason ||
					back.Detail != tt.rec.Detail || back.Source != tt.rec.Source || back.WindowEnd != tt.rec.WindowEnd ||
					(back.Partition == nil) != (tt.rec.Partition == nil) {
					t.Errorf("Unmarshal(%s) = %+v, want %+v", data, back, tt.rec)
				}
			}
		})
	}
	for _, bad := range []string{`{"reason":"x","source":"p0","offset":1}`, `{"value":"a","value_base64":"YQ=="}`, `{"value_base64":"!!"}`, `nope`} {
		var r SideRecord
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("Unmarshal(%s) accepted it: %+v", bad, r)
		}
	}
}
