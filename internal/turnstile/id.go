package turnstile

import (
	"crypto/sha1"
	"time"

	"github.com/google/uuid"
)

// IDNamespace is the UUID namespace of record IDs: the UUIDv5 of the URL
// https://github.com/turnstile-stream/turnstile-stream/record-id in the URL
// namespace. It never changes, so that IDs stay stable across releases.
var IDNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/turnstile-stream/turnstile-stream/record-id"))

// NewID returns the UUIDv5 of name in IDNamespace, as uuid.NewSHA1 computes
// it. The same name always gives the same ID.
func NewID(name []byte) string {
	// uuid.NewSHA1 without its allocations: hash namespace+name from the stack.
	var buf [256]byte
	in := append(append(buf[:0], IDNamespace[:]...), name...)
	sum := sha1.Sum(in)
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u.String()
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
	b = AppendTimestamp(b, t)
	return NewID(b)
}

// AppendTimestamp appends t in UTC as YYYY-MM-DD HH:MM:SS (TimestampLayout)
// to dst. It gives the same bytes as t.UTC().AppendFormat(dst,
// TimestampLayout) for years 0 to 9999, several times faster.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimestampLayout)
	}
	hour, minute, sec := t.Clock()
	dst = append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), ' ',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	return dst
}
