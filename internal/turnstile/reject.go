package turnstile

import (
	"errors"
	"fmt"
)

// Reason says why a message value was rejected. It is a short, stable token
// fit for a metric label and a dead-letter record.
type Reason string

// The reasons a message value can be rejected.
const (
	ReasonJSON       Reason = "bad_json"      // wrapped in quotes, but not a valid JSON string
	ReasonCSV        Reason = "bad_csv"       // not one RFC 4180 record
	ReasonFieldCount Reason = "field_count"   // not exactly 13 fields
	ReasonEntries    Reason = "bad_entries"   // ENTRIES not an integer in [0, 2^31-1]
	ReasonExits      Reason = "bad_exits"     // EXITS not an integer in [0, 2^31-1]
	ReasonID         Reason = "empty_id"      // ID is empty
	ReasonTimestamp  Reason = "bad_timestamp" // TIMESTAMP not YYYY-MM-DD HH:MM:SS
	ReasonEncoding   Reason = "bad_encoding"  // not valid UTF-8
	// ReasonFuture is given by the consumer's clock guard, not by Parse: the
	// TIMESTAMP lies too far ahead of the wall clock.
	ReasonFuture Reason = "future_timestamp"
)

// Reasons lists every Reason, for metrics that want all labels up front.
var Reasons = []Reason{ReasonJSON, ReasonCSV, ReasonFieldCount, ReasonEntries, ReasonExits, ReasonID, ReasonTimestamp, ReasonEncoding, ReasonFuture}

// RejectError is the error Parse returns for an invalid message value.
type RejectError struct {
	Reason Reason
	Detail string
}

func (e *RejectError) Error() string { return string(e.Reason) + ": " + e.Detail }

// ReasonOf returns the Reason of a rejection error, or "" when err is not one.
func ReasonOf(err error) Reason {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

func reject(r Reason, format string, args ...any) error {
	return &RejectError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}
