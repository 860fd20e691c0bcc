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
//     overflow, for any max up to math.MaxUint64.
//
// So it accepts exactly the b for which strconv.ParseUint(string(b), 10, 64)
// succeeds with a value no greater than max, and returns that value; it
// returns 0 and false otherwise. It does not allocate, and it is small enough
// to be inlined.
func ParseUint(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	// n*10 + d <= max exactly when n < lim, or n == lim and d <= last; so n
	// never goes above max, and never overflows.
	lim, last := max/10, max%10
	var n uint64
	for _, c := range b {
		d := uint64(c - '0') // a byte below '0' wraps to more than 9
		if d > 9 || n > lim || n == lim && d > last {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
