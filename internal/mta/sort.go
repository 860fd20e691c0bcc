package mta

import "slices"

// sealRun sorts the readings read since the last run into a new run, kept in
// memory while the budget allows and spilled otherwise.
func (fr *fileReader) sealRun() error {
	if len(fr.chunk) == 0 {
		return nil
	}
	if cap(fr.scratch) < len(fr.chunk) {
		fr.scratch = make([]reading, len(fr.chunk), cap(fr.chunk))
	}
	sorted := sortByTimeInto(fr.chunk, fr.scratch[:len(fr.chunk)])
	// Runs order ties by file, then by their order within the file.
	rn := &run{index: fr.file<<20 | fr.chunks, n: len(sorted), minT: sorted[0].t, maxT: sorted[len(sorted)-1].t}
	fr.chunks++
	if err := fr.c.addRun(rn, sorted); err != nil {
		return err
	}
	fr.chunk = fr.chunk[:0]
	return nil
}

// addRun stores the sorted run rs as rn. It does not keep rs.
func (c *Converter) addRun(rn *run, rs []reading) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	size := int64(len(rs)) * readingSize
	if c.memBytes+size <= c.budget {
		rn.mem = slices.Clone(rs)
		c.memBytes += size
	} else {
		if c.spill == nil {
			sf, err := newSpillFile(c.tempDir)
			if err != nil {
				c.err = err
				return err
			}
			c.spill = sf
		}
		if err := c.spill.write(rn, rs); err != nil {
			c.err = err
			return err
		}
	}
	c.runs = append(c.runs, rn)
	return nil
}

// sortByTimeInto sorts readings by time, keeping rows of the same time in the
// order they were read. It is an LSD radix sort on the time relative to the
// earliest one, 11 bits per pass: a week of readings takes two passes over the
// data, against a comparison sort's log2(n). tmp is scratch space as long as
// rs; the result is rs or tmp.
func sortByTimeInto(rs, tmp []reading) []reading {
	if len(rs) < 2 {
		return rs
	}
	minT, maxT := rs[0].t, rs[0].t
	for i := range rs {
		minT = min(minT, rs[i].t)
		maxT = max(maxT, rs[i].t)
	}
	span := uint64(maxT - minT)
	if span == 0 {
		return rs
	}
	const bits = 11
	const buckets = 1 << bits
	src, dst := rs, tmp
	for shift := uint(0); shift < 64 && span>>shift != 0; shift += bits {
		var count [buckets]int
		for i := range src {
			count[(uint64(src[i].t-minT)>>shift)&(buckets-1)]++
		}
		pos := 0
		for b := range count {
			pos, count[b] = pos+count[b], pos
		}
		for i := range src {
			b := (uint64(src[i].t-minT) >> shift) & (buckets - 1)
			dst[count[b]] = src[i]
			count[b]++
		}
		src, dst = dst, src
	}
	return src
}
