package ridership

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// goldenRows are window rows that exercise the row codec: quoting (commas,
// quotes, a line break), the escapes of the window key ('|' and '\'), an
// empty borough, a window across midnight and large sums.
func goldenRows() []WindowRow {
	at := func(s string) int64 {
		t, err := time.Parse(time.DateTime, s)
		if err != nil {
			panic(err)
		}
		return t.Unix()
	}
	return []WindowRow{
		{Key: Key{"611", "Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)", "Manhattan", "omny", "OMNY - Full Fare"},
			Start: at("2025-01-14 08:00:00"), End: at("2025-01-14 09:00:00"), Ridership: 1234, Transfers: 56},
		{Key: Key{"TRAM1", "RI Tramway (Manhattan)", "Manhattan", "metrocard", "Metrocard - Seniors & Disability"},
			Start: at("2025-01-14 23:00:00"), End: at("2025-01-15 00:00:00"), Ridership: 0, Transfers: 0},
		{Key: Key{"7|8", `say "hi"`, "", "omny", `back\slash|pipe`},
			Start: at("2025-01-15 00:00:00"), End: at("2025-01-15 01:00:00"), Ridership: 9_000_000_000_000_000_000, Transfers: 1},
		{Key: Key{"X", "two\nlines", "Queens", "omny", "OMNY - Students"},
			Start: at("2024-12-31 22:00:00"), End: at("2025-01-01 01:00:00"), Ridership: 7, Transfers: 3},
	}
}

// TestWindowRowGolden pins the lake rows and window keys of goldenRows to
// testdata/window_rows.golden (go test -run TestWindowRowGolden -update
// rewrites it), and checks that every row parses back.
func TestWindowRowGolden(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(LakeColumns + "\n")
	for _, r := range goldenRows() {
		b.Write(AppendWindowRow(nil, &r))
		b.WriteByte('\n')
	}
	b.WriteString("\n# window keys\n")
	for _, r := range goldenRows() {
		b.Write(AppendWindowKey(nil, &r))
		b.WriteByte('\n')
	}
	path := filepath.Join("testdata", "window_rows.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/ridership -run TestWindowRowGolden -update)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("window rows differ from %s:\n%s\nwant:\n%s", path, b.Bytes(), want)
	}
	for _, r := range goldenRows() {
		got, err := ParseWindowRow(AppendWindowRow(nil, &r))
		if err != nil || got != r {
			t.Errorf("ParseWindowRow(AppendWindowRow(%+v)) = %+v, %v", r, got, err)
		}
	}
}

func TestParseWindowRowRejects(t *testing.T) {
	const ok = `611,"Times Sq, 42 St",Manhattan,omny,OMNY - Full Fare,2025-01-14 08:00:00,2025-01-14 09:00:00,12,3`
	if _, err := ParseWindowRow([]byte(ok + "\r\n")); err != nil {
		t.Fatalf("a good row: %v", err)
	}
	for _, tc := range []struct{ name, line, want string }{
		{"eight fields", `611,x,Manhattan,omny,f,2025-01-14 08:00:00,2025-01-14 09:00:00,12`, "8 fields, want 9"},
		{"ten fields", ok + ",1", "more than 9 fields"},
		{"unclosed quote", `611,"x,Manhattan,omny,f,2025-01-14 08:00:00,2025-01-14 09:00:00,12,3`, "unterminated quote"},
		{"empty id", `,x,Manhattan,omny,f,2025-01-14 08:00:00,2025-01-14 09:00:00,12,3`, "station_complex_id is empty"},
		{"empty fare class", `611,x,Manhattan,omny,,2025-01-14 08:00:00,2025-01-14 09:00:00,12,3`, "fare_class_category is empty"},
		{"T in start", `611,x,Manhattan,omny,f,2025-01-14T08:00:00,2025-01-14 09:00:00,12,3`, "window_start"},
		{"end before start", `611,x,Manhattan,omny,f,2025-01-14 09:00:00,2025-01-14 08:00:00,12,3`, "not before"},
		{"negative sum", `611,x,Manhattan,omny,f,2025-01-14 08:00:00,2025-01-14 09:00:00,-1,3`, "ridership"},
		{"plus sign", `611,x,Manhattan,omny,f,2025-01-14 08:00:00,2025-01-14 09:00:00,12,+3`, "transfers"},
		{"leading zero", `611,x,Manhattan,omny,f,2025-01-14 08:00:00,2025-01-14 09:00:00,012,3`, "ridership"},
		{"decimal", `611,x,Manhattan,omny,f,2025-01-14 08:00:00,2025-01-14 09:00:00,12.0,3`, "ridership"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseWindowRow([]byte(tc.line))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseWindowRow(%q) = %v, want an error with %q", tc.line, err, tc.want)
			}
		})
	}
}

