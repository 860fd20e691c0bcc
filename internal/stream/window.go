package stream

import (
	"crypto/rand"
	"encoding/binary"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// windowRecord fills r with what the window engine takes of the parsed
// message m: its TIMESTAMP, ENTRIES and EXITS, its grouping key, and its
// identity for the duplicate check, (ID, STATION). It reuses r's buffers and
// returns r.
func windowRecord(m *turnstile.Message, r *window.Record) *window.Record {
	*r = window.Record{
		Time: m.Timestamp, Entries: m.Entries, Exits: m.Exits,
		Key: m.AppendKey(r.Key[:0]), Dedup: m.AppendDedup(r.Dedup[:0]),
	}
	return r
}

// newKeys returns the consumer's key table: it groups by turnstile.Key, which
// a record's key bytes (turnstile.Message.AppendKey) decode into, and sorts a
// window's rows as turnstile.CompareKeys does.
func newKeys() *window.Keys[turnstile.Key] {
	return window.NewKeys(hashSeed(), turnstile.DecodeKey, turnstile.CompareKeys)
}

// windowCounts returns the rows of a closed window as lake rows, in a slice
// of their own.
func windowCounts(c *window.Closed[turnstile.Key]) []turnstile.WindowCount {
	rows := make([]turnstile.WindowCount, len(c.Rows))
	for i := range c.Rows {
		r := &c.Rows[i]
		rows[i] = turnstile.WindowCount{Key: r.Key, End: c.End, Entries: r.Entries, Exits: r.Exits}
	}
	return rows
}

// hashSeed draws the seed of the window engine's hash tables, so that a hash
// collision, however unlikely, does not repeat on the next run.
func hashSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return binary.LittleEndian.Uint64(b[:])
}
