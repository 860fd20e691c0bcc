package turnstile

// ParseUint parses b as a non-negative decimal integer no greater than max.
// It is the one decimal parser of the messages (ENTRIES, EXITS and the
// TIMESTAMP's digits), the lake rows and the MTA files; a caller that takes
// more (a sign) or less (a length limit) says so where it calls it.
//
// The grammar is exactly:
//   - one or more ASCII digits '0' to '9' and nothing else: no sign, no
//     spaces (callers trim fields first), no '_' separators, no base prefix;
//   - any number of leading zeros, which do not count against max;
//   - a value above max is rejected however many digits it has: there is no
//     overflow. Values of MaxParseUint and more, which take 20 digits, are
//     always rejected, so a larger max acts as MaxParseUint.
//
// So it accepts exactly the b for which strconv.ParseUint(string(b), 10, 64)
// succeeds with a value no greater than min(max, MaxParseUint), and returns
// that value; it returns 0 and false otherwise. It does not allocate, and it
// is small enough to be inlined.
func ParseUint(b []byte, max uint64) (uint64, bool) {
	for len(b) > maxDigits && b[0] == '0' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > maxDigits {
		return 0, false
	}
	var n uint64 // maxDigits digits never overflow it
	for _, c := range b {
		d := uint64(c - '0') // a byte below '0' wraps to more than 9
		if d > 9 {
			return 0, false
		}
		n = n*10 + d
	}
	if n > max {
		return 0, false
	}
	return n, true
}

// MaxParseUint is the largest value ParseUint accepts, whatever its max: the
// largest of 19 digits, above math.MaxInt64 and 1<<63.
const MaxParseUint = 1e19 - 1

// maxDigits is how many significant digits ParseUint reads at most.
const maxDigits = 19
