package window

import (
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Keys interns the grouping keys (CA, UNIT, SCP, STATION, LINENAME, DIVISION,
// DESC) of all partitions into small integer IDs, and remembers which
// partition each key was first seen on. One Keys serves every Engine of a
// consumer; it is not safe for concurrent use. A key is never forgotten: the
// table grows with the number of distinct turnstiles ever seen.
//
// A key is looked up by a 128-bit hash of its fields, without comparing the
// fields themselves: a false match among a million keys has a probability
// below 10^-26, and skipping the comparison saves a cache miss per record
// when the table is large.
type Keys struct {
	seed  uint64
	slots []keySlot // open addressing with linear probing
	buf   []byte

	keys []turnstile.Key

	// The sort order of the keys, extended when keys were added: order lists
	// the key IDs sorted by their fields, and rank[id] is the position of key
	// id in order.
	names []string // the fields of each key joined by NUL bytes, which sort as the fields do
	order []int32
	rank  []int32
}

// keySlot is one slot of the key table: the hash of a key, its ID + 1 (zero
// in an empty slot) and the partition it was first seen on, complemented
// once the key was reported on a second partition.
type keySlot struct {
	hash  fingerprint
	id    int32
	owner int32
}

// NewKeys returns an empty key table.
func NewKeys() *Keys { return &Keys{seed: rand.Uint64()} }

// Len returns the number of distinct keys seen.
func (k *Keys) Len() int { return len(k.keys) }

// Key returns the key with the given ID.
func (k *Keys) Key(id int32) *turnstile.Key { return &k.keys[id] }

// intern returns the ID of the message's key. split is true the first time the
// key shows up on a partition other than the one it was first seen on.
func (k *Keys) intern(m *turnstile.Message, partition int32) (id int32, split bool) {
	b := m.AppendKey(k.buf[:0])
	k.buf = b
	h := hash128(b, k.seed)
	if (len(k.keys)+1)*8 > len(k.slots)*maxLoad {
		k.grow()
	}
	mask := uint64(len(k.slots) - 1)
	i := h.lo & mask
	for ; k.slots[i].id != 0; i = (i + 1) & mask {
		if s := &k.slots[i]; s.hash == h {
			if s.owner >= 0 && s.owner != partition {
				s.owner = ^s.owner
				return s.id - 1, true
			}
			return s.id - 1, false
		}
	}
	id = int32(len(k.keys))
	k.slots[i] = keySlot{hash: h, id: id + 1, owner: partition}
	f := &m.Fields
	k.keys = append(k.keys, turnstile.Key{
		CA: string(f[turnstile.FieldCA]), Unit: string(f[turnstile.FieldUnit]), SCP: string(f[turnstile.FieldSCP]),
		Station: string(f[turnstile.FieldStation]), LineName: string(f[turnstile.FieldLineName]),
		Division: string(f[turnstile.FieldDivision]), Desc: string(f[turnstile.FieldDesc]),
	})
	name := b[:0] // the hashed bytes are no longer needed
	for j, fi := range turnstile.KeyFields {
		if j > 0 {
			name = append(name, 0)
		}
		name = append(name, f[fi]...)
	}
	k.names = append(k.names, string(name))
	return id, false
}

func (k *Keys) grow() {
	k.slots = rehash(k.slots, max(64, 2*len(k.slots)),
		func(s *keySlot) bool { return s.id == 0 },
		func(s *keySlot, mask int) int { return int(s.hash.lo) & mask })
}

// ranks returns the sort position of every key. Keys are joined with NUL
// bytes, which sort below every other byte, so comparing the joined strings
// compares the fields in order. Keys added since the last call are sorted
// and merged into the order, so that a steady trickle of new turnstiles does
// not sort the whole table again at every window.
func (k *Keys) ranks() []int32 {
	if len(k.order) == len(k.keys) {
		return k.rank
	}
	byName := func(a, b int32) int { return strings.Compare(k.names[a], k.names[b]) }
	added := make([]int32, 0, len(k.keys)-len(k.order))
	for id := len(k.order); id < len(k.keys); id++ {
		added = append(added, int32(id))
	}
	slices.SortFunc(added, byName)
	merged := make([]int32, 0, len(k.keys))
	old := k.order
	for len(old) > 0 && len(added) > 0 {
		if byName(added[0], old[0]) < 0 {
			merged, added = append(merged, added[0]), added[1:]
		} else {
			merged, old = append(merged, old[0]), old[1:]
		}
	}
	merged = append(append(merged, old...), added...)
	k.order = merged
	k.rank = slices.Grow(k.rank[:0], len(merged))[:len(merged)]
	for pos, id := range merged {
		k.rank[id] = int32(pos)
	}
	return k.rank
}
