package window

import (
	"math/bits"
	"slices"

	"github.com/zeebo/xxh3"
)

// The engine's hot path does three lookups per record: the duplicate memory,
// the key table and the window's cell of the key. Go maps spend most of a
// record's time there, so the engine keeps its own open-addressing tables with
// linear probing: one slot read is usually one cache line, and nothing
// allocates once a table has grown to its working size.

// maxLoad is the load factor, in eighths, at which a table doubles.
const maxLoad = 6

// fingerprint is a 128-bit hash: of a record's Dedup bytes in the duplicate
// memory, whose sets are per event time, and of a key in the key table. Equal
// fingerprints are taken as equal inputs: with 128 bits, a false match among
// a billion inputs has a probability below 10^-20.
type fingerprint struct{ lo, hi uint64 }

// hash128 returns the 128-bit XXH3 hash of b with the given seed. The seed
// is the caller's (NewKeys), drawn at random, so that a collision, however
// unlikely, does not repeat on the next run.
func hash128(b []byte, seed uint64) fingerprint {
	h := xxh3.Hash128Seed(b, seed)
	return fingerprint{h.Lo, h.Hi}
}

// fingerprints is a set of fingerprints: those of the records of one
// event time. A slot whose lo is zero is empty, so the set forces bit 0 of
// every stored lo to one.
type fingerprints struct {
	slots   []fingerprint
	n       int
	lastEnd int64 // the end of the last window of the set's records
}

// add adds f and reports whether it was new.
func (s *fingerprints) add(f fingerprint) bool {
	f.lo |= 1
	if (s.n+1)*8 > len(s.slots)*maxLoad {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := f.hi & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case f:
			return false
		case fingerprint{}:
			s.slots[i] = f
			s.n++
			return true
		}
	}
}

