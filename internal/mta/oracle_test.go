package mta

// This file keeps the replay as it was before issue #16 (every reading in
// memory, one global stable sort): the oracle that the streaming replay must
// match message for message, ties included. Only the equivalence tests use it.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// newOldConverter is the old NewConverter with its two options.
func newOldConverter(maxDelta int64, log *slog.Logger) *oldConverter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &oldConverter{
		maxDelta:   maxDelta,
		log:        log,
		turnstiles: map[string]int32{},
		attrIndex:  map[string]int32{},
		lastKeyID:  -1,
		lastAttrID: -1,
	}
}

// oldConverter reads turnstile files and converts their readings to deltas. It is
// not safe for concurrent use.
type oldConverter struct {
	maxDelta int64
	log      *slog.Logger

	turnstiles map[string]int32 // CA|UNIT|SCP -> index in keys
	keys       []turnstileKey
	attrIndex  map[string]int32 // STATION\x00LINENAME\x00DIVISION\x00DESC -> index in attrs
	attrs      []attrs
	readings   []oldReading
	stats      Stats

	// one-entry caches: consecutive rows mostly share a turnstile and attributes
	lastKey, lastAttr       []byte
	lastKeyID, lastAttrID   int32
	keyScratch, attrScratch []byte
}

// oldReading is one row, compact. After Finish it holds a delta instead.
type oldReading struct {
	t              int64 // Unix seconds
	entries, exits int64
	key, attr      int32
}

// Read reads one turnstile file from r, plain or gzip; name is used in
// warnings and errors. The first non-blank line must be a header. A later line
// that is a header (as when weekly files are concatenated) starts a new
// header. Bad rows are skipped, logged with name and line number, and counted.
// An error is returned only when the file cannot be read or has no valid header.
func (c *oldConverter) Read(ctx context.Context, name string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	c.stats.Files++
	var (
		p       RowParser
		row     Row
		long    []byte
		lineNo  int
		haveHdr bool
	)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s:%d: read: %w", name, lineNo+1, err)
		}
		if len(line) == 0 && err != nil {
			break
		}
		lineNo++
		if lineNo&0xffff == 0 {
			if cerr := ctx.Err(); cerr != nil {
				return fmt.Errorf("%s:%d: %w", name, lineNo, cerr)
			}
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !haveHdr {
			h, herr := ParseHeader(line)
			if herr != nil {
				return fmt.Errorf("%s:%d: not a turnstile file: %w", name, lineNo, herr)
			}
			p.Header, haveHdr = h, true
			continue
		}
		if rerr := p.ParseRow(line, &row); rerr != nil {
			if h, herr := ParseHeader(line); herr == nil {
				p.Header = h
				continue
			}
			c.stats.Read++
			c.stats.Skipped++
			c.log.Warn("skipping bad row", "file", name, "line", lineNo, "err", rerr)
			continue
		}
		c.stats.Read++
		c.add(&row)
		if err != nil {
			break
		}
	}
	if !haveHdr {
		return fmt.Errorf("%s: not a turnstile file: no header", name)
	}
	return nil
}

// add records one parsed row.
func (c *oldConverter) add(r *Row) {
	c.keyScratch = append(append(append(append(append(c.keyScratch[:0], r.CA...), '|'), r.Unit...), '|'), r.SCP...)
	if c.lastKeyID < 0 || !bytes.Equal(c.keyScratch, c.lastKey) {
		id, ok := c.turnstiles[string(c.keyScratch)]
		if !ok {
			id = int32(len(c.keys))
			c.turnstiles[string(c.keyScratch)] = id
			c.keys = append(c.keys, turnstileKey{CA: string(r.CA), Unit: string(r.Unit), SCP: string(r.SCP)})
		}
		c.lastKeyID = id
		c.lastKey = append(c.lastKey[:0], c.keyScratch...)
	}
	s := append(c.attrScratch[:0], r.Station...)
	s = append(append(s, 0), r.LineName...)
	s = append(append(s, 0), r.Division...)
	s = append(append(s, 0), r.Desc...)
	c.attrScratch = s
	if c.lastAttrID < 0 || !bytes.Equal(s, c.lastAttr) {
		id, ok := c.attrIndex[string(s)]
		if !ok {
			id = int32(len(c.attrs))
			c.attrIndex[string(s)] = id
			c.attrs = append(c.attrs, attrs{Station: string(r.Station), LineName: string(r.LineName), Division: string(r.Division), Desc: string(r.Desc)})
		}
		c.lastAttrID = id
		c.lastAttr = append(c.lastAttr[:0], s...)
	}
	c.readings = append(c.readings, oldReading{
		t: r.Time, entries: r.Entries, exits: r.Exits,
		key: c.lastKeyID, attr: c.lastAttrID,
	})
}

