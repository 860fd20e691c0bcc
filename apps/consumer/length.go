package main

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// parseLength parses a window length flag: minutes as a plain number, as the
// Spark job took them ("5", "2.5"), or a Go duration ("90s", "1h").
func parseLength(s string) (time.Duration, error) {
	if minutes, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(minutes) || math.IsInf(minutes, 0) || math.Abs(minutes) > 1e9 {
			return 0, fmt.Errorf("%q is not a usable number of minutes", s)
		}
		return time.Duration(minutes * float64(time.Minute)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a number of minutes nor a Go duration such as 90s", s)
	}
	return d, nil
}
