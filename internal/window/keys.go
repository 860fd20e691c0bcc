package window

import (
	"fmt"
	"slices"
)

// Keys interns the grouping keys of all partitions into small integer IDs,
// and remembers which partition each key was first seen on. One Keys serves
// every Engine of a consumer; it is not safe for concurrent use.
//
// A key comes to it as bytes (Record.Key), and a new key is decoded once
// into a K, the key its rows carry; the caller says how (NewKeys), so that the
// engine knows nothing of what it sums. Two keys are the same key exactly when
// their bytes are equal.
//
// Keys that no open window holds are forgotten: each key counts the open
// (window, key) cells that hold it, over all Engines. When the last one
// closes the key turns idle, and idle keys are forgotten in a sweep once
// there are more of them than held keys (and than minIdle), so that a key
// that comes back soon, as the keys of a steady feed do, is not interned again each
// time. A forgotten key's ID goes on a free list and is given to the next
// new key. So the table holds at most about twice the keys of the open
// windows (or minIdle more), not every key ever seen: a flood of distinct
// keys costs memory only while their windows are open. A forgotten key that
// comes back is a new key (and the split-key report, once per key, can
// repeat for it).
//
// A key is looked up by a 128-bit hash of its bytes, without comparing the
// bytes themselves: a false match among a million keys has a probability
// below 10^-26, and skipping the comparison saves a cache miss per record
// when the table is large.
type Keys[K any] struct {
	seed    uint64
	decode  func(b []byte) (K, error)
	compare func(a, b *K) int
	slots   []keySlot // open addressing with linear probing, deletion by backward shift

	// By key ID. An ID below len(keys) is free when refs[id] < 0.
	keys   []K
	home   []uint64 // the low half of each key's hash, to find its slot when it is forgotten
	refs   []int32  // open cells holding the key, over all Engines; -1 once forgotten
	free   []int32  // forgotten IDs, to reuse
	live   int      // keys not forgotten
	held   int      // keys with refs > 0; the other live keys are idle
	idle   []int32  // keys whose refs fell to 0 since the last sweep, once each (some may be held again)
	queued []bool   // by key ID: in idle

	minIdle   int   // idle keys kept at least, whatever the held keys
	forgotten int64 // keys forgotten so far

	// The sort order of the live keys, brought up to date by ranks: order
	// lists their IDs sorted by compare, and rank[id] is the position of
	// key id in order. changed lists the IDs added or forgotten since, once
	// each (touched[id]).
	order   []int32
	rank    []int32
	changed []int32
	touched []bool
}

// keySlot is one slot of the key table: the hash of a key, its ID + 1 (zero
// in an empty slot) and the partition it was first seen on, complemented
// once the key was reported on a second partition.
type keySlot struct {
	hash  fingerprint
	id    int32
	owner int32
}

// defaultMinIdle is how many idle keys a sweep waits for at least: 256 Ki
// keys cost about 60 MB. A working set of fewer keys that come and go (the
// 200k-key engine benchmark cycles through its keys every 13 windows) is
// never interned twice.
const defaultMinIdle = 1 << 18

// NewKeys returns an empty key table that hashes with the given seed, as do
// the Engines that share it. The caller draws the seed at random (from
// crypto/rand, say), so that a hash collision, however unlikely, does not
// repeat on the next run; a test may pass a fixed one.
//
// decode returns the key that the bytes of a Record.Key encode, or an error
// when they encode none; it is called once for each new key, and the K it
// returns must not point into b. compare orders keys (negative, zero or
// positive, as cmp.Compare): the rows of a closed window are sorted by it.
// It must be a total order in which distinct decoded keys are not equal.
func NewKeys[K any](seed uint64, decode func(b []byte) (K, error), compare func(a, b *K) int) *Keys[K] {
	return &Keys[K]{seed: seed, decode: decode, compare: compare, minIdle: defaultMinIdle}
}

// Len returns the size of the ID space: every key ID is below it. It is the
// largest number of keys that were live at once, not the number of live keys
// (Live).
func (k *Keys[K]) Len() int { return len(k.keys) }

// Live returns the number of keys in the table: those that some open window
// holds, and the idle ones not yet forgotten.
func (k *Keys[K]) Live() int { return k.live }

// Held returns the number of keys that some open window holds.
func (k *Keys[K]) Held() int { return k.held }

// Forgotten returns how many keys were forgotten so far.
func (k *Keys[K]) Forgotten() int64 { return k.forgotten }

// Key returns the key with the given ID.
func (k *Keys[K]) Key(id int32) *K { return &k.keys[id] }

