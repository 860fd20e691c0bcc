package mta

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// run is a sequence of readings sorted by time, stable in read order: the
// readings of one file (or of part of a huge one). It lives in memory (mem)
// or in the spill file (off, size).
type run struct {
	index      int // creation order: ties between runs go to the lower index
	n          int // readings
	minT, maxT int64
	mem        []reading
	off, size  int64
}

// The spill file holds runs one after the other, each as blocks of at most
// blockReadings readings:
//
//	block   = uvarint(payload bytes) uvarint(readings) payload
//	payload = per reading: uvarint(t - previous t in the run) uvarint(key)
//	          uvarint(attr) uvarint(entries) uvarint(exits)
//
// The first reading's t is taken relative to the run's minT. A weekly file's
// reading takes about 12 bytes there against 32 in memory.
const blockReadings = 4096

// spillFile is the temporary file that holds the spilled runs. It is removed
// from its directory as soon as it is created, so that nothing is left behind
// even when the process is killed; the open file keeps the space until Close.
type spillFile struct {
	f   *os.File
	w   *bufio.Writer
	off int64
	buf []byte
}

func newSpillFile(dir string) (*spillFile, error) {
	f, err := os.CreateTemp(dir, "mta-replay-*.spill")
	if err != nil {
		return nil, fmt.Errorf("mta: create spill file (set --temp-dir to a writable directory with space): %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("mta: unlink spill file: %w", err)
	}
	return &spillFile{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

// write appends the sorted readings rs as run rn, setting its offset and size.
func (s *spillFile) write(rn *run, rs []reading) error {
	rn.off = s.off
	prevT := rn.minT
	var hdr [2 * binary.MaxVarintLen64]byte
	for len(rs) > 0 {
		blk := rs[:min(len(rs), blockReadings)]
		rs = rs[len(blk):]
		b := s.buf[:0]
		for i := range blk {
			r := &blk[i]
			b = binary.AppendUvarint(b, uint64(r.t-prevT))
			b = binary.AppendUvarint(b, uint64(r.key))
			b = binary.AppendUvarint(b, uint64(r.attr))
			b = binary.AppendUvarint(b, uint64(r.entries))
			b = binary.AppendUvarint(b, uint64(r.exits))
			prevT = r.t
		}
		s.buf = b
		h := binary.AppendUvarint(hdr[:0], uint64(len(b)))
		h = binary.AppendUvarint(h, uint64(len(blk)))
		if _, err := s.w.Write(h); err != nil {
			return fmt.Errorf("mta: write spill file %s: %w", s.f.Name(), err)
		}
		if _, err := s.w.Write(b); err != nil {
			return fmt.Errorf("mta: write spill file %s: %w", s.f.Name(), err)
		}
		s.off += int64(len(h) + len(b))
	}
	rn.size = s.off - rn.off
	return nil
}

func (s *spillFile) flush() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("mta: write spill file %s: %w", s.f.Name(), err)
	}
	return nil
}

func (s *spillFile) close() error {
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("mta: close spill file: %w", err)
	}
	return nil
}

// cursor walks one run: buf[pos] is its next reading.
type cursor struct {
	rn   *run
	buf  []reading
	pos  int
	src  *bufio.Reader // nil for a run in memory
	left int           // readings of a spilled run not yet decoded
	prev int64         // the last decoded t
	raw  []byte
}

// errCorrupt reports a spill file that does not decode.
var errCorrupt = errors.New("mta: spill file is corrupt")

