package window

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCellsMatchMap checks the cell table, sparse and dense, against a plain
// map: sums, lengths and the listed cells, across reuse after reset. The cases
// cover a window that stays sparse, one that turns dense, and keys that arrive
// after it turned dense with IDs beyond its dense array.
func TestCellsMatchMap(t *testing.T) {
	tests := []struct {
		name      string
		keys      int // keys known when the adds start
		laterKeys int // keys known by the end, new IDs added as they appear
		adds      int
		wantDense bool
	}{
		{name: "few keys stay sparse", keys: 100, laterKeys: 100, adds: 2000},
		{name: "sparse share of many keys", keys: 100_000, laterKeys: 100_000, adds: 5000},
		{name: "most keys turn dense", keys: 5000, laterKeys: 5000, adds: 20_000, wantDense: true},
		{name: "new keys after turning dense", keys: 1000, laterKeys: 3000, adds: 20_000, wantDense: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var c cells
			for round := range 3 { // the same table, reset between rounds
				want := map[int32][2]int64{}
				known := tt.keys
				for i := range tt.adds {
					if known < tt.laterKeys && i%8 == 0 {
						known++
					}
					key := int32(rng.IntN(known))
					if tt.keys < 10_000 && i < tt.adds/2 {
						key = int32(i % known) // touch every key early, as a busy window does
					}
					e, x := rng.Int64N(1<<31), rng.Int64N(1<<31)
					c.add(key, e, x, known)
					s := want[key]
					want[key] = [2]int64{s[0] + e, s[1] + x}
				}
				if got := len(c.dense) > 0; got != tt.wantDense {
					t.Errorf("round %d: dense = %v, want %v", round, got, tt.wantDense)
				}
				if c.len() != len(want) {
					t.Fatalf("round %d: len() = %d, want %d", round, c.len(), len(want))
				}
				listed := c.appendTo(nil)
				if len(listed) != len(want) {
					t.Fatalf("round %d: appendTo listed %d cells, want %d", round, len(listed), len(want))
				}
				ids := make([]int32, 0, len(listed))
				for _, cl := range listed {
					ids = append(ids, cl.key)
					if s := want[cl.key]; s != [2]int64{cl.entries, cl.exits} {
						t.Fatalf("round %d: appendTo key %d sums %d/%d, want %v", round, cl.key, cl.entries, cl.exits, s)
					}
				}
				slices.Sort(ids)
				if len(slices.Compact(ids)) != len(want) {
					t.Fatalf("round %d: appendTo listed a key twice", round)
				}
				for key := range int32(tt.laterKeys + 10) {
					got, ok := c.get(key)
					s, wantOK := want[key]
					if ok != wantOK || (ok && (got.key != key || got.entries != s[0] || got.exits != s[1])) {
						t.Fatalf("round %d: get(%d) = %+v, %v; want %v, %v", round, key, got, ok, s, wantOK)
					}
				}
				c.reset()
				if c.len() != 0 || len(c.appendTo(nil)) != 0 {
					t.Fatalf("round %d: reset left %d cells", round, c.len())
				}
			}
		})
	}
}

// TestFingerprintsSet checks the duplicate set against a map through growth
// and reuse, including fingerprints whose lo is zero (the empty-slot mark).
func TestFingerprintsSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var s fingerprints
	for round := range 3 {
		want := map[fingerprint]bool{}
		for i := range 5000 {
			f := fingerprint{lo: rng.Uint64() &^ 1, hi: rng.Uint64()}
			if i%10 == 0 {
				f.lo = 0 // stored with bit 0 set, like lo = 1
			}
			if i%3 == 0 && len(want) > 0 {
				for old := range want {
					f = old // a repeat
					break
				}
			}
			_, seen := want[f]
			if added := s.add(f); added == seen {
				t.Fatalf("round %d, add #%d of %+v: added = %v, but seen before = %v", round, i, f, added, seen)
			}
			want[f] = true
			want[fingerprint{lo: f.lo | 1, hi: f.hi}] = true // the same slot value
		}
		s.reset()
		if s.n != 0 || !s.add(fingerprint{lo: 7, hi: 7}) {
			t.Fatalf("round %d: reset left the set non-empty", round)
		}
		s.reset()
	}
}
