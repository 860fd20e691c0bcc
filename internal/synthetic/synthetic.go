// Package synthetic generates a live turnstile feed shaped like the NYC subway:
// real station names, lines and divisions, and per-interval counts that follow
// the time of day (rush hours higher, nights near zero, weekends flatter).
//
// The feed is pure and deterministic. Message i belongs to turnstile i mod
// Turnstiles, its event time is Start + i·Speed/Rate seconds, and its counts
// come from a random source seeded with Seed and drawn in message order. The
// same Config therefore always yields byte-identical message values, whatever
// the wall clock does; wall time only paces the sending (see Feed.Records),
// which is the caller's job.
package synthetic

import (
	"errors"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// MaxTurnstiles bounds Config.Turnstiles.
const MaxTurnstiles = 100000

// Config is the validated configuration of a Feed.
type Config struct {
	Turnstiles int       // number of turnstiles, spread over the stations (1..MaxTurnstiles)
	Rate       float64   // messages per wall-clock second, > 0
	Speed      float64   // event-time seconds per wall-clock second, > 0 (1 = real time)
	Seed       uint64    // seed of the counts
	Start      time.Time // event time of the first message; truncated to the second
	Count      int64     // messages to generate; 0 = unlimited
}

// Validate returns an error describing the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Turnstiles < 1 || c.Turnstiles > MaxTurnstiles:
		return fmt.Errorf("turnstiles %d: must be between 1 and %d", c.Turnstiles, MaxTurnstiles)
	case !(c.Rate > 0) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("rate %v: must be a positive number of messages per second", c.Rate)
	case !(c.Speed > 0) || math.IsInf(c.Speed, 0):
		return fmt.Errorf("speed %v: must be positive (1 = real time)", c.Speed)
	case c.Start.IsZero():
		return errors.New("start time is not set")
	case c.Count < 0:
		return fmt.Errorf("count %d: must not be negative (0 = unlimited)", c.Count)
	}
	return nil
}

// Feed is a synthetic turnstile feed. It is not safe for concurrent use.
type Feed struct {
	cfg        Config
	turnstiles []gate
	start      time.Time
	eventStep  float64 // event-time seconds between messages
	wallStep   float64 // wall-clock seconds between messages
	interval   float64 // event-time seconds between two reports of one turnstile
	rng        *rand.Rand
	next       int64
	name       []byte
}

type gate struct {
	ca, unit, scp string
	station       *station
}

// New returns a Feed for a valid cfg.
func New(cfg Config) (*Feed, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("synthetic feed: %w", err)
	}
	f := &Feed{
		cfg:       cfg,
		start:     cfg.Start.UTC().Truncate(time.Second),
		eventStep: cfg.Speed / cfg.Rate,
		wallStep:  1 / cfg.Rate,
		rng:       rand.New(rand.NewPCG(cfg.Seed, 0x7475726e7374696c)), // "turnstil"
	}
	f.interval = f.eventStep * float64(cfg.Turnstiles)
	perCA := map[string]int{}
	for j := range cfg.Turnstiles {
		st := &stations[j%len(stations)]
		k := j / len(stations)
		ca := st.cas[k%len(st.cas)]
		n := perCA[ca]
		perCA[ca]++
		f.turnstiles = append(f.turnstiles, gate{
			ca: ca, unit: st.unit,
			scp:     fmt.Sprintf("%02d-%02d-%02d", n/64%100, n/8%8, n%8),
			station: st,
		})
	}
	return f, nil
}

// EventTime returns the event time of message i (counting from 0): Start +
// i·Speed/Rate seconds, truncated to the second. It never decreases with i.
func (f *Feed) EventTime(i int64) time.Time { return f.exactTime(i).Truncate(time.Second) }

func (f *Feed) exactTime(i int64) time.Time {
	return f.start.Add(time.Duration(float64(i) * f.eventStep * float64(time.Second)))
}

// Due returns when message i should be sent, as an offset from the start of
// sending: i/Rate seconds.
func (f *Feed) Due(i int64) time.Duration {
	return time.Duration(float64(i) * f.wallStep * float64(time.Second))
}

