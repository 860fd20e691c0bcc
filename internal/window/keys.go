package window

import (
	"slices"
	"strings"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Keys interns the grouping keys (CA, UNIT, SCP, STATION, LINENAME, DIVISION,
// DESC) of all partitions into small integer IDs, and remembers which
// partition each key was first seen on. One Keys serves every Engine of a
// consumer; it is not safe for concurrent use. A key is never forgotten: the
// table grows with the number of distinct turnstiles ever seen.
type Keys struct {
	ids   map[string]int32
	keys  []turnstile.Key
	owner []int32 // the partition each key was first seen on
	split []bool  // whether the key was already reported on a second partition
	buf   []byte

	// The sort order of the keys, recomputed when keys were added: rank[id] is
	// the position of key id among all keys sorted by their fields.
	names []string // the joined fields of each key, which sort as the fields do
	rank  []int32
}

// NewKeys returns an empty key table.
func NewKeys() *Keys { return &Keys{ids: make(map[string]int32)} }

// Len returns the number of distinct keys seen.
func (k *Keys) Len() int { return len(k.keys) }

// Key returns the key with the given ID.
func (k *Keys) Key(id int32) *turnstile.Key { return &k.keys[id] }

// intern returns the ID of the message's key. split is true the first time the
// key shows up on a partition other than the one it was first seen on.
func (k *Keys) intern(m *turnstile.Message, partition int32) (id int32, split bool) {
	f := &m.Fields
	b := k.buf[:0]
	for i, fi := range [...]int{turnstile.FieldCA, turnstile.FieldUnit, turnstile.FieldSCP, turnstile.FieldStation, turnstile.FieldLineName, turnstile.FieldDivision, turnstile.FieldDesc} {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, f[fi]...)
	}
	k.buf = b
	id, ok := k.ids[string(b)]
	if !ok {
		id = int32(len(k.keys))
		name := string(b)
		k.ids[name] = id
		k.names = append(k.names, name)
		k.keys = append(k.keys, turnstile.Key{
			CA: string(f[turnstile.FieldCA]), Unit: string(f[turnstile.FieldUnit]), SCP: string(f[turnstile.FieldSCP]),
			Station: string(f[turnstile.FieldStation]), LineName: string(f[turnstile.FieldLineName]),
			Division: string(f[turnstile.FieldDivision]), Desc: string(f[turnstile.FieldDesc]),
		})
		k.owner = append(k.owner, partition)
		k.split = append(k.split, false)
		return id, false
	}
	if k.owner[id] != partition && !k.split[id] {
		k.split[id] = true
		return id, true
	}
	return id, false
}

// ranks returns the sort position of every key. Keys are joined with NUL
// bytes, which sort below every other byte, so comparing the joined strings
// compares the fields in order.
func (k *Keys) ranks() []int32 {
	if len(k.rank) == len(k.keys) {
		return k.rank
	}
	order := make([]int32, len(k.keys))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(k.names[a], k.names[b]) })
	k.rank = slices.Grow(k.rank[:0], len(order))[:len(order)]
	for pos, id := range order {
		k.rank[id] = int32(pos)
	}
	return k.rank
}