// refill decodes the next block of a spilled run. It returns false at the end
// of the run.
func (c *cursor) refill() (bool, error) {
	if c.src == nil || c.left == 0 {
		return false, nil
	}
	size, err := binary.ReadUvarint(c.src)
	if err != nil {
		return false, fmt.Errorf("mta: read spill file: %w", noEOF(err))
	}
	count, err := binary.ReadUvarint(c.src)
	if err != nil {
		return false, fmt.Errorf("mta: read spill file: %w", noEOF(err))
	}
	if count == 0 || count > blockReadings || int(count) > c.left || size > blockReadings*5*binary.MaxVarintLen64 {
		return false, errCorrupt
	}
	if cap(c.raw) < int(size) {
		c.raw = make([]byte, size)
	}
	raw := c.raw[:size]
	if _, err := io.ReadFull(c.src, raw); err != nil {
		return false, fmt.Errorf("mta: read spill file: %w", noEOF(err))
	}
	if cap(c.buf) < int(count) {
		c.buf = make([]reading, count)
	}
	buf := c.buf[:count]
	var v [5]uint64
	for i := range buf {
		for j := range v {
			x, n := binary.Uvarint(raw)
			if n <= 0 {
				return false, errCorrupt
			}
			v[j], raw = x, raw[n:]
		}
		c.prev += int64(v[0])
		buf[i] = reading{t: c.prev, key: int32(v[1]), attr: int32(v[2]), entries: int64(v[3]), exits: int64(v[4])}
	}
	if len(raw) != 0 {
		return false, errCorrupt
	}
	c.buf, c.pos, c.left = buf, 0, c.left-int(count)
	return true, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// before reports whether a's next reading goes before b's: by time, then by
// run (read order).
func (c *cursor) before(o *cursor) bool {
	ct, ot := c.buf[c.pos].t, o.buf[o.pos].t
	return ct < ot || ct == ot && c.rn.index < o.rn.index
}

// merger yields the readings of all runs in (time, run) order: a stable sort
// of all readings by time. Runs wait in order of their first reading and join
// the heap only when the merge reaches it, so that runs covering disjoint
// time ranges are read one after the other, each with one block in memory.
type merger struct {
	pending []*run // by minT, then index
	heap    []*cursor
	spill   *spillFile
	fail    error
}

func newMerger(runs []*run, spill *spillFile) (*merger, error) {
	pending := make([]*run, len(runs))
	copy(pending, runs)
	// Stable by index: runs come in index order.
	sortRuns(pending)
	return &merger{pending: pending, spill: spill}, nil
}

// sortRuns sorts runs by (minT, index): an insertion sort, as runs mostly
// come in time order already.
func sortRuns(rs []*run) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && (rs[j].minT < rs[j-1].minT || rs[j].minT == rs[j-1].minT && rs[j].index < rs[j-1].index); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// next returns the next reading, or false at the end or on an error (see err).
func (m *merger) next() (reading, bool) {
	for len(m.pending) > 0 && (len(m.heap) == 0 || m.pending[0].minT <= m.heap[0].buf[m.heap[0].pos].t) {
		if !m.activate(m.pending[0]) {
			return reading{}, false
		}
		m.pending = m.pending[1:]
	}
	if len(m.heap) == 0 {
		return reading{}, false
	}
	c := m.heap[0]
	d := c.buf[c.pos]
	c.pos++
	if c.pos == len(c.buf) {
		ok, err := c.refill()
		if err != nil {
			m.fail = err
			return reading{}, false
		}
		if !ok {
			last := len(m.heap) - 1
			m.heap[0] = m.heap[last]
			m.heap[last] = nil
			m.heap = m.heap[:last]
		}
	}
	m.down(0)
	return d, true
}

// activate puts run rn into the heap.
func (m *merger) activate(rn *run) bool {
	c := &cursor{rn: rn}
	if rn.mem != nil {
		c.buf = rn.mem
	} else {
		c.src = bufio.NewReaderSize(io.NewSectionReader(m.spill.f, rn.off, rn.size), 64<<10)
		c.left, c.prev = rn.n, rn.minT
		if ok, err := c.refill(); err != nil || !ok {
			if err == nil {
				err = errCorrupt
			}
			m.fail = err
			return false
		}
	}
	m.heap = append(m.heap, c)
	m.up(len(m.heap) - 1)
	return true
}

func (m *merger) up(i int) {
	h := m.heap
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (m *merger) down(i int) {
	h := m.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && h[r].before(h[l]) {
			j = r
		}
		if !h[j].before(h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

func (m *merger) err() error { return m.fail }

func (m *merger) close() { m.heap, m.pending = nil, nil }
