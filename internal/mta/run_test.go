package mta

import (
	"bufio"
	"io"
	"math"
	"slices"
	"testing"
)

// FuzzSpillRoundTrip writes a sorted run to a spill file and reads it back
// through a cursor: the same readings, in the same order. Then it reads the
// same bytes with a few of them changed: a cursor may fail, but not panic
// or loop.
func FuzzSpillRoundTrip(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, uint16(5000), uint8(3))
	f.Add([]byte{}, uint16(1), uint8(0))
	f.Add([]byte{255, 255, 255, 255, 0, 0, 0, 0}, uint16(9000), uint8(200))
	f.Fuzz(func(t *testing.T, seed []byte, n uint16, flip uint8) {
		if n == 0 {
			return
		}
		rs := make([]reading, n)
		t0 := int64(1700000000)
		for i := range rs {
			b := func(k int) int64 {
				if len(seed) == 0 {
					return int64(i * k)
				}
				return int64(seed[(i*k)%len(seed)])
			}
			t0 += b(1) % 3 * 3600
			rs[i] = reading{t: t0, key: int32(b(3)), attr: int32(b(5) % 7), entries: b(7) << 40, exits: b(11) * 999}
		}
		rs[0].entries = math.MaxInt64 >> 4 // 18 digits fit
		sf, err := newSpillFile(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer sf.close()
		rn := &run{n: len(rs), minT: rs[0].t, maxT: rs[len(rs)-1].t}
		if err := sf.write(rn, rs); err != nil {
			t.Fatal(err)
		}
		if err := sf.flush(); err != nil {
			t.Fatal(err)
		}
		m, _ := newMerger([]*run{rn}, sf)
		var got []reading
		for {
			d, ok := m.next()
			if !ok {
				break
			}
			got = append(got, d)
		}
		if m.err() != nil || !slices.Equal(got, rs) {
			t.Fatalf("read back %d readings (err %v), want the %d written", len(got), m.err(), len(rs))
		}

		// Corrupt one byte and read again.
		raw := make([]byte, rn.size)
		if _, err := sf.f.ReadAt(raw, rn.off); err != nil {
			t.Fatal(err)
		}
		raw[int(flip)%len(raw)] ^= 0xff
		c := &cursor{rn: rn, src: bufio.NewReader(io.NewSectionReader(readerAt(raw), 0, int64(len(raw)))), left: rn.n, prev: rn.minT}
		for range rn.n + 1 {
			ok, err := c.refill()
			if err != nil || !ok {
				break
			}
		}
	})
}

type readerAt []byte

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r)) {
		return 0, io.EOF
	}
	n := copy(p, r[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
