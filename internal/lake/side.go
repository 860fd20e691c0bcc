package lake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

// SideRecord is one dead-letter or late record, one JSON line in a side file.
//
// Value is the raw message value. When it is valid UTF-8 it is written as the
// JSON string "value"; when it is not, "value" is left out and the bytes are
// written base64-encoded (standard alphabet, padded) as "value_base64", so
// every value round-trips byte for byte through EncodeSide and DecodeSide.
type SideRecord struct {
	Reason    string `json:"reason"`               // why: a turnstile.Reason such as "field_count", or "late"
	Detail    string `json:"detail,omitempty"`     // a human-readable explanation
	Source    string `json:"source"`               // "p3" for Kafka partition 3, "input" in file mode
	Partition *int32 `json:"partition,omitempty"`  // the Kafka partition, when from Kafka
	Offset    int64  `json:"offset"`               // the Kafka offset, or the 1-based line number in file mode
	Value     string `json:"value"`                // the raw message value
	WindowEnd string `json:"window_end,omitempty"` // for late records: the end of the window the record missed
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

// EncodeSide writes recs to w as gzip JSON lines, in the order given, one
// object per line ending in "\n". The bytes depend only on recs (fixed gzip
// header, fixed field order, no HTML escaping).
func EncodeSide(w io.Writer, recs []SideRecord) error {
	zw := newGzipWriter(w)
	defer releaseGzipWriter(zw)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range recs {
		r := &recs[i]
		line := sideLine{
			Reason: r.Reason, Detail: r.Detail, Source: r.Source, Partition: r.Partition,
			Offset: r.Offset, WindowEnd: r.WindowEnd,
		}
		if utf8.ValidString(r.Value) {
			line.Value = &r.Value
		} else {
			line.ValueBase64 = base64.StdEncoding.EncodeToString([]byte(r.Value))
		}
		if err := enc.Encode(&line); err != nil { // Encode adds the "\n"
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
		r := SideRecord{
			Reason: l.Reason, Detail: l.Detail, Source: l.Source, Partition: l.Partition,
			Offset: l.Offset, WindowEnd: l.WindowEnd,
		}
		switch {
		case l.Value != nil && l.ValueBase64 != "":
			return nil, fmt.Errorf("lake: decode side records: line %d: both value and value_base64", i+1)
		case l.Value != nil:
			r.Value = *l.Value
		case l.ValueBase64 != "":
			v, err := base64.StdEncoding.DecodeString(l.ValueBase64)
			if err != nil {
				return nil, fmt.Errorf("lake: decode side records: line %d: value_base64: %w", i+1, err)
			}
			r.Value = string(v)
		default:
			return nil, fmt.Errorf("lake: decode side records: line %d: no value or value_base64", i+1)
		}
		recs = append(recs, r)
	}
	return recs, nil
}
