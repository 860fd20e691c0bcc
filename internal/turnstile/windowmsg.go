// Package dashboard is the live turnstile dashboard: it reads the closed
// (window, key) rows that the consumer publishes with --emit-topic, keeps a
// bounded recent history of them aggregated per station, and pushes changes
// to browsers over Server-Sent Events. See docs/dashboard.md.
package dashboard

import (
	"errors"
	"fmt"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Header names of a window message.
const (
	HeaderWindowStart = "window_start"
	HeaderWindowEnd   = "window_end"
)

// Row is one decoded window message.
type Row struct {
	turnstile.WindowCount
	// Start is the window start in Unix seconds, from the window_start
	// header; 0 when the header is missing.
	Start int64
}

// Header is one message header, as a Kafka client hands it over.
type Header struct {
	Key   string
	Value []byte
}

// Decode decodes a window message. The value must be a lake row
// (turnstile.ParseWindowCount); the key, when present, must be the value's
// turnstile.WindowKey; the window_end header, when present,
// must be the row's window end, and window_start must be before it.
func Decode(key, value []byte, headers []Header) (Row, error) {
	if len(value) == 0 {
		return Row{}, errors.New("empty message value")
	}
	wc, err := turnstile.ParseWindowCount(value)
	if err != nil {
		return Row{}, fmt.Errorf("message value: %w", err)
	}
	if len(key) > 0 {
		if want := turnstile.WindowKey(&wc); string(key) != want {
			return Row{}, fmt.Errorf("message key %q does not match its value (want %q)", key, want)
		}
	}
	row := Row{WindowCount: wc}
	for _, h := range headers {
		switch h.Key {
		case HeaderWindowStart:
			t, err := time.Parse(time.RFC3339, string(h.Value))
			if err != nil {
				return Row{}, fmt.Errorf("header %s: %w", h.Key, err)
			}
			row.Start = t.Unix()
		case HeaderWindowEnd:
			t, err := time.Parse(time.RFC3339, string(h.Value))
			if err != nil {
				return Row{}, fmt.Errorf("header %s: %w", h.Key, err)
			}
			if t.Unix() != wc.End {
				return Row{}, fmt.Errorf("header %s %s does not match the row's window end %s",
					h.Key, h.Value, wc.EndTime().Format(time.RFC3339))
			}
		}
	}
	if row.Start != 0 && row.Start >= wc.End {
		return Row{}, fmt.Errorf("header %s is not before the window end", HeaderWindowStart)
	}
	return row, nil
}

// Encode encodes a window row as the consumer publishes it (key, value and
// headers), for a window of the given length. It is the reverse of Decode,
// for tests and demo feeds.
func Encode(c *turnstile.WindowCount, window time.Duration) (key, value []byte, headers []Header) {
	end := c.EndTime()
	return []byte(turnstile.WindowKey(c)), turnstile.AppendWindowCount(nil, c), []Header{
		{Key: HeaderWindowStart, Value: []byte(end.Add(-window).Format(time.RFC3339))},
		{Key: HeaderWindowEnd, Value: []byte(end.Format(time.RFC3339))},
	}
}