// Finish converts every oldReading read so far into deltas and returns them in
// event-time order (ties in file order). The oldConverter must not be used after.
func (c *oldConverter) Finish() *oldReplay {
	rs := oldSortByTime(c.readings)
	type prev struct {
		t              int64
		entries, exits int64
		seen           bool
	}
	prevs := make([]prev, len(c.keys))
	out := rs[:0] // deltas overwrite the readings already consumed
	for _, r := range rs {
		p := &prevs[r.key]
		switch {
		case !p.seen:
			c.stats.Turnstiles++
			*p = prev{t: r.t, entries: r.entries, exits: r.exits, seen: true}
			continue
		case p.t == r.t:
			c.stats.Duplicates++
			continue
		}
		de, dx := r.entries-p.entries, r.exits-p.exits
		*p = prev{t: r.t, entries: r.entries, exits: r.exits, seen: true}
		if de < 0 || dx < 0 || de > c.maxDelta || dx > c.maxDelta {
			c.stats.Resets++
			continue
		}
		r.entries, r.exits = de, dx
		out = append(out, r)
	}
	c.stats.Deltas = int64(len(out))
	rp := &oldReplay{keys: c.keys, attrs: c.attrs, deltas: out, stats: c.stats}
	c.readings, c.turnstiles, c.attrIndex = nil, nil, nil
	return rp
}

// oldReplay is the converted content of turnstile files: per-interval counts in
// event-time order.
type oldReplay struct {
	keys   []turnstileKey
	attrs  []attrs
	deltas []oldReading
	stats  Stats
}

// Stats returns the conversion counts.
func (r *oldReplay) Stats() Stats { return r.stats }

// Records yields every record in event-time order, each equal to Record(i).
// The record is reused between iterations; copy it to keep it.
func (r *oldReplay) Records() iter.Seq[*turnstile.Record] {
	return func(yield func(*turnstile.Record) bool) {
		var (
			rec        turnstile.Record
			lastT      int64 = math.MinInt64
			date, hour string
			t          time.Time
		)
		for i := range r.deltas {
			d := &r.deltas[i]
			if d.t != lastT {
				// Readings cluster on the 4-hour grid: format each time once.
				lastT, t = d.t, time.Unix(d.t, 0).UTC()
				date, hour = t.Format("01-02-06"), t.Format("15:04:05")
			}
			k, a := &r.keys[d.key], &r.attrs[d.attr]
			rec = turnstile.Record{
				CA: k.CA, Unit: k.Unit, SCP: k.SCP,
				Station: a.Station, LineName: a.LineName, Division: a.Division,
				Date: date, Time: hour, Desc: a.Desc,
				Entries: d.entries, Exits: d.exits,
				ID:        turnstile.ReadingID(k.CA, k.Unit, k.SCP, t),
				Timestamp: t,
			}
			if !yield(&rec) {
				return
			}
		}
	}
}

// oldSortByTime sorts readings by time, keeping rows of the same time in the
// order they were read. It is an LSD radix sort on the time relative to the
// earliest one, 11 bits per pass: a week of readings takes two passes over the
// data, against a comparison sort's log2(n). It may return the scratch copy
// rather than rs.
func oldSortByTime(rs []oldReading) []oldReading {
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
	tmp := make([]oldReading, len(rs))
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
