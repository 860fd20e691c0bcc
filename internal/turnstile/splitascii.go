package turnstile

import (
	"encoding/binary"
	"math/bits"
)

// Bytes of a 64-bit word, for the bit tests below.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	sevens = 0x7f7f7f7f7f7f7f7f
)

// The bit tests of splitASCII look at the eight bytes of a word at once.
// Each returns a word that is non-zero exactly when its test holds for some
// byte, so that several tests combine with | into one branch.

// hasZeroByte returns a word with the high bit set in every byte of x that
// is zero, and no other bit. The result is exact when every byte of x is
// below 0x80; otherwise it may be wrong, in either direction.
func hasZeroByte(x uint64) uint64 { return ^(x + sevens) & highs }

// hasByte returns a word with the high bit set in every byte of x that is c,
// and no other bit. Like hasZeroByte, it is exact when every byte of x is
// below 0x80 (c among them).
func hasByte(x uint64, c byte) uint64 { return hasZeroByte(x ^ ones*uint64(c)) }

// hasLess returns a word that is non-zero exactly when some byte of x is
// below n, for n ≤ 0x80. Its lowest set bit is the high bit of the first
// such byte; the bits above it may be set by the borrow and mean nothing.
func hasLess(x uint64, n byte) uint64 { return (x - ones*uint64(n)) &^ x & highs }

// hasNonASCII returns a word with the high bit set in every byte of x that
// is 0x80 or above, and no other bit.
func hasNonASCII(x uint64) uint64 { return x & highs }

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
		// general path. (hasByte may be wrong for a word that is not ASCII,
		// but such a word fails hasNonASCII.)
		// The commas are marked first, which spares the compiler a spill of w;
		// once the word is known to be ASCII, hasByte marks exactly them.
		commas := hasByte(w, ',')
		if hasNonASCII(w)|hasByte(w, '"')|hasLess(w, ' ') != 0 {
			return 0, false
		}
		for c := commas; c != 0; c &= c - 1 {
			j := i + bits.TrailingZeros64(c)>>3
			if n < len(fields) {
				fields[n] = trimSpace(s[start:j])
			}
			n++
			start = j + 1
		}
	}
	if n < len(fields) {
		fields[n] = trimSpace(s[start:])
	}
	return n + 1, true
}