// intern returns the ID of the key b. split is true the first time the key
// shows up on a partition other than the one it was first seen on. The caller
// must add the key to an open window (hold) before it releases any. A new key
// that decode refuses is an error, and the table is left as it was.
func (k *Keys[K]) intern(b []byte, partition int32) (id int32, split bool, err error) {
	h := hash128(b, k.seed)
	if (k.live+1)*8 > len(k.slots)*maxLoad {
		k.grow()
	}
	mask := uint64(len(k.slots) - 1)
	i := h.lo & mask
	for ; k.slots[i].id != 0; i = (i + 1) & mask {
		if s := &k.slots[i]; s.hash == h {
			if s.owner >= 0 && s.owner != partition {
				s.owner = ^s.owner
				return s.id - 1, true, nil
			}
			return s.id - 1, false, nil
		}
	}
	key, err := k.decode(b)
	if err != nil {
		return 0, false, fmt.Errorf("window key: %w", err)
	}
	if n := len(k.free); n > 0 {
		id = k.free[n-1]
		k.free = k.free[:n-1]
		k.keys[id], k.home[id], k.refs[id] = key, h.lo, 0
	} else {
		id = int32(len(k.keys))
		k.keys = append(k.keys, key)
		k.home = append(k.home, h.lo)
		k.refs = append(k.refs, 0)
		k.touched = append(k.touched, false)
		k.queued = append(k.queued, false)
	}
	k.slots[i] = keySlot{hash: h, id: id + 1, owner: partition}
	k.live++
	k.touch(id)
	return id, false, nil
}

// hold counts one more open cell holding key id.
func (k *Keys[K]) hold(id int32) {
	if k.refs[id] == 0 {
		k.held++
	}
	k.refs[id]++
}

// release counts one open cell less holding key id. A key no cell holds
// turns idle; idle keys are forgotten once they outnumber the held keys and
// minIdle.
func (k *Keys[K]) release(id int32) {
	if k.refs[id]--; k.refs[id] > 0 {
		return
	}
	k.held--
	if !k.queued[id] {
		k.queued[id] = true
		k.idle = append(k.idle, id)
	}
	if k.live-k.held > max(k.held, k.minIdle) {
		k.sweep()
	}
}

// sweep forgets the keys that are idle. Every idle key is in k.idle.
func (k *Keys[K]) sweep() {
	for _, id := range k.idle {
		k.queued[id] = false
		if k.refs[id] == 0 { // not held again since
			k.forget(id)
		}
	}
	k.idle = k.idle[:0]
}

// forget removes key id from the table and frees its ID.
func (k *Keys[K]) forget(id int32) {
	k.remove(id)
	var zero K
	k.keys[id], k.refs[id] = zero, -1
	k.free = append(k.free, id)
	k.live--
	k.forgotten++
	k.touch(id)
}

// remove takes key id out of the slots by backward shift: every later slot
// of the probe run that may move back does, so that no lookup stops early at
// the hole.
func (k *Keys[K]) remove(id int32) {
	mask := uint64(len(k.slots) - 1)
	i := k.home[id] & mask
	for k.slots[i].id != id+1 {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; k.slots[j].id != 0; j = (j + 1) & mask {
		// The slot at j may move to the hole at i if its home is not in the
		// cyclic range (i, j].
		if h := k.slots[j].hash.lo & mask; (j-h)&mask >= (j-i)&mask {
			k.slots[i] = k.slots[j]
			i = j
		}
	}
	k.slots[i] = keySlot{}
}

func (k *Keys[K]) touch(id int32) {
	if !k.touched[id] {
		k.touched[id] = true
		k.changed = append(k.changed, id)
	}
}

func (k *Keys[K]) grow() {
	k.slots = rehash(k.slots, max(64, 2*len(k.slots)),
		func(s *keySlot) bool { return s.id == 0 },
		func(s *keySlot, mask int) int { return int(s.hash.lo) & mask })
}

// ranks returns the sort position of every live key, in compare's order.
// The keys added and forgotten since
// the last call are taken out of the order, and the added ones sorted and
// merged back in, so that a steady trickle of new keys does not sort
// the whole table again at every window.
func (k *Keys[K]) ranks() []int32 {
	if len(k.changed) == 0 {
		return k.rank
	}
	byKey := func(a, b int32) int { return k.compare(&k.keys[a], &k.keys[b]) }
	kept := k.order[:0] // filtered in place
	for _, id := range k.order {
		if !k.touched[id] {
			kept = append(kept, id)
		}
	}
	added := make([]int32, 0, len(k.changed))
	for _, id := range k.changed {
		k.touched[id] = false
		if k.refs[id] >= 0 {
			added = append(added, id)
		}
	}
	k.changed = k.changed[:0]
	slices.SortFunc(added, byKey)
	merged := make([]int32, 0, len(kept)+len(added))
	old := kept
	for len(old) > 0 && len(added) > 0 {
		if byKey(added[0], old[0]) < 0 {
			merged, added = append(merged, added[0]), added[1:]
		} else {
			merged, old = append(merged, old[0]), old[1:]
		}
	}
	merged = append(append(merged, old...), added...)
	k.order = merged
	k.rank = slices.Grow(k.rank[:0], len(k.keys))[:len(k.keys)]
	for pos, id := range merged {
		k.rank[id] = int32(pos)
	}
	return k.rank
}
