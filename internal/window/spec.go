// Package window sums two counts per key in event-time windows. It is pure:
// no I/O, no clock, no random source (the caller passes the hash seed). The
// caller feeds it the records of one Kafka partition in offset order, each
// as a Record (its time, counts, key and dedup bytes, which the caller takes
// from the parsed message), asks it to emit the windows its watermark has
// closed, and advances the watermark itself when a partition goes idle.
//
// It knows nothing of what it sums: the key type K of its rows, and how the
// key bytes of a record decode into one and how keys sort, are the caller's
// (NewKeys). The turnstile consumer (internal/stream) groups by turnstile.Key.
//
// The semantics, which tests compare row for row:
//   - Windows are [k·S, k·S+D), aligned to the Unix epoch; a record at time t
//     belongs to every window that contains t.
//   - The watermark W is (largest event time seen in the partition) − delay,
//     and never moves back.
//   - For each record: a window whose end is ≤ W (as W stood before the
//     record) is closed, and the record is late for it; the record is added to
//     its other windows. Then W is updated, and every window whose end is ≤ W
//     is ready to be emitted.
//   - A record whose (Dedup, Time) was already seen is a duplicate and is
//     dropped: the turnstile consumer's Dedup is (ID, STATION), so a
//     duplicate repeats an (ID, STATION, TIMESTAMP). The memory of a record is forgotten once
//     all of its windows are closed; a record all of whose windows are closed
//     is late, whether or not it repeats an earlier one.
package window

import (
	"fmt"
	"time"
)

// Spec is a validated set of window parameters, in whole seconds.
type Spec struct {
	size  int64 // D
	slide int64 // S
	delay int64 // watermark delay
}

// NewSpec validates window parameters: size D and slide S must be positive
// whole seconds with S ≤ D, and the watermark delay a non-negative whole number
// of seconds.
func NewSpec(size, slide, delay time.Duration) (Spec, error) {
	switch {
	case size <= 0:
		return Spec{}, fmt.Errorf("window duration must be positive, got %s", size)
	case slide <= 0:
		return Spec{}, fmt.Errorf("window slide must be positive, got %s", slide)
	case slide > size:
		return Spec{}, fmt.Errorf("window slide %s is larger than the window duration %s", slide, size)
	case delay < 0:
		return Spec{}, fmt.Errorf("watermark delay must not be negative, got %s", delay)
	}
	for name, d := range map[string]time.Duration{"duration": size, "slide": slide, "watermark delay": delay} {
		if d%time.Second != 0 {
			return Spec{}, fmt.Errorf("window %s must be whole seconds (timestamps are), got %s", name, d)
		}
	}
	return Spec{size: int64(size / time.Second), slide: int64(slide / time.Second), delay: int64(delay / time.Second)}, nil
}

// Size returns the window duration D.
func (s Spec) Size() time.Duration { return time.Duration(s.size) * time.Second }

// Slide returns the window slide S.
func (s Spec) Slide() time.Duration { return time.Duration(s.slide) * time.Second }

// Delay returns the watermark delay.
func (s Spec) Delay() time.Duration { return time.Duration(s.delay) * time.Second }

// firstStart returns the start of the earliest window that contains t: the
// smallest k·S with k·S + D > t.
func (s Spec) firstStart(t int64) int64 {
	return floorDiv(t-s.size, s.slide)*s.slide + s.slide
}

// lastStart returns the start of the latest window that contains t.
func (s Spec) lastStart(t int64) int64 {
	return floorDiv(t, s.slide) * s.slide
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Shape names the window shape in whole seconds, "<duration>/<slide>/<delay>"
// (for example "300/300/0"): what decides which rows a window file holds. It
// is written into the consumer's commit metadata and the lake's shape marker,
// and ParseShape reads it back.
func (s Spec) Shape() string {
	return fmt.Sprintf("%d/%d/%d", s.size, s.slide, s.delay)
}

// String describes the shape for people: "duration 5m0s, slide 5m0s,
// watermark delay 0s".
func (s Spec) String() string {
	return fmt.Sprintf("duration %s, slide %s, watermark delay %s", s.Size(), s.Slide(), s.Delay())
}

// ParseShape reads a shape written by Shape and validates it as NewSpec does.
func ParseShape(shape string) (Spec, error) {
	var size, slide, delay int64
	var rest string
	n, _ := fmt.Sscanf(shape, "%d/%d/%d%s", &size, &slide, &delay, &rest)
	if n != 3 || fmt.Sprintf("%d/%d/%d", size, slide, delay) != shape {
		return Spec{}, fmt.Errorf("window shape %q: want <duration>/<slide>/<delay> in whole seconds", shape)
	}
	return NewSpec(time.Duration(size)*time.Second, time.Duration(slide)*time.Second, time.Duration(delay)*time.Second)
}
