// Package producer holds the producer's settings: Config, one field per flag
// of apps/producer as the user typed it, and Validate, which checks them once
// and returns the Settings a run uses, with time flags parsed and defaults
// filled in.
//
// Errors name the flag to fix ("--speed -1: must not be negative"), as the
// user sees them on stderr. The Kafka properties file is not read here: the
// program loads it (internal/kafka) once Validate has passed.
//
// A new flag is a field of Config, a rule in Validate (with its row in the
// table test) and its declaration in apps/producer/main.go.
package producer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/mta"
	"github.com/turnstile-stream/turnstile-stream/internal/synthetic"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Config is every setting of the producer, as its flags give it. Time values
// are kept as typed; Validate parses them. The zero value is not valid: the
// defaults are the flags'.
type Config struct {
	// Source: exactly one of Inputs and Synthetic.
	Inputs    []string // --input: files, directories, globs or gs://BUCKET/PREFIX
	Synthetic bool     // --synthetic

	// Replay (--input).
	MaxDelta int64  // --max-delta: largest delta taken as real, >= 0
	From     string // --from: first event time sent; "" = open
	To       string // --to: event time sent no more; "" = open
	TempDir  string // --temp-dir: where spilled runs go; "" = the system's

	// Synthetic feed (--synthetic).
	Turnstiles int     // --turnstiles
	Rate       float64 // --rate: messages per wall second
	Seed       uint64  // --seed
	Start      string  // --start: event time of the first message; "" = now
	Count      int64   // --count: messages, 0 = unlimited

	// Speed is --speed, for both sources: replay, seconds of readings per
	// wall second (0 = as fast as possible); synthetic, event-time seconds
	// per wall second (0 = 1, real time). Never negative.
	Speed float64

	// Sink: Kafka, or a file when Out is set.
	Topic        string        // --topic
	ConfigPath   string        // --config: librdkafka properties file; required unless Out is set
	CreateTopic  bool          // --create-topic (Kafka only)
	Partitions   int           // --partitions of a topic made by --create-topic
	Out          string        // --out: write message values to this file, - = stdout
	FlushTimeout time.Duration // --flush-timeout, > 0

	// Operations.
	MetricsAddr string // --metrics-addr: host:port; "" = off
	LogFormat   string // --log-format: text or json (checked by ops.NewLogger)
	LogLevel    string // --log-level (checked by ops.NewLogger)
}

// Settings is a Config that passed Validate, with what Validate derived from
// it. Only Validate makes one.
type Settings struct {
	Config

	// FromTime and ToTime are From and To parsed, in UTC: a replay sends
	// the readings in [FromTime, ToTime). A zero time leaves that end open.
	FromTime, ToTime time.Time

	// Feed is the synthetic feed's valid configuration when Synthetic is
	// set: Start parsed (or now, to the second), Speed 0 made 1. It is the
	// zero Config for a replay.
	Feed synthetic.Config
}

// Validate checks c rule by rule, in a fixed order, and returns the first
// broken rule as an error that names its flag. It reads the file system to
// check the local inputs and --temp-dir, but nothing else, and never the
// network. now is the default --start of a synthetic feed.
func (c Config) Validate(now time.Time) (*Settings, error) {
	switch {
	case len(c.Inputs) == 0 && !c.Synthetic:
		return nil, errors.New("choose a source: --input FILE... or --synthetic")
	case len(c.Inputs) > 0 && c.Synthetic:
		return nil, errors.New("--input and --synthetic are exclusive")
	case c.Speed < 0:
		return nil, fmt.Errorf("--speed %v: must not be negative", c.Speed)
	case c.MaxDelta < 0:
		return nil, fmt.Errorf("--max-delta %d: must not be negative", c.MaxDelta)
	case c.Topic == "" && c.Out == "":
		return nil, errors.New("--topic must not be empty")
	case c.CreateTopic && c.Out != "":
		return nil, errors.New("--create-topic needs Kafka; it cannot be used with --out")
	case c.CreateTopic && c.Partitions < 1:
		return nil, fmt.Errorf("--partitions %d: must be at least 1", c.Partitions)
	case c.FlushTimeout <= 0:
		return nil, fmt.Errorf("--flush-timeout %v: must be positive", c.FlushTimeout)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return nil, fmt.Errorf("--metrics-addr %q: want host:port (e.g. :9102): %w", c.MetricsAddr, err)
		}
	}
	for _, in := range c.Inputs {
		if mta.IsGCS(in) {
			if _, _, err := mta.ParseGCS(in); err != nil {
				return nil, fmt.Errorf("--input %w", err)
			}
		} else if _, err := mta.ExpandLocal(in); err != nil {
			return nil, fmt.Errorf("--input: %w", err)
		}
	}
	if c.Synthetic && (c.From != "" || c.To != "" || c.TempDir != "") {
		return nil, errors.New("--from, --to and --temp-dir are for --input replays, not --synthetic")
	}
	s := &Settings{Config: c}
	var err error
	if s.FromTime, err = parseEventTime("--from", c.From); err != nil {
		return nil, err
	}
	if s.ToTime, err = parseEventTime("--to", c.To); err != nil {
		return nil, err
	}
	if !s.FromTime.IsZero() && !s.ToTime.IsZero() && !s.FromTime.Before(s.ToTime) {
		return nil, fmt.Errorf("--from %s is not before --to %s", c.From, c.To)
	}
	if c.TempDir != "" {
		if st, err := os.Stat(c.TempDir); err != nil {
			return nil, fmt.Errorf("--temp-dir: %w", err)
		} else if !st.IsDir() {
			return nil, fmt.Errorf("--temp-dir %s: not a directory", c.TempDir)
		}
	}
	if c.Synthetic {
		if s.Feed, err = c.feed(now); err != nil {
			return nil, err
		}
	}
	if c.Out == "" && c.ConfigPath == "" {
		return nil, errors.New("--config FILE is required to send to Kafka (or use --out - to write to stdout)")
	}
	return s, nil
}

// feed returns the valid synthetic.Config of the synthetic flags.
func (c Config) feed(now time.Time) (synthetic.Config, error) {
	f := synthetic.Config{Turnstiles: c.Turnstiles, Rate: c.Rate, Speed: c.Speed, Seed: c.Seed,
		Start: now.UTC().Truncate(time.Second), Count: c.Count}
	if f.Speed == 0 {
		f.Speed = 1
	}
	if c.Start != "" {
		t, err := parseStart(c.Start)
		if err != nil {
			return synthetic.Config{}, err
		}
		f.Start = t
	}
	if err := f.Validate(); err != nil {
		return synthetic.Config{}, fmt.Errorf("--synthetic: %w", err)
	}
	return f, nil
}

// parseEventTime parses the value s of the replay range flag flagName
// (--from or --to): YYYY-MM-DD, "YYYY-MM-DD HH:MM:SS" or RFC 3339. A time
// without a zone is UTC (the MTA files' naive time read as UTC); the result
// is always in UTC. Empty is the zero time, an open end.
func parseEventTime(flagName, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.DateOnly, turnstile.TimestampLayout, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: want YYYY-MM-DD, \"YYYY-MM-DD HH:MM:SS\" or RFC 3339", flagName, s)
}

// parseStart parses --start: "YYYY-MM-DD HH:MM:SS" (UTC) or RFC 3339. The
// result is in UTC.
func parseStart(s string) (time.Time, error) {
	for _, layout := range []string{turnstile.TimestampLayout, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--start %q: want \"YYYY-MM-DD HH:MM:SS\" or RFC 3339", s)
}
