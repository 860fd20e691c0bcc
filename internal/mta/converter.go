package mta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

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

// failed returns the error of a failed spill, if any.
func (c *Converter) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
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
