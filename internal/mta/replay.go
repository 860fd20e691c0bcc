// Package mta reads real MTA turnstile files and turns their cumulative
// register readings into per-interval turnstile counts, in event-time order.
//
// It holds no Kafka code. A Converter reads any number of files (plain or
// gzip) and Finish returns a Replay, whose Records yields the deltas of every
// turnstile sorted by reading time across all files, ready to publish.
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
// Records of equal time come in read order: file order, then line order.
//
// Memory does not grow with the number of files (see docs/producer.md). Each
// file is read into a compact run of readings (32 bytes each), sorted by time
// on its own, and either kept in memory, while the runs kept fit in the
// memory budget, or spilled to a temporary file in a compact varint encoding.
// Records is a k-way merge of the runs in (time, run) order, which is exactly
// a stable sort of all readings by time; a run joins the merge only when the
// merge reaches its first reading, so weekly files that cover disjoint weeks
// are merged one or two at a time. Across runs only each turnstile's previous
// reading is carried, which the delta needs.
//
// Inputs (input.go) are local files, directories, globs or gs:// prefixes
// read through the lake's GCS client; ReadInputs reads several files at once.
// Progress and Reporter (progress.go) show how far a long replay is.
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
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// DefaultMaxDelta is the largest per-interval ENTRIES or EXITS delta that is
// taken as a real count rather than a counter reset or a bad reading.
const DefaultMaxDelta = 10000

// DefaultMemoryBudget is how many bytes of sorted runs a Converter keeps in
// memory before it spills runs to its temporary file: about a million
// readings, four weekly MTA files.
const DefaultMemoryBudget = 32 << 20

// DefaultRunReadings is the most readings one run holds: a file with more is
// cut into several runs, so that one huge file does not need a huge buffer.
const DefaultRunReadings = 1 << 19

