package turnstile

import (
	"time"

	"github.com/google/uuid"
)

// IDNamespace is the UUID namespace of record IDs: the UUIDv5 of the URL
// https://github.com/turnstile-stream/turnstile-stream/record-id in the URL
// namespace. It never changes, so that IDs stay stable across releases.
var IDNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/turnstile-stream/turnstile-stream/record-id"))

// NewID returns the UUIDv5 of name in IDNamespace. The same name always gives
// the same ID.
func NewID(name []byte) string {
	return uuid.NewSHA1(IDNamespace, name).String()
}

// ReadingID returns the deterministic ID of one turnstile reading: the UUIDv5
// of CA|UNIT|SCP|TIMESTAMP (TIMESTAMP as YYYY-MM-DD HH:MM:SS, UTC). Replaying
// the same reading therefore always yields the same ID, which lets the
// consumer drop a re-sent file as duplicates.
func ReadingID(ca, unit, scp string, t time.Time) string {
	var buf [128]byte
	b := append(buf[:0], ca...)
	b = append(b, '|')
	b = append(b, unit...)
	b = append(b, '|')
	b = append(b, scp...)
	b = append(b, '|')
	b = t.UTC().AppendFormat(b, TimestampLayout)
	return NewID(b)
}
