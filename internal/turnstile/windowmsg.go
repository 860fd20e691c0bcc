package turnstile

import (
	"errors"
	"fmt"
	"time"
)

// The window message is the wire format of a closed (window, key) row on the
// consumer's emit topic (--emit-topic), which the dashboard reads:
//
//   - key: the row's window key (AppendWindowKey);
//   - value: the lake row (AppendWindowCount, no index column);
//   - headers window_start and window_end: the window bounds in RFC 3339, UTC.
//
// EncodeWindowMessage writes it and DecodeWindowMessage reads it; both the
// emitter and the dashboard's reader go through them.

// Header names of a window message.
const (
	HeaderWindowStart = "window_start"
	HeaderWindowEnd   = "window_end"
)

// Header is one message header, as a Kafka client hands it over.
type Header struct {
	Key   string
	Value []byte
}

// EncodeWindowMessage encodes a closed row of a window of the given length
// as the emit topic carries it: key, value and headers. Each result is
// freshly allocated. DecodeWindowMessage of the result returns c and the
// window start.
func EncodeWindowMessage(c *WindowCount, window time.Duration) (key, value []byte, headers []Header) {
	end := c.EndTime()
	return AppendWindowKey(nil, c), AppendWindowCount(nil, c), []Header{
		{Key: HeaderWindowStart, Value: []byte(end.Add(-window).Format(time.RFC3339))},
		{Key: HeaderWindowEnd, Value: []byte(end.Format(time.RFC3339))},
	}
}

// DecodeWindowMessage decodes a window message: the row, and the window start
// in Unix seconds from the window_start header (0 when the header is
// missing). The value must be a lake row (ParseWindowCount); the key, when
// present, must be the value's window key; the window_end header, when
// present, must be the row's window end, and window_start must be before it.
// Other headers are ignored.
func DecodeWindowMessage(key, value []byte, headers []Header) (c WindowCount, start int64, err error) {
	if len(value) == 0 {
		return WindowCount{}, 0, errors.New("empty message value")
	}
	wc, err := ParseWindowCount(value)
	if err != nil {
		return WindowCount{}, 0, fmt.Errorf("message value: %w", err)
	}
	if len(key) > 0 {
		if want := WindowKey(&wc); string(key) != want {
			return WindowCount{}, 0, fmt.Errorf("message key %q does not match its value (want %q)", key, want)
		}
	}
	for _, h := range headers {
		switch h.Key {
		case HeaderWindowStart:
			t, err := time.Parse(time.RFC3339, string(h.Value))
			if err != nil {
				return WindowCount{}, 0, fmt.Errorf("header %s: %w", h.Key, err)
			}
			start = t.Unix()
		case HeaderWindowEnd:
			t, err := time.Parse(time.RFC3339, string(h.Value))
			if err != nil {
				return WindowCount{}, 0, fmt.Errorf("header %s: %w", h.Key, err)
			}
			if t.Unix() != wc.End {
				return WindowCount{}, 0, fmt.Errorf("header %s %s does not match the row's window end %s",
					h.Key, h.Value, wc.EndTime().Format(time.RFC3339))
			}
		}
	}
	if start != 0 && start >= wc.End {
		return WindowCount{}, 0, fmt.Errorf("header %s is not before the window end", HeaderWindowStart)
	}
	return wc, start, nil
}
