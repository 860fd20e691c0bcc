// Package dashboard is the live turnstile dashboard: it reads the closed
// (window, key) rows that the consumer publishes with --emit-topic, keeps a
// bounded recent history of them aggregated per station, and pushes changes
// to browsers over Server-Sent Events. With Config.Ridership it does the
// same for the hourly ridership windows (a consumer run with --source
// ridership), summed per station complex (RidershipHistory). See
// docs/dashboard.md.
//
// The package knows nothing of Kafka: internal/kafka's Reader hands each
// message to AddTurnstileMessage or AddRidershipMessage, which decode it
// (turnstile.DecodeWindowMessage, ridership.DecodeWindowMessage) and add it.
package dashboard

import "github.com/turnstile-stream/turnstile-stream/internal/turnstile"

// Row is one decoded window message.
type Row struct {
	turnstile.WindowCount
	// Start is the window start in Unix seconds, from the window_start
	// header; 0 when the header is missing.
	Start int64
}
