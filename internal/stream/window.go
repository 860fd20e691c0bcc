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

// hashSeed draws the seed of the window engine's hash tables, so that a hash
// collision, however unlikely, does not repeat on the next run.
func hashSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return binary.LittleEndian.Uint64(b[:])
}
