package turnstile

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"
)

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

// TestBitTests checks each bit test of splitASCII against its byte-by-byte
// definition, on words built from bytes around the edges the tests rely on.
func TestBitTests(t *testing.T) {
	edges := []byte{0, 1, '\t', '\n', 0x1f, ' ', '!', '"', '#', ',', 'x', 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		var b [8]byte
		for k := range b {
			if rng.IntN(4) == 0 {
				b[k] = byte(rng.UintN(256))
			} else {
				b[k] = edges[rng.IntN(len(edges))]
			}
		}
		w := binary.LittleEndian.Uint64(b[:])
		ascii := true
		var zero, quote, nonASCII uint64
		less, firstLess := false, 0
		for k, c := range b {
			high := uint64(0x80) << (8 * k)
			if c >= 0x80 {
				ascii = false
				nonASCII |= high
			}
			if c == 0 {
				zero |= high
			}
			if c == '"' {
				quote |= high
			}
			if c < ' ' && !less {
				less, firstLess = true, k
			}
		}
		if got := hasNonASCII(w); got != nonASCII {
			t.Fatalf("hasNonASCII(%q) = %#x, want %#x", b, got, nonASCII)
		}
		if got := hasLess(w, ' '); (got != 0) != less || less && bits.TrailingZeros64(got) != 8*firstLess+7 {
			t.Fatalf("hasLess(%q, ' ') = %#x, want the high bit of byte %d lowest (or zero: %v)", b, got, firstLess, !less)
		}
		if !ascii {
			continue // hasZeroByte and hasByte promise nothing
		}
		if got := hasZeroByte(w); got != zero {
			t.Fatalf("hasZeroByte(%q) = %#x, want %#x", b, got, zero)
		}
		if got := hasByte(w, '"'); got != quote {
			t.Fatalf("hasByte(%q, '\"') = %#x, want %#x", b, got, quote)
		}
	}
}