// Stats counts what a Converter saw. Read = Skipped + OutOfRange + Duplicates
// + Turnstiles + Resets + Deltas.
type Stats struct {
	Files      int   // files read
	Read       int64 // data rows read (blank lines and headers excluded)
	Skipped    int64 // bad rows: unparseable, each logged with its file and line
	OutOfRange int64 // readings outside --from/--to not needed for a delta in range
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

// WithRange keeps only the deltas whose reading time t is in [from, to). A
// zero from or to leaves that side open. The deltas in range are exactly
// those a replay of everything would give: the last reading of each turnstile
// before from is kept as the base of its first delta in range, and the other
// readings outside the range are dropped as they are read.
func WithRange(from, to time.Time) Option {
	return func(c *Converter) {
		c.from, c.to = math.MinInt64, math.MaxInt64
		if !from.IsZero() {
			c.from = from.Unix()
		}
		if !to.IsZero() {
			c.to = to.Unix()
		}
	}
}

// WithMemoryBudget sets how many bytes of sorted runs stay in memory (default
// DefaultMemoryBudget); runs beyond it are spilled to a temporary file. 0
// spills every run.
func WithMemoryBudget(bytes int64) Option { return func(c *Converter) { c.budget = bytes } }

// WithRunReadings sets the most readings in one run (default
// DefaultRunReadings).
func WithRunReadings(n int) Option { return func(c *Converter) { c.runReadings = n } }

// WithTempDir sets the directory of the spill file (default os.TempDir()).
func WithTempDir(dir string) Option { return func(c *Converter) { c.tempDir = dir } }

// WithProgress makes the Converter and its Replay count their progress in p.
func WithProgress(p *Progress) Option { return func(c *Converter) { c.progress = p } }

// Converter reads turnstile files and converts their readings to deltas. Its
// methods are not safe for concurrent use; ReadInputs reads files on several
// goroutines itself.
type Converter struct {
	maxDelta    int64
	log         *slog.Logger
	from, to    int64 // Unix seconds; readings with from <= t < to are replayed
	budget      int64
	runReadings int
	tempDir     string
	progress    *Progress

	readers []*fileReader // readers[0] serves Read; ReadInputs adds more
	files   int           // files started: the next file's position in read order

	mu         sync.Mutex       // guards the rest, shared by the readers
	turnstiles map[string]int32 // CA|UNIT|SCP -> index in keys
	keys       []turnstileKey
	attrIndex  map[string]int32 // STATION\x00LINENAME\x00DIVISION\x00DESC -> index in attrs
	attrs      []attrs
	stats      Stats
	runs       []*run
	memBytes   int64      // bytes of the runs kept in memory
	spill      *spillFile // nil until the first run is spilled
	err        error      // a failed spill: every later call fails with it
}

// fileReader reads one file at a time into sorted runs: the state of one
// reading goroutine.
type fileReader struct {
	c              *Converter
	file, chunks   int       // the file being read (its position in read order) and its runs so far
	chunk, scratch []reading // the run being read, and the sort's scratch space
	stats          Stats     // of the file being read
	before         []early   // with --from: per turnstile, its last reading before from

	// one-entry caches: consecutive rows mostly share a turnstile and attributes
	lastKey, lastAttr       []byte
	lastKeyID, lastAttrID   int32
	keyScratch, attrScratch []byte
}

// early is a turnstile's latest reading before --from, and the file it
// came from.
type early struct {
	r    reading
	file int
	set  bool
}

type turnstileKey struct{ CA, Unit, SCP string }

type attrs struct{ Station, LineName, Division, Desc string }

// reading is one row, compact. In a Replay's output it holds a delta instead.
type reading struct {
	t              int64 // Unix seconds
	entries, exits int64
	key, attr      int32
}

// readingSize is the size of a reading in memory.
const readingSize = 32

// NewConverter returns a Converter. It returns an error for an invalid option.
func NewConverter(opts ...Option) (*Converter, error) {
	c := &Converter{
		maxDelta:    DefaultMaxDelta,
		log:         slog.New(slog.DiscardHandler),
		from:        math.MinInt64,
		to:          math.MaxInt64,
		budget:      DefaultMemoryBudget,
		runReadings: DefaultRunReadings,
		turnstiles:  map[string]int32{},
		attrIndex:   map[string]int32{},
	}
	c.readers = []*fileReader{c.newFileReader()}
	for _, opt := range opts {
		opt(c)
	}
	switch {
	case c.maxDelta < 0:
		return nil, fmt.Errorf("max delta %d: must not be negative", c.maxDelta)
	case c.log == nil:
		return nil, errors.New("nil logger")
	case c.from >= c.to:
		return nil, fmt.Errorf("range from %s to %s is empty", time.Unix(c.from, 0).UTC().Format(turnstile.TimestampLayout), time.Unix(c.to, 0).UTC().Format(turnstile.TimestampLayout))
	case c.budget < 0:
		return nil, fmt.Errorf("memory budget %d: must not be negative", c.budget)
	case c.runReadings < 1:
		return nil, fmt.Errorf("run readings %d: must be at least 1", c.runReadings)
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
// An error is returned only when the file cannot be read or has no valid
// header, or when a run cannot be spilled.
func (c *Converter) Read(ctx context.Context, name string, r io.Reader) error {
	c.files++
	return c.readers[0].read(ctx, c.files-1, name, r)
}

func (c *Converter) newFileReader() *fileReader {
	return &fileReader{c: c, lastKeyID: -1, lastAttrID: -1}
}

// read reads file number file (its position in read order) from r.
func (fr *fileReader) read(ctx context.Context, file int, name string, r io.Reader) error {
	c := fr.c
	if err := c.failed(); err != nil {
		return err
	}
	fr.file, fr.chunks, fr.chunk, fr.stats = file, 0, fr.chunk[:0], Stats{}
	br := bufio.NewReaderSize(r, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	fr.stats.Files = 1
	var (
		p        RowParser
		row      Row
		long     []byte
		lineNo   int
		haveHdr  bool
		reported int64
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
			c.progress.addRead(fr.stats.Read - reported)
			reported = fr.stats.Read
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
			fr.stats.Read++
			fr.stats.Skipped++
			c.log.Warn("skipping bad row", "file", name, "line", lineNo, "err", rerr)
			continue
		}
		fr.stats.Read++
		if row.Time < c.from || row.Time >= c.to {
			fr.outOfRange(&row)
		} else {
			if len(fr.chunk) == c.runReadings {
				if serr := fr.sealRun(); serr != nil {
					return serr
				}
			}
			fr.chunk = append(fr.chunk, fr.intern(&row))
		}
		if err != nil {
			break
		}
	}
	if !haveHdr {
		return fmt.Errorf("%s: not a turnstile file: no header", name)
	}
	// One file, one run (or several for a huge file): runs never mix files,
	// so the merge orders ties by file first.
	if err := fr.sealRun(); err != nil {
		return err
	}
	c.mu.Lock()
	c.stats.Files += fr.stats.Files
	c.stats.Read += fr.stats.Read
	c.stats.Skipped += fr.stats.Skipped
	c.stats.OutOfRange += fr.stats.OutOfRange
	c.mu.Unlock()
	c.progress.addRead(fr.stats.Read - reported)
	c.progress.fileDone()
	return nil
}

// failed returns the error of a failed spill, if any.
func (c *Converter) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// outOfRange deals with a reading outside [from, to): one at or after to is
// dropped; one before from is kept only while it is its turnstile's latest
// (the first in read order of equal times), as the base of the turnstile's
// first delta in range.
func (fr *fileReader) outOfRange(r *Row) {
	if r.Time >= fr.c.to {
		fr.stats.OutOfRange++
		return
	}
	rd := fr.intern(r)
	for int(rd.key) >= len(fr.before) {
		fr.before = append(fr.before, early{})
	}
	b := &fr.before[rd.key]
	if !b.set {
		*b = early{r: rd, file: fr.file, set: true}
		return
	}
	fr.stats.OutOfRange++ // one of the two is dropped
	if rd.t > b.r.t {     // this reader reads its files in read order
		*b = early{r: rd, file: fr.file, set: true}
	}
}

// intern returns the compact reading of a parsed row, interning its
// turnstile and attributes.
func (fr *fileReader) intern(r *Row) reading {
	c := fr.c
	fr.keyScratch = append(append(append(append(append(fr.keyScratch[:0], r.CA...), '|'), r.Unit...), '|'), r.SCP...)
	if fr.lastKeyID < 0 || !bytes.Equal(fr.keyScratch, fr.lastKey) {
		c.mu.Lock()
		id, ok := c.turnstiles[string(fr.keyScratch)]
		if !ok {
			id = int32(len(c.keys))
			c.turnstiles[string(fr.keyScratch)] = id
			c.keys = append(c.keys, turnstileKey{CA: string(r.CA), Unit: string(r.Unit), SCP: string(r.SCP)})
		}
		c.mu.Unlock()
		fr.lastKeyID = id
		fr.lastKey = append(fr.lastKey[:0], fr.keyScratch...)
	}
	s := append(fr.attrScratch[:0], r.Station...)
	s = append(append(s, 0), r.LineName...)
	s = append(append(s, 0), r.Division...)
	s = append(append(s, 0), r.Desc...)
	fr.attrScratch = s
	if fr.lastAttrID < 0 || !bytes.Equal(s, fr.lastAttr) {
		c.mu.Lock()
		id, ok := c.attrIndex[string(s)]
		if !ok {
			id = int32(len(c.attrs))
			c.attrIndex[string(s)] = id
			c.attrs = append(c.attrs, attrs{Station: string(r.Station), LineName: string(r.LineName), Division: string(r.Division), Desc: string(r.Desc)})
		}
		c.mu.Unlock()
		fr.lastAttrID = id
		fr.lastAttr = append(fr.lastAttr[:0], s...)
	}
	return reading{t: r.Time, entries: r.Entries, exits: r.Exits, key: fr.lastKeyID, attr: fr.lastAttrID}
}

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

// Finish ends the reading and returns the Replay. The Converter must not be
// used after. A failure to spill the last run shows in the Replay's Err.
func (c *Converter) Finish() *Replay {
	c.mu.Lock()
	defer c.mu.Unlock()
	rp := &Replay{keys: c.keys, attrs: c.attrs, maxDelta: c.maxDelta, progress: c.progress,
		from: math.MaxInt64, to: math.MinInt64}
	err := c.err
	runs := c.runs
	if before := c.mergeBefore(); err == nil && len(before) > 0 {
		// The bases before --from: one run, merged first (all of it is
		// earlier than any reading in range). Each turnstile has at most one
		// reading there, so its order among equal times does not matter.
		before = sortByTimeInto(before, make([]reading, len(before)))
		runs = append([]*run{{index: -1, n: len(before), minT: before[0].t, maxT: before[len(before)-1].t, mem: before}}, runs...)
	}
	rp.stats = c.stats
	if err == nil && c.spill != nil {
		err = c.spill.flush()
	}
	for _, rn := range runs {
		rp.from, rp.to = min(rp.from, rn.minT), max(rp.to, rn.maxT)
	}
	rp.runs, rp.spill, rp.err = runs, c.spill, err
	c.progress.setSpan(rp.from, rp.to)
	c.readers, c.runs, c.turnstiles, c.attrIndex = nil, nil, nil, nil
	return rp
}

// mergeBefore merges the readers' latest readings before --from: per
// turnstile the latest, of equal times the one of the earliest file. The
// others count as out of range.
func (c *Converter) mergeBefore() []reading {
	best := make([]early, len(c.keys))
	for _, fr := range c.readers {
		for k, e := range fr.before {
			if !e.set {
				continue
			}
			b := &best[k]
			switch {
			case !b.set:
				*b = e
				continue
			case e.r.t > b.r.t || e.r.t == b.r.t && e.file < b.file:
				*b = e
			}
			c.stats.OutOfRange++
		}
	}
	var out []reading
	for _, b := range best {
		if b.set {
			out = append(out, b.r)
		}
	}
	return out
}

// ReadInputs reads the inputs in order, as ReadInput on each would, on up to
// workers goroutines at once (each with a file in memory as one run and its
// sort scratch: about 16 MB for a weekly file). The result is the same
// whatever the number of workers. It returns the error of the earliest
// input that failed, and stops reading the others.
func (c *Converter) ReadInputs(ctx context.Context, ins []Input, workers int) error {
	workers = max(1, min(workers, len(ins)))
	for len(c.readers) < workers {
		c.readers = append(c.readers, c.newFileReader())
	}
	first := c.files
	c.files += len(ins)
	if workers == 1 {
		for i, in := range ins {
			if err := c.readers[0].readInput(ctx, first+i, in); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		errMu  sync.Mutex
		errAt  = len(ins)
		errVal error
	)
	for _, fr := range c.readers[:workers] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each reader takes the next file in read order, so that its own
			// files come in read order (outOfRange relies on it).
			for i := int(next.Add(1) - 1); i < len(ins) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := fr.readInput(ctx, first+i, ins[i]); err != nil {
					errMu.Lock()
					// The first file's error wins, but never a cancellation
					// caused by another reader's failure (cancel, below)
					// over that failure.
					canceled := errors.Is(err, context.Canceled)
					switch {
					case errVal == nil,
						!canceled && errors.Is(errVal, context.Canceled),
						canceled == errors.Is(errVal, context.Canceled) && i < errAt:
						errAt, errVal = i, err
					}
					errMu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if errVal == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return errVal
}

func (fr *fileReader) readInput(ctx context.Context, file int, in Input) error {
	rc, err := in.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	return fr.read(ctx, file, in.Name, rc)
}

// Replay is the converted content of turnstile files: per-interval counts in
// event-time order, yielded once by Records.
type Replay struct {
	keys     []turnstileKey
	attrs    []attrs
	runs     []*run
	spill    *spillFile
	maxDelta int64
	from, to int64 // the earliest and latest reading kept
	stats    Stats
	progress *Progress
	err      error
	used     bool
}

// Stats returns the conversion counts. Duplicates, Turnstiles, Resets and
// Deltas are complete once Records has run to the end. It must not be called
// while Records runs (the counts are updated on another goroutine then); use
// a Progress to watch a replay.
func (r *Replay) Stats() Stats { return r.stats }

// Len returns the number of records converted: all of them once Records has
// run to the end. Like Stats, it must not be called while Records runs.
func (r *Replay) Len() int { return int(r.stats.Deltas) }

// Span returns the times of the earliest and the latest reading that Records
// goes through (zero times when there is none): the range that progress and
// ETAs are measured on.
func (r *Replay) Span() (from, to time.Time) {
	if r.from > r.to {
		return time.Time{}, time.Time{}
	}
	return time.Unix(r.from, 0).UTC(), time.Unix(r.to, 0).UTC()
}

// Spilled reports how many runs, of how many, went to the spill file.
func (r *Replay) Spilled() (spilled, runs int) {
	for _, rn := range r.runs {
		if rn.mem == nil {
			spilled++
		}
	}
	return spilled, len(r.runs)
}

// SpillBytes returns the size of the spill file.
func (r *Replay) SpillBytes() int64 {
	var n int64
	for _, rn := range r.runs {
		n += rn.size
	}
	return n
}

// Err returns the error that ended Records early (a spill file that cannot
// be written or read back), or nil.
func (r *Replay) Err() error { return r.err }

// Close removes the spill file. Records closes it when it ends; Close is for
// a Replay whose Records is never run. It may be called more than once.
func (r *Replay) Close() error {
	if r.spill == nil {
		return nil
	}
	err := r.spill.close()
	r.spill = nil
	return err
}

// Records yields every record in event-time order (ties in read order). It
// may run only once: it merges the runs and converts the readings to deltas
// as it goes. The record is reused between iterations; copy it to keep it.
// When it stops early because the spill file fails, Err says why.
//
// The merge, the deltas and the IDs are computed on a second goroutine, a
// batch of records ahead of the caller, so that a caller that encodes and
// sends the records uses the second core.
func (r *Replay) Records() iter.Seq[*turnstile.Record] {
	return func(yield func(*turnstile.Record) bool) {
		if r.used {
			if r.err == nil {
				r.err = errors.New("mta: Replay.Records may run only once")
			}
			return
		}
		r.used = true
		defer r.Close()
		if r.err != nil {
			return
		}
		const batches = 4
		full := make(chan []turnstile.Record, batches)
		free := make(chan []turnstile.Record, batches)
		for range batches {
			free <- make([]turnstile.Record, 0, recordBatch)
		}
		stop := make(chan struct{})
		finished := make(chan error, 1)
		go func() { finished <- r.convert(full, free, stop) }()
		var stopped bool
		for batch := range full {
			if !stopped {
				for i := range batch {
					if !yield(&batch[i]) {
						stopped = true
						close(stop)
						break
					}
				}
			}
			free <- batch
		}
		if err := <-finished; err != nil {
			r.err = err
		}
	}
}

// recordBatch is how many records convert hands over at a time.
const recordBatch = 512

// convert merges the runs, converts the readings to deltas and sends them as
// records in batches on full, taking empty batches from free, until the end
// or until stop is closed. It closes full when it returns.
func (r *Replay) convert(full, free chan []turnstile.Record, stop chan struct{}) error {
	defer close(full)
	m, err := newMerger(r.runs, r.spill)
	if err != nil {
		return err
	}
	defer m.close()
	type prev struct {
		t              int64
		entries, exits int64
		seen           bool
	}
	prevs := make([]prev, len(r.keys))
	var (
		lastT      int64 = math.MinInt64
		date, hour string
		t          time.Time
		n          int64
	)
	batch := <-free
	batch = batch[:0]
	send := func() bool {
		select {
		case full <- batch:
		case <-stop:
			return false
		}
		select {
		case batch = <-free:
			batch = batch[:0]
			return true
		case <-stop:
			return false
		}
	}
	for {
		d, ok := m.next()
		if !ok {
			break
		}
		if n++; n&0xfff == 0 {
			r.progress.setPosition(d.t, r.stats.Deltas)
		}
		p := &prevs[d.key]
		switch {
		case !p.seen:
			r.stats.Turnstiles++
			*p = prev{t: d.t, entries: d.entries, exits: d.exits, seen: true}
			continue
		case p.t == d.t:
			r.stats.Duplicates++
			continue
		}
		de, dx := d.entries-p.entries, d.exits-p.exits
		*p = prev{t: d.t, entries: d.entries, exits: d.exits, seen: true}
		if de < 0 || dx < 0 || de > r.maxDelta || dx > r.maxDelta {
			r.stats.Resets++
			continue
		}
		r.stats.Deltas++
		if d.t != lastT {
			// Readings cluster on the 4-hour grid: format each time once.
			lastT, t = d.t, time.Unix(d.t, 0).UTC()
			date, hour = t.Format("01-02-06"), t.Format("15:04:05")
		}
		k, a := &r.keys[d.key], &r.attrs[d.attr]
		batch = append(batch, turnstile.Record{
			CA: k.CA, Unit: k.Unit, SCP: k.SCP,
			Station: a.Station, LineName: a.LineName, Division: a.Division,
			Date: date, Time: hour, Desc: a.Desc,
			Entries: de, Exits: dx,
			ID:        turnstile.ReadingID(k.CA, k.Unit, k.SCP, t),
			Timestamp: t,
		})
		if len(batch) == cap(batch) && !send() {
			r.progress.setPosition(d.t, r.stats.Deltas)
			return nil
		}
	}
	if err := m.err(); err != nil {
		return err
	}
	if len(batch) > 0 && !send() {
		return nil
	}
	r.progress.setPosition(r.to, r.stats.Deltas)
	return nil
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
			c.Finish().Close()
			return nil, err
		}
	}
	return c.Finish(), nil
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
