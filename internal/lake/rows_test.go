package lake

import (
	"bytes"
	"testing"
)

// textRows are rows of some other record type: each is its CSV line.
type textRows []string

func (r textRows) Len() int                           { return len(r) }
func (r textRows) AppendRow(dst []byte, i int) []byte { return append(dst, r[i]...) }

// TestEncodeRowsEpoch checks the record-type-neutral encoder: the given
// header, with the index column on request, and the epoch in the gzip
// header.
func TestEncodeRowsEpoch(t *testing.T) {
	rows := textRows{`a,"b,c",1`, "d,e,2"}
	for _, tc := range []struct {
		index bool
		want  string
	}{
		{false, "x,y,n\na,\"b,c\",1\nd,e,2\n"},
		{true, ",x,y,n\n0,a,\"b,c\",1\n1,d,e,2\n"},
	} {
		var buf bytes.Buffer
		if err := EncodeRowsEpoch(&buf, "x,y,n", rows, tc.index, 7); err != nil {
			t.Fatal(err)
		}
		text, err := gunzip(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if string(text) != tc.want {
			t.Errorf("index %v: %q, want %q", tc.index, text, tc.want)
		}
		if epoch, err := WindowEpoch(buf.Bytes()); err != nil || epoch != 7 {
			t.Errorf("index %v: epoch %d, %v; want 7", tc.index, epoch, err)
		}
	}
}
