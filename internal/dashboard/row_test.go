package dashboard

import (
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// t0 is a window end: 2019-05-04 12:00:00 UTC.
var t0 = time.Date(2019, 5, 4, 12, 0, 0, 0, time.UTC).Unix()

// row is a row of turnstile A002/R051/scp at a station, in the window of
// 5 minutes that ends at end.
func row(station, lines, scp string, end, entries, exits int64) Row {
	return Row{WindowCount: turnstile.WindowCount{
		Key: turnstile.Key{CA: "A002", Unit: "R051", SCP: scp, Station: station, LineName: lines, Division: "BMT", Desc: "REGULAR"},
		End: end, Entries: entries, Exits: exits,
	}, Start: end - 300}
}
