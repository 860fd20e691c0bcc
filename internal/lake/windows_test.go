package lake

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func sampleRows() []turnstile.WindowCount {
	end := time.Date(2024, 7, 22, 10, 15, 0, 0, time.UTC).Unix()
	return []turnstile.WindowCount{
		{Key: turnstile.Key{CA: "A002", Unit: "R051", SCP: "02-00-00", Station: "59 ST", LineName: "NQR456W", Division: "BMT", Desc: "REGULAR"},
			End: end, Entries: 7520, Exits: 2573},
		{Key: turnstile.Key{CA: "R248", Unit: "R178", SCP: "00-00-01", Station: "77 ST", LineName: "6", Division: "IRT", Desc: "RECOVR AUD"},
			End: end, Entries: 0, Exits: 12},
		// Fields that need quotes: a comma, a quote, edge spaces.
		{Key: turnstile.Key{CA: "N329A", Unit: "R201", SCP: "01-06-00", Station: "JACKSON HTS, ROOSEVELT", LineName: "EFMR7", Division: "IND", Desc: `SAY "HI"`},
			End: end + 900, Entries: 2147483647, Exits: 1},
		{Key: turnstile.Key{CA: " PTH22", Unit: "R540", SCP: "00-00-00 ", Station: "PATH NEW WTC", LineName: "1", Division: "PTH", Desc: "REGULAR"},
			End: end + 900, Entries: 3, Exits: 4},
		// A quoted line break, and non-ASCII text.
		{Key: turnstile.Key{CA: "H009", Unit: "R235", SCP: "00-03-04", Station: "BEDFORD AV\nNORTH", LineName: "L", Division: "BMT", Desc: "RÉGULAR"},
			End: end + 1800, Entries: 5, Exits: 6},
	}
}

// decodedRows is what DecodeWindows returns for sampleRows: ParseWindowCount
// trims the spaces around fields, quoted or not, as the message parser does,
// so keys (which come from the parser) never have edge spaces anyway.
func decodedRows() []turnstile.WindowCount {
	rows := sampleRows()
	for i := range rows {
		k := &rows[i].Key
		for _, f := range []*string{&k.CA, &k.Unit, &k.SCP, &k.Station, &k.LineName, &k.Division, &k.Desc} {
			*f = strings.TrimSpace(*f)
		}
	}
	return rows
}

func encode(t testing.TB, rows []turnstile.WindowCount, index bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := EncodeWindows(&buf, rows, index); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzipT(t testing.TB, data []byte) string {
	t.Helper()
	text, err := gunzip(data)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

func TestEncodeWindowsGolden(t *testing.T) {
	for _, tt := range []struct {
		golden string
		index  bool
		header string
	}{
		{"windows_index.csv", true, turnstile.LakeHeader},
		{"windows_noindex.csv", false, turnstile.LakeColumns},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			data := encode(t, sampleRows(), tt.index)
			text := gunzipT(t, data)
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if text != string(want) {
				t.Errorf("decompressed CSV differs from %s (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, text, want)
			}
			if !strings.HasPrefix(text, tt.header+"\n") || !strings.HasSuffix(text, "\n") || strings.Contains(text, "\r") {
				t.Errorf("want header %q, \\n line ends and a final \\n", tt.header)
			}

			// Deterministic bytes, and a fixed gzip header.
			if again := encode(t, sampleRows(), tt.index); !bytes.Equal(data, again) {
				t.Error("two encodings of the same rows differ")
			}
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if zr.Name != "" || zr.Comment != "" || !zr.ModTime.IsZero() || zr.Extra != nil {
				t.Errorf("gzip header %+v, want no name, comment, extra or ModTime", zr.Header)
			}
			if _, err := io.Copy(io.Discard, zr); err != nil {
				t.Fatal(err)
			}

			// Round trip.
			rows, err := DecodeWindows(data)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rows, decodedRows()) {
				t.Errorf("DecodeWindows = %+v\nwant %+v", rows, decodedRows())
			}
		})
	}
}

func TestEncodeWindowsIndexColumn(t *testing.T) {
	rows := make([]turnstile.WindowCount, 25000) // more than one internal flush
	for i := range rows {
		rows[i] = sampleRows()[i%3]
		rows[i].Entries = int64(i)
	}
	text := gunzipT(t, encode(t, rows, true))
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != len(rows)+1 {
		t.Fatalf("%d lines, want %d", len(lines), len(rows)+1)
	}
	for i, line := range lines[1:] {
		idx, rest, _ := strings.Cut(line, ",")
		if idx != strconv.Itoa(i) {
			t.Fatalf("line %d has index %q, want %d", i+2, idx, i)
		}
		want := string(turnstile.AppendWindowCount(nil, &rows[i]))
		if rest != want {
			t.Fatalf("line %d = %q, want %q", i+2, rest, want)
		}
	}
	got, err := DecodeWindows(encode(t, rows, true))
	if err != nil || !slices.Equal(got, rows) {
		t.Fatalf("round trip of %d rows failed: %v", len(rows), err)
	}
}

func TestEncodeWindowsEmpty(t *testing.T) {
	for _, index := range []bool{true, false} {
		data := encode(t, nil, index)
		want := turnstile.LakeColumns + "\n"
		if index {
			want = turnstile.LakeHeader + "\n"
		}
		if text := gunzipT(t, data); text != want {
			t.Errorf("index=%v: empty file = %q, want %q", index, text, want)
		}
		if rows, err := DecodeWindows(data); err != nil || len(rows) != 0 {
			t.Errorf("DecodeWindows(empty) = %v, %v", rows, err)
		}
	}
}

func gz(t *testing.T, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeWindowsRejects(t *testing.T) {
	row := "A002,R051,02-00-00,59 ST,NQR456W,BMT,07/22/2024,10:15:00,REGULAR,1,2"
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not gzip", []byte(turnstile.LakeHeader + "\n"), "gzip"},
		{"empty", gz(t, ""), "empty file"},
		{"bad header", gz(t, "CA,UNIT\n0,"+row+"\n"), "header"},
		{"header with an index name", gz(t, "idx,"+turnstile.LakeColumns+"\n"), "header"},
		{"index starts at 1", gz(t, turnstile.LakeHeader+"\n1,"+row+"\n"), `index "1", want 0`},
		{"index skips", gz(t, turnstile.LakeHeader+"\n0,"+row+"\n2,"+row+"\n"), `line 3: index "2", want 1`},
		{"index missing", gz(t, turnstile.LakeHeader+"\n"+"x\n"), "no index column"},
		{"index on a bare file", gz(t, turnstile.LakeColumns+"\n0,"+row+"\n"), "line 2"},
		{"bad row", gz(t, turnstile.LakeHeader+"\n0,A,B\n"), "line 2"},
		{"bad count", gz(t, turnstile.LakeColumns+"\n"+strings.Replace(row, ",1,2", ",x,2", 1)+"\n"), "ENTRIES"},
		{"truncated gzip", gz(t, turnstile.LakeHeader+"\n0,"+row+"\n")[:20], "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeWindows(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeWindows error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	// CRLF line ends (a file saved by another tool) still decode.
	rows, err := DecodeWindows(gz(t, turnstile.LakeHeader+"\r\n0,"+row+"\r\n"))
	if err != nil || len(rows) != 1 || rows[0].Exits != 2 {
		t.Errorf("CRLF file: %v, %v", rows, err)
	}
}