// Next fills rec with the next message and returns its due offset. It returns
// false once Count messages were generated.
func (f *Feed) Next(rec *turnstile.Record) (time.Duration, bool) {
	i := f.next
	if f.cfg.Count > 0 && i >= f.cfg.Count {
		return 0, false
	}
	f.next++
	g := &f.turnstiles[i%int64(len(f.turnstiles))]
	exact := f.exactTime(i)
	hour := hourOfWeek(exact)
	hours := f.interval / 3600
	entries := f.draw(g.station.weight * hours * profile(hour, g.station.business))
	exits := f.draw(g.station.weight * 0.85 * hours * profile(hour, !g.station.business))
	f.name = strconv.AppendInt(strconv.AppendUint(append(f.name[:0], "synthetic|"...), f.cfg.Seed, 10), i, 10)
	*rec = turnstile.NewRecord(g.ca, g.unit, g.scp, g.station.name, g.station.lines, g.station.division, "REGULAR",
		entries, exits, turnstile.NewID(f.name), exact)
	return f.Due(i), true
}

// Records yields the messages and their due offsets. The record is reused
// between iterations; copy it to keep it.
func (f *Feed) Records() iter.Seq2[*turnstile.Record, time.Duration] {
	return func(yield func(*turnstile.Record, time.Duration) bool) {
		var rec turnstile.Record
		for {
			due, ok := f.Next(&rec)
			if !ok || !yield(&rec, due) {
				return
			}
		}
	}
}

// maxCount caps one message's ENTRIES or EXITS, below the producer's default
// maximum delta.
const maxCount = 10000

// draw returns a Poisson-distributed count of the given mean (a normal
// approximation above 30), capped at maxCount.
func (f *Feed) draw(mean float64) int64 {
	if mean <= 0 {
		return 0
	}
	var n float64
	if mean < 30 {
		limit, p := math.Exp(-mean), 1.0
		for {
			p *= f.rng.Float64()
			if p <= limit {
				break
			}
			n++
		}
	} else {
		n = math.Round(mean + math.Sqrt(mean)*f.rng.NormFloat64())
	}
	return int64(min(max(n, 0), maxCount))
}

// hourOfWeek returns the fractional hour of the week of t, Monday 00:00 = 0.
func hourOfWeek(t time.Time) float64 {
	day := (int(t.Weekday()) + 6) % 7
	return float64(day*24+t.Hour()) + float64(t.Minute()*60+t.Second())/3600
}

// Hourly shape of entries at a residential station on a weekday, relative to
// the morning peak; a business district is the same shape with the peaks
// swapped (people arrive in the morning and leave in the evening).
var (
	residential = [24]float64{0.10, 0.05, 0.03, 0.03, 0.08, 0.25, 0.60, 1.00, 0.95, 0.65, 0.40, 0.35, 0.35, 0.35, 0.40, 0.45, 0.55, 0.60, 0.50, 0.35, 0.25, 0.20, 0.15, 0.12}
	business    = [24]float64{0.10, 0.05, 0.03, 0.03, 0.05, 0.10, 0.25, 0.45, 0.50, 0.40, 0.35, 0.40, 0.50, 0.45, 0.50, 0.65, 0.90, 1.00, 0.80, 0.50, 0.35, 0.25, 0.18, 0.12}
	weekend     = [24]float64{0.20, 0.15, 0.08, 0.05, 0.04, 0.06, 0.10, 0.15, 0.22, 0.30, 0.38, 0.42, 0.45, 0.45, 0.45, 0.45, 0.42, 0.40, 0.38, 0.35, 0.32, 0.30, 0.26, 0.22}
)

// profile returns the relative hourly rate at fractional hour-of-week h,
// interpolated between whole hours.
func profile(h float64, isBusiness bool) float64 {
	at := func(hw int) float64 {
		hw %= 7 * 24
		day, hour := hw/24, hw%24
		switch {
		case day >= 5:
			return weekend[hour]
		case isBusiness:
			return business[hour]
		default:
			return residential[hour]
		}
	}
	base := int(h)
	frac := h - float64(base)
	return at(base)*(1-frac) + at(base+1)*frac
}