// remove takes f out of the set, if it is there, by backward shift: every
// later slot of the probe run that may move back does, so that no lookup
// stops early at the hole.
func (s *fingerprints) remove(f fingerprint) {
	f.lo |= 1
	if s.n == 0 {
		return
	}
	mask := uint64(len(s.slots) - 1)
	i := f.hi & mask
	for ; s.slots[i] != f; i = (i + 1) & mask {
		if s.slots[i] == (fingerprint{}) {
			return
		}
	}
	for j := (i + 1) & mask; s.slots[j] != (fingerprint{}); j = (j + 1) & mask {
		// The slot at j may move to the hole at i if its home is not in the
		// cyclic range (i, j].
		if h := s.slots[j].hi & mask; (j-h)&mask >= (j-i)&mask {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = fingerprint{}
	s.n--
}

func (s *fingerprints) grow() {
	s.slots = rehash(s.slots, max(8, 2*len(s.slots)),
		func(f *fingerprint) bool { return f.lo == 0 },
		func(f *fingerprint, mask int) int { return int(f.hi) & mask })
}

// rehash returns a table of n slots, a power of two, holding the slots of
// old that are not empty, each at the first empty slot from home(slot, n−1)
// on: the growth step of every linear-probing table here.
func rehash[T any](old []T, n int, empty func(*T) bool, home func(*T, int) int) []T {
	slots := make([]T, n)
	mask := n - 1
	for j := range old {
		if empty(&old[j]) {
			continue
		}
		i := home(&old[j], mask)
		for !empty(&slots[i]) {
			i = (i + 1) & mask
		}
		slots[i] = old[j]
	}
	return slots
}

// reset empties the set and keeps its slots for reuse.
func (s *fingerprints) reset() {
	clear(s.slots)
	s.n = 0
}

// cell is the running sum of one key in one window. A slot of a cell table
// whose key is zero is empty: the table stores key ID + 1.
type cell struct {
	key            int32
	entries, exits int64
}

// minDense is the number of keys below which a window never turns dense.
const minDense = 256

// cells holds the cells of one window by key ID. It starts sparse, as an
// open-addressing table. Once it holds a quarter of all known keys it turns
// dense for the IDs known at that moment: their sums sit in an array indexed
// by ID, which costs no hashing or probing and at most four array slots per
// cell. Keys added to the table later keep using the sparse table.
type cells struct {
	slots []cell // the sparse table
	shift int    // 64 − log2(len(slots)), for spread
	n     int    // cells in the sparse table

	dense  [][2]int64 // ENTRIES and EXITS by key ID, for IDs below len(dense)
	has    []bool     // whether the key ID has a cell in dense
	nDense int        // cells in dense
}

// len returns the number of cells.
func (t *cells) len() int { return t.n + t.nDense }

// add adds entries and exits to the cell of key, and reports whether the
// cell is new. keys is the size of the key ID space, every key ID below it.
func (t *cells) add(key int32, entries, exits int64, keys int) bool {
	if int(key) < len(t.dense) {
		added := !t.has[key]
		if added {
			t.has[key] = true
			t.nDense++
		}
		s := &t.dense[key]
		s[0] += entries
		s[1] += exits
		return added
	}
	added := t.addSparse(key, entries, exits)
	if len(t.dense) == 0 && keys >= minDense && 4*t.n >= keys {
		t.toDense(keys)
	}
	return added
}

func (t *cells) addSparse(key int32, entries, exits int64) bool {
	if (t.n+1)*8 > len(t.slots)*maxLoad {
		t.grow()
	}
	k := key + 1
	mask := len(t.slots) - 1
	for i := spread(k, t.shift); ; i = (i + 1) & mask {
		c := &t.slots[i]
		if c.key == k {
			c.entries += entries
			c.exits += exits
			return false
		}
		if c.key == 0 {
			*c = cell{key: k, entries: entries, exits: exits}
			t.n++
			return true
		}
	}
}

// toDense moves every cell into the dense array for the first keys IDs,
// reusing the arrays of an earlier window when they are large enough.
func (t *cells) toDense(keys int) {
	t.dense = slices.Grow(t.dense[:0], keys)[:keys]
	t.has = slices.Grow(t.has[:0], keys)[:keys]
	for _, c := range t.slots {
		if c.key != 0 {
			t.dense[c.key-1] = [2]int64{c.entries, c.exits}
			t.has[c.key-1] = true
		}
	}
	t.nDense, t.n = t.n, 0
	clear(t.slots)
}

// get returns the cell of key.
func (t *cells) get(key int32) (cell, bool) {
	if int(key) < len(t.dense) {
		return cell{key: key, entries: t.dense[key][0], exits: t.dense[key][1]}, t.has[key]
	}
	if t.n == 0 {
		return cell{}, false
	}
	k := key + 1
	mask := len(t.slots) - 1
	for i := spread(k, t.shift); ; i = (i + 1) & mask {
		switch t.slots[i].key {
		case k:
			c := t.slots[i]
			c.key = key
			return c, true
		case 0:
			return cell{}, false
		}
	}
}

// spread maps a key ID to a slot: Fibonacci hashing, so that runs of IDs do
// not fill runs of slots.
func spread(k int32, shift int) int {
	return int((uint64(uint32(k)) * 0x9E3779B97F4A7C15) >> shift)
}

func (t *cells) grow() {
	n := max(64, 2*len(t.slots))
	t.shift = 64 - bits.Len(uint(n-1))
	t.slots = rehash(t.slots, n,
		func(c *cell) bool { return c.key == 0 },
		func(c *cell, _ int) int { return spread(c.key, t.shift) })
}

// appendTo appends the cells, with their key IDs, to dst.
func (t *cells) appendTo(dst []cell) []cell {
	for id, ok := range t.has {
		if ok {
			dst = append(dst, cell{key: int32(id), entries: t.dense[id][0], exits: t.dense[id][1]})
		}
	}
	for _, c := range t.slots {
		if c.key != 0 {
			c.key--
			dst = append(dst, c)
		}
	}
	return dst
}

// each calls f with the key ID of every cell.
func (t *cells) each(f func(key int32)) {
	if t.nDense > 0 {
		for id, ok := range t.has {
			if ok {
				f(int32(id))
			}
		}
	}
	if t.n > 0 {
		for _, c := range t.slots {
			if c.key != 0 {
				f(c.key - 1)
			}
		}
	}
}

// reset empties the table and keeps its memory for reuse. The next window
// starts sparse again, since the number of keys may have changed.
func (t *cells) reset() {
	clear(t.slots)
	t.n = 0
	clear(t.dense)
	clear(t.has)
	t.dense, t.has, t.nDense = t.dense[:0], t.has[:0], 0
}
