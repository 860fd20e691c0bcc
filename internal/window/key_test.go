package window

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestAddMalformedKey checks that a record whose key does not decode is an
// error from Add, not a panic, and that Add then changes nothing: the record
// is not remembered as seen, and no key or window is opened for it.
func TestAddMalformedKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
	}{
		{name: "too few fields", key: "A002,R051"},
		{name: "too many fields", key: "A002,R051,02-00-00,59 ST,NQR456W,BMT,REGULAR,EXTRA"},
		{name: "length-prefixed form cut short", key: "\x00\x04A0"},
		{name: "empty", key: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := mustSpec(t, 5*time.Minute, 5*time.Minute, 0)
			e := New(spec, newKeys(testSeed), 0)
			good := record(t, in{scp: "01", ts: "2024-07-22 10:01:00", entries: 5, exits: 2, id: "x"})
			bad := *good
			bad.Key = []byte(tt.key)

			_, err := e.Add(&bad, 3)
			if err == nil {
				t.Fatalf("Add of key %q returned no error", tt.key)
			}
			if !strings.Contains(err.Error(), "offset 3") || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.key)) {
				t.Errorf("error %q does not name the offset and the key", err)
			}
			if e.OpenWindows() != 0 || e.keys.Live() != 0 {
				t.Errorf("after the error: %d open windows, %d keys; want none", e.OpenWindows(), e.keys.Live())
			}
			// The same record with a good key is new, not a duplicate.
			if r := add(t, e, good, 4); r.Duplicate || r.Added != 1 {
				t.Errorf("the good record after the bad one: %+v, want added to one window", r)
			}
		})
	}
}

// TestFingerprintsRemove checks the duplicate memory's remove against a map:
// after random adds and removes, every fingerprint added and not removed is
// still there and every removed one is gone, whatever the probe runs.
func TestFingerprintsRemove(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var s fingerprints
	want := map[fingerprint]bool{}
	for i := range 20_000 {
		// Few distinct hi bits, so that probe runs are long and wrap.
		f := fingerprint{lo: rng.Uint64() | 1, hi: uint64(rng.IntN(64))}
		if i%3 == 2 && len(want) > 0 {
			for g := range want {
				f = g
				break
			}
			s.remove(f)
			delete(want, f)
			continue
		}
		if got := s.add(f); got == want[f] {
			t.Fatalf("add(%v) = %v with the fingerprint present = %v", f, got, want[f])
		}
		want[f] = true
	}
	if s.n != len(want) {
		t.Fatalf("n = %d, want %d", s.n, len(want))
	}
	for f := range want {
		if s.add(f) {
			t.Fatalf("%v was lost by a remove", f)
		}
	}
	s.remove(fingerprint{lo: 2, hi: 3}) // absent: no change
	if s.n != len(want) {
		t.Fatalf("n = %d after removing an absent fingerprint, want %d", s.n, len(want))
	}
}

// fare is a key of another shape than a turnstile's: the engine groups by
// whatever the caller decodes.
type fare struct{ complex, payment string }

func decodeFare(b []byte) (fare, error) {
	c, p, ok := strings.Cut(string(b), "/")
	if !ok {
		return fare{}, errors.New("no '/' in the key")
	}
	return fare{c, p}, nil
}

func compareFare(a, b *fare) int {
	return cmp.Or(strings.Compare(a.complex, b.complex), strings.Compare(a.payment, b.payment))
}

// TestOtherKeyType sums records of a non-turnstile key: rows carry the
// decoded key and come in the caller's order.
func TestOtherKeyType(t *testing.T) {
	spec := mustSpec(t, time.Hour, time.Hour, 0)
	e := New(spec, NewKeys(testSeed, decodeFare, compareFare), 0)
	for i, r := range []struct {
		key, id string
		t, a, b int64
	}{
		{"611/omny", "1", 10, 5, 1},
		{"611/metrocard", "2", 20, 3, 0},
		{"120/omny", "3", 30, 7, 2},
		{"611/omny", "4", 40, 1, 1},
		{"611/omny", "4", 40, 100, 100}, // a duplicate
	} {
		add(t, e, &Record{Time: r.t, Entries: r.a, Exits: r.b, Key: []byte(r.key), Dedup: []byte(r.id)}, int64(i))
	}
	if _, err := e.Add(&Record{Time: 50, Key: []byte("611"), Dedup: []byte("5")}, 5); err == nil {
		t.Error("a key the decoder refuses: no error")
	}
	var got []string
	if err := e.Flush(func(c *Closed[fare]) error {
		for _, r := range c.Rows {
			got = append(got, fmt.Sprintf("%d %s/%s %d %d", c.End, r.Key.complex, r.Key.payment, r.Entries, r.Exits))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := "3600 120/omny 7 2, 3600 611/metrocard 3 0, 3600 611/omny 6 2"
	if s := strings.Join(got, ", "); s != want {
		t.Errorf("rows %s\nwant %s", s, want)
	}
}
