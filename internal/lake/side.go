package lake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// SideRecord is one dead-letter or late record: one JSON line in a side file,
// and the value of one message on the consumer's dead-letter topic. Both
// carry the same encoding, MarshalJSON's, and read back with UnmarshalJSON:
//
//	{"reason":…,"detail":…,"source":…,"partition":…,"offset":…,"value":…,"window_end":…}
//
// in that order, with detail, partition and window_end left out when empty,
// and no HTML escaping. Value is the raw message value. When it is valid
// UTF-8 it is written as the JSON string "value"; when it is not, "value" is
// left out and the bytes are written base64-encoded (standard alphabet,
// padded) as "value_base64", so every value round-trips byte for byte.
type SideRecord struct {
	Reason    string // why: a turnstile.Reason such as "field_count", or "late"
	Detail    string // a human-readable explanation
	Source    string // "p3" for Kafka partition 3, "input" in file mode
	Partition *int32 // the Kafka partition, when from Kafka
	Offset    int64  // the Kafka offset, or the 1-based line number in file mode
	Value     string // the raw message value
	WindowEnd string // for late records: the end of the window the record missed
}

// sideLine is the JSON form of a SideRecord.
type sideLine struct {
	Reason      string  `json:"reason"`
	Detail      string  `json:"detail,omitempty"`
	Source      string  `json:"source"`
	Partition   *int32  `json:"partition,omitempty"`
	Offset      int64   `json:"offset"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 string  `json:"value_base64,omitempty"`
	WindowEnd   string  `json:"window_end,omitempty"`
}

// line returns the JSON form of r.
func (r *SideRecord) line() sideLine {
	l := sideLine{
		Reason: r.Reason, Detail: r.Detail, Source: r.Source, Partition: r.Partition,
		Offset: r.Offset, WindowEnd: r.WindowEnd,
	}
	if utf8.ValidString(r.Value) {
		l.Value = &r.Value
	} else {
		l.ValueBase64 = base64.StdEncoding.EncodeToString([]byte(r.Value))
	}
	return l
}

// record returns the SideRecord of a JSON line; exactly one of value and
// value_base64 must be set.
func (l *sideLine) record() (SideRecord, error) {
	r := SideRecord{
		Reason: l.Reason, Detail: l.Detail, Source: l.Source, Partition: l.Partition,
		Offset: l.Offset, WindowEnd: l.WindowEnd,
	}
	switch {
	case l.Value != nil && l.ValueBase64 != "":
		return SideRecord{}, errors.New("both value and value_base64")
	case l.Value != nil:
		r.Value = *l.Value
	case l.ValueBase64 != "":
		v, err := base64.StdEncoding.DecodeString(l.ValueBase64)
		if err != nil {
			return SideRecord{}, fmt.Errorf("value_base64: %w", err)
		}
		r.Value = string(v)
	default:
		return SideRecord{}, errors.New("no value or value_base64")
	}
	return r, nil
}

// newSideEncoder returns the JSON encoder of side lines: no HTML escaping.
func newSideEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// MarshalJSON encodes r as one side line without its line end (see
// SideRecord). The bytes depend only on r.
func (r SideRecord) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	l := r.line()
	if err := newSideEncoder(&buf).Encode(&l); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON decodes a side line that MarshalJSON wrote. It is an error
// when both value and value_base64 are set, when neither is, or when
// value_base64 is not base64.
func (r *SideRecord) UnmarshalJSON(data []byte) error {
	var l sideLine
	if err := json.Unmarshal(data, &l); err != nil {
		return err
	}
	rec, err := l.record()
	if err != nil {
		return err
	}
	*r = rec
	return nil
}

// EncodeSide writes recs to w as gzip JSON lines (SideRecord.MarshalJSON),
// in the order given, one object per line ending in "\n". The bytes depend
// only on recs (fixed gzip header).
func EncodeSide(w io.Writer, recs []SideRecord) error {
	zw := newGzipWriter(w)
	defer releaseGzipWriter(zw)
	var buf bytes.Buffer
	enc := newSideEncoder(&buf)
	for i := range recs {
		l := recs[i].line()
		if err := enc.Encode(&l); err != nil { // Encode adds the "\n"
			return fmt.Errorf("lake: encode side record %d: %w", i, err)
		}
		if buf.Len() >= flushSize {
			if _, err := zw.Write(buf.Bytes()); err != nil {
				return fmt.Errorf("lake: encode side records: %w", err)
			}
			buf.Reset()
		}
	}
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("lake: encode side records: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("lake: encode side records: %w", err)
	}
	return nil
}

// DecodeSide reads a side file that EncodeSide wrote.
func DecodeSide(data []byte) ([]SideRecord, error) {
	text, err := gunzip(data)
	if err != nil {
		return nil, fmt.Errorf("lake: decode side records: %w", err)
	}
	var recs []SideRecord
	for i, line := range bytes.SplitAfter(text, []byte("\n")) {
		if len(line) == 0 {
			continue // after the final line end
		}
		var l sideLine
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("lake: decode side records: line %d: %w", i+1, err)
		}
		r, err := l.record()
		if err != nil {
			return nil, fmt.Errorf("lake: decode side records: line %d: %w", i+1, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}
