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
// The Converter and its options are in converter.go; read.go reads files
// into runs (ReadInputs several files at once), sort.go sorts a run and keeps
// or spills it, run.go holds the spill file and the merge; delta.go turns the
// merged readings into deltas, which Records (replay.go) hands out. Inputs
// (input.go) are local files, directories, globs or gs:// prefixes read
// through the lake's GCS client. Progress and Reporter (progress.go) show how
// far a long replay is.
package mta

import (
	"errors"
	"iter"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

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
