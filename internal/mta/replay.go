// Package mta reads real MTA turnstile files and turns their cumulative
// register readings into per-interval turnstile counts, in event-time order.
//
// It is pure: no Kafka, no clocks. A Converter reads any number of files
// (plain or gzip) and Finish returns a Replay: the deltas of every turnstile,
// sorted by reading time across all files, ready to publish.
//
// The conversion rules, per turnstile (CA, UNIT, SCP) in time order:
//   - the first reading emits nothing;
//   - a reading emits ENTRIES and EXITS minus those of the previous reading of
//     the same turnstile, even when that previous reading was skipped;
//   - a reading whose delta is negative or above the maximum delta is skipped
//     and counted as a reset;
//   - of several readings with the same turnstile and time, the first in file
//     order is kept and the rest are ignored completely (counted as duplicates);
//   - STATION, LINENAME, DIVISION and DESC come from the reading itself, and
//     the ID is turnstile.ReadingID of the turnstile and reading time.
//
// All readings are held in memory (about 40 bytes each) so that the output can
// be sorted by event time across files.
package mta

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
	"os"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// DefaultMaxDelta is the largest per-interval ENTRIES or EXITS delta that is
// taken as a real count rather than a counter reset or a bad reading.
const DefaultMaxDelta = 10000

// Stats counts what a Converter saw. Read = Skipped + Duplicates + Turnstiles
// + Resets + Deltas.
type Stats struct {
	Files      int   // files read
	Read       int64 // data rows read (blank lines and headers excluded)
	Skipped    int64 // bad rows: unparseable, each logged with its file and line
	Duplicates int64 // readings of a turnstile and time already seen
	Turnstiles int64 // distinct turnstiles: their first reading emits nothing
	Resets     int64 // readings whose delta is negative or above the maximum
	Deltas     int64 // per-interval counts emitted
}

// Option configures a Converter.
type Option func(*Converter)

// WithMaxDelta sets the largest accepted per-interval delta (default
// DefaultMaxDelta). It must not be negative.
func WithMaxDelta(n int64) Option { return func(c *Converter) { c.maxDelta = n } }

// WithLogger sets the logger that warns about bad rows (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *Converter) { c.log = l } }

// Converter reads turnstile files and converts their readings to deltas. It is
// not safe for concurrent use.
type Converter struct {
	maxDelta int64
	log      *slog.Logger

	turnstiles map[string]int32 // CA|UNIT|SCP -> index in keys
	keys       []turnstileKey
	attrIndex  map[string]int32 // STATION\x00LINENAME\x00DIVISION\x00DESC -> index in attrs
	attrs      []attrs
	readings   []reading
	stats      Stats

	// one-entry caches: consecutive rows mostly share a turnstile and attributes
	lastKey, lastAttr       []byte
	lastKeyID, lastAttrID   int32
	keyScratch, attrScratch []byte
}

type turnstileKey struct{ CA, Unit, SCP string }

type attrs struct{ Station, LineName, Division, Desc string }

// reading is one row, compact. After Finish it holds a delta instead.
type reading struct {
	t              int64 // Unix seconds
	entries, exits int64
	key, attr      int32
}

// NewConverter returns a Converter. It returns an error for an invalid option.
func NewConverter(opts ...Option) (*Converter, error) {
	c := &Converter{
		maxDelta:   DefaultMaxDelta,
		log:        slog.New(slog.DiscardHandler),
		turnstiles: map[string]int32{},
		attrIndex:  map[string]int32{},
		lastKeyID:  -1,
		lastAttrID: -1,
	}
	for _, opt := range opts {
		opt(c)
	}
	if c.maxDelta < 0 {
		return nil, fmt.Errorf("max delta %d: must not be negative", c.maxDelta)
	}
	if c.log == nil {
		return nil, errors.New("nil logger")
	}
	return c, nil
}

// ReadFile reads one turnstile file, plain or gzip (detected by its magic
// bytes, whatever its name).
func (c *Converter) ReadFile(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open turnstile file: %w", err)
	}
	defer f.Close()
	return c.Read(ctx, path, f)
}

// Read reads one turnstile file from r, plain or gzip; name is used in
// warnings and errors. The first non-blank line must be a header. A later line
// that is a header (as when weekly files are concatenated) starts a new
// header. Bad rows are skipped, logged with name and line number, and counted.
// An error is returned only when the file cannot be read or has no valid header.
func (c *Converter) Read(ctx context.Context, name string, r io.Reader) error {
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
func (c *Converter) add(r *Row) {
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
	c.readings = append(c.readings, reading{
		t: r.Time, entries: r.Entries, exits: r.Exits,
		key: c.lastKeyID, attr: c.lastAttrID,
	})
}

// Finish converts every reading read so far into deltas and returns them in
// event-time order (ties in file order). The Converter must not be used after.
func (c *Converter) Finish() *Replay {
	rs := sortByTime(c.readings)
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
	rp := &Replay{keys: c.keys, attrs: c.attrs, deltas: out, stats: c.stats}
	c.readings, c.turnstiles, c.attrIndex = nil, nil, nil
	return rp
}

// Stats returns the counts so far. Duplicates, Turnstiles, Resets and Deltas
// are known only after Finish; use Replay.Stats then.
func (c *Converter) Stats() Stats { return c.stats }

// Replay is the converted content of turnstile files: per-interval counts in
// event-time order.
type Replay struct {
	keys   []turnstileKey
	attrs  []attrs
	deltas []reading
	stats  Stats
}

// Stats returns the conversion counts.
func (r *Replay) Stats() Stats { return r.stats }

// Len returns the number of records.
func (r *Replay) Len() int { return len(r.deltas) }

// Time returns the event time of record i.
func (r *Replay) Time(i int) time.Time { return time.Unix(r.deltas[i].t, 0).UTC() }

// Record returns record i, with its deterministic ID.
func (r *Replay) Record(i int) turnstile.Record {
	d := &r.deltas[i]
	k, a := &r.keys[d.key], &r.attrs[d.attr]
	t := time.Unix(d.t, 0).UTC()
	return turnstile.NewRecord(k.CA, k.Unit, k.SCP, a.Station, a.LineName, a.Division, a.Desc,
		d.entries, d.exits, turnstile.ReadingID(k.CA, k.Unit, k.SCP, t), t)
}

// Records yields every record in event-time order, each equal to Record(i).
// The record is reused between iterations; copy it to keep it.
func (r *Replay) Records() iter.Seq[*turnstile.Record] {
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

// Load reads the files in order and converts them: a convenience for
// NewConverter, ReadFile on each path, and Finish.
func Load(ctx context.Context, paths []string, opts ...Option) (*Replay, error) {
	c, err := NewConverter(opts...)
	if err != nil {
		return nil, err
	}
	for _, path := range paths {
		if err := c.ReadFile(ctx, path); err != nil {
			return nil, err
		}
	}
	return c.Finish(), nil
}

// sortByTime sorts readings by time, keeping rows of the same time in the
// order they were read. It is an LSD radix sort on the time relative to the
// earliest one, 11 bits per pass: a week of readings takes two passes over the
// data, against a comparison sort's log2(n). It may return the scratch copy
// rather than rs.
func sortByTime(rs []reading) []reading {
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
	tmp := make([]reading, len(rs))
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
