package mta

import (
	"math"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

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
