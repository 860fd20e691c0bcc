package stream

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// Metadata is what a partition commits with its offset, and what its next
// owner restores (docs/consumer.md, "Exactly-once protocol"). Its text form,
// version 2, is
//
//	v2 wm=<watermark, Unix seconds, or none> pos=<last processed offset> ep=<epoch> parts=<partition count> shape=<window shape>
//
// Version 1 ("v1 wm=<W> pos=<P>", written by earlier releases) is still read:
// its epoch is 0 and its partition count and shape are unknown.
type Metadata struct {
	// Watermark is the partition's watermark (window.NoWatermark for none).
	Watermark int64
	// Pos is the offset of the last record processed (-1 for none): records
	// at or before it write no side output again on a replay.
	Pos int64
	// Epoch is the ownership epoch of the partition's owner when it
	// committed: every owner claims the committed epoch + 1 before it writes
	// (see Processor.Claim), and the window files it writes carry it.
	Epoch uint64
	// Partitions is the topic's partition count under which the partition
	// was consumed (0 when unknown).
	Partitions int
	// Shape is the window shape of the rows (window.Spec.Shape; "" when
	// unknown).
	Shape string
}

// String formats m as version 2 metadata.
func (m Metadata) String() string {
	wm := "none"
	if m.Watermark != window.NoWatermark {
		wm = strconv.FormatInt(m.Watermark, 10)
	}
	return fmt.Sprintf("v2 wm=%s pos=%d ep=%d parts=%d shape=%s", wm, m.Pos, m.Epoch, m.Partitions, m.Shape)
}

// ParseMetadata reads metadata of version 1 or 2.
func ParseMetadata(s string) (Metadata, error) {
	m, err := parseMetadata(s)
	if err != nil {
		return Metadata{}, fmt.Errorf("commit metadata %q: %w", s, err)
	}
	return m, nil
}

func parseMetadata(s string) (Metadata, error) {
	fields := strings.Fields(s)
	var names []string
	switch {
	case len(fields) == 3 && fields[0] == "v1":
		names = []string{"wm", "pos"}
	case len(fields) == 6 && fields[0] == "v2":
		names = []string{"wm", "pos", "ep", "parts", "shape"}
	default:
		return Metadata{}, errors.New(`want "v2 wm=<seconds|none> pos=<offset> ep=<epoch> parts=<count> shape=<D/S/delay>" or "v1 wm=<seconds|none> pos=<offset>"`)
	}
	vals := make(map[string]string, len(names))
	for i, name := range names {
		v, ok := strings.CutPrefix(fields[i+1], name+"=")
		if !ok {
			return Metadata{}, fmt.Errorf("field %d: want %s=", i+1, name)
		}
		vals[name] = v
	}
	m := Metadata{Watermark: window.NoWatermark}
	var err error
	if v := vals["wm"]; v != "none" {
		if m.Watermark, err = strconv.ParseInt(v, 10, 64); err != nil {
			return Metadata{}, fmt.Errorf("watermark: %w", err)
		}
	}
	if m.Pos, err = strconv.ParseInt(vals["pos"], 10, 64); err != nil {
		return Metadata{}, fmt.Errorf("position: %w", err)
	}
	if fields[0] == "v1" {
		return m, nil
	}
	if m.Epoch, err = strconv.ParseUint(vals["ep"], 10, 64); err != nil {
		return Metadata{}, fmt.Errorf("epoch: %w", err)
	}
	if m.Partitions, err = strconv.Atoi(vals["parts"]); err != nil || m.Partitions < 0 {
		return Metadata{}, fmt.Errorf("partition count %q: not a count", vals["parts"])
	}
	m.Shape = vals["shape"]
	if m.Shape != "" {
		if _, err := window.ParseShape(m.Shape); err != nil {
			return Metadata{}, err
		}
	}
	return m, nil
}
