package turnstile

import (
	"encoding/binary"
	"math/bits"
)

// Bytes of a 64-bit word, for splitASCII.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	sevens = 0x7f7f7f7f7f7f7f7f
)

// zeroBytes returns a word with the high bit set in every byte of x that is
// zero, and no other bit. Every byte of x must be below 0x80.
func zeroBytes(x uint64) uint64 { return ^(x + sevens) & highs }

// splitASCII splits s on commas, as Split does, when s is printable ASCII
// with no quote: the common case, which it scans eight bytes at a time.
// plain is false, and fields are left in an unspecified state, when s needs
// the general path.
func splitASCII(s []byte, fields [][]byte) (n int, plain bool) {
	start := 0
	for i := 0; i < len(s); i += 8 {
		var w uint64
		switch rest := len(s) - i; {
		case rest >= 8:
			w = binary.LittleEndian.Uint64(s[i:])
		case len(s) >= 8:
			// The last, partial word: load the last eight bytes, shift out
			// those already scanned and pad with a byte that is neither a
			// comma nor special.
			w = binary.LittleEndian.Uint64(s[len(s)-8:])>>(8*(8-rest)) | 'x'*ones<<(8*rest)
		default:
			var short [8]byte
			copy(short[:], s)
			for k := len(s); k < 8; k++ {
				short[k] = 'x'
			}
			w = binary.LittleEndian.Uint64(short[:])
		}
		// Non-ASCII bytes, quotes and control bytes (line breaks among them,
		// tabs too, which the general path trims just as well) take the
		// general path.
		if (w|zeroBytes(w^('"'*ones))|(w-' '*ones)&^w)&highs != 0 {
			return 0, false
		}
		for c := zeroBytes(w ^ (',' * ones)); c != 0; c &= c - 1 {
			j := i + bits.TrailingZeros64(c)>>3
			if n < len(fields) {
				fields[n] = trimSpaces(s[start:j])
			}
			n++
			start = j + 1
		}
	}
	if n < len(fields) {
		fields[n] = trimSpaces(s[start:])
	}
	return n + 1, true
}

// trimSpaces trims the spaces around b: trimSpace for a plain line, which
// holds no tab.
func trimSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}
