// Package dashboard is the live turnstile dashboard: it reads the closed
// (window, key) rows that the consumer publishes with --emit-topic, keeps a
// bounded recent history of them aggregated per station, and pushes changes
// to browsers over Server-Sent Events. See docs/dashboard.md.
//
// The package knows nothing of Kafka: internal/kafka's Reader decodes the
// window messages (turnstile.DecodeWindowMessage) and adds them as Rows.
package dashboard

import "github.com/turnstile-stream/turnstile-stream/internal/turnstile"

// Row is one decoded window message.
type Row struct {
	turnstile.WindowCount
	// Start is the window start in Unix seconds, from the window_start
	// header; 0 when the header is missing.
	Start int64
}
