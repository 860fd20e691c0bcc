package turnstile

import (
	"bytes"
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