func TestKeyEncoding(t *testing.T) {
	keys := []Key{
		{"611", "Times Sq", "Manhattan", "omny", "OMNY - Full Fare"},
		{"611", "Times Sq", "Manhattan", "omny", "OMNY - Full Fare "},
		{"61", "1Times Sq", "Manhattan", "omny", "OMNY - Full Fare"},
		{"", "", "", "", ""},
		{"a\x00b", strings.Repeat("x", 300), "", "omny", "f"},
	}
	seen := map[string]Key{}
	for _, k := range keys {
		b := AppendKey([]byte("prefix"), &k)[len("prefix"):]
		if other, dup := seen[string(b)]; dup {
			t.Errorf("keys %+v and %+v encode the same", k, other)
		}
		seen[string(b)] = k
		got, err := DecodeKey(b)
		if err != nil || got != k {
			t.Errorf("DecodeKey(AppendKey(%+v)) = %+v, %v", k, got, err)
		}
		if _, err := DecodeKey(append(b, 'x')); err == nil {
			t.Errorf("DecodeKey accepted %+v's encoding with a byte too many", k)
		}
		if _, err := DecodeKey(b[:len(b)-1]); err == nil {
			t.Errorf("DecodeKey accepted %+v's encoding cut short", k)
		}
	}
}

func TestCompareKeys(t *testing.T) {
	sorted := []Key{
		{"610", "Z", "Z", "omny", "z"},
		{"611", "A", "Manhattan", "metrocard", "Metrocard - Full Fare"},
		{"611", "A", "Manhattan", "omny", "OMNY - Full Fare"},
		{"611", "A", "Manhattan", "omny", "OMNY - Students"},
		{"611", "B", "", "omny", "OMNY - Full Fare"},
	}
	shuffled := []Key{sorted[3], sorted[0], sorted[4], sorted[2], sorted[1]}
	slices.SortFunc(shuffled, func(a, b Key) int { return CompareKeys(&a, &b) })
	if !slices.Equal(shuffled, sorted) {
		t.Errorf("sorted %+v, want %+v", shuffled, sorted)
	}
	if c := CompareKeys(&sorted[1], &sorted[1]); c != 0 {
		t.Errorf("a key compares %d to itself", c)
	}
}

func TestWindowMessage(t *testing.T) {
	for _, r := range goldenRows() {
		key, value, headers := EncodeWindowMessage(&r)
		if got := headerValue(headers, turnstile.HeaderWindowStart); got != time.Unix(r.Start, 0).UTC().Format(time.RFC3339) {
			t.Errorf("window_start header %q", got)
		}
		got, err := DecodeWindowMessage(key, value, headers)
		if err != nil || got != r {
			t.Errorf("DecodeWindowMessage(EncodeWindowMessage(%+v)) = %+v, %v", r, got, err)
		}
	}
	r := goldenRows()[0]
	key, value, headers := EncodeWindowMessage(&r)
	other := goldenRows()[1]
	otherKey, _, otherHeaders := EncodeWindowMessage(&other)
	for _, tc := range []struct {
		name       string
		key, value []byte
		headers    []turnstile.Header
		want       string
	}{
		{"empty value", key, nil, headers, "empty message value"},
		{"another row's key", otherKey, value, headers, "does not match its value"},
		{"another row's bounds", key, value, otherHeaders, "does not match the row's"},
		{"bad header", key, value, []turnstile.Header{{Key: turnstile.HeaderWindowEnd, Value: []byte("09:00")}}, "header window_end"},
		{"turnstile row", nil, []byte("A002,R051,02-00-00,59 ST,NQR456W,BMT,07/22/2024,10:15:00,REGULAR,1,2"), nil, "fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeWindowMessage(tc.key, tc.value, tc.headers)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeWindowMessage = %v, want an error with %q", err, tc.want)
			}
		})
	}
	// Without key and headers, the value alone decodes.
	if got, err := DecodeWindowMessage(nil, value, nil); err != nil || got != r {
		t.Errorf("DecodeWindowMessage of the value alone = %+v, %v", got, err)
	}
}

func headerValue(hs []turnstile.Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// FuzzDecodeWindowMessage checks that whatever DecodeWindowMessage accepts
// encodes to a message that decodes to the same row, with the same key.
func FuzzDecodeWindowMessage(f *testing.F) {
	for _, r := range goldenRows() {
		key, value, headers := EncodeWindowMessage(&r)
		f.Add(key, value, string(headers[0].Value), string(headers[1].Value))
	}
	f.Add([]byte(""), []byte(`a,"b""c",,d,e,2025-01-14 08:00:00,2025-01-14 09:00:00,0,0`), "", "")
	f.Fuzz(func(t *testing.T, key, value []byte, start, end string) {
		var hs []turnstile.Header
		if start != "" {
			hs = append(hs, turnstile.Header{Key: turnstile.HeaderWindowStart, Value: []byte(start)})
		}
		if end != "" {
			hs = append(hs, turnstile.Header{Key: turnstile.HeaderWindowEnd, Value: []byte(end)})
		}
		r, err := DecodeWindowMessage(key, value, hs)
		if err != nil {
			return
		}
		key2, value2, hs2 := EncodeWindowMessage(&r)
		if len(key) > 0 && !bytes.Equal(key, key2) {
			t.Fatalf("accepted key %q, but the row's key is %q", key, key2)
		}
		r2, err := DecodeWindowMessage(key2, value2, hs2)
		if err != nil {
			t.Fatalf("re-encoded message %q %q does not decode: %v", key2, value2, err)
		}
		if r2 != r {
			t.Fatalf("round trip changed the row: %+v, then %+v", r, r2)
		}
		if !bytes.Equal(AppendWindowRow(nil, &r2), value2) {
			t.Fatalf("row %q is not stable", value2)
		}
	})
}
