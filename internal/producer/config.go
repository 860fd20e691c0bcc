// Package producer holds the producer's settings: Config, one field per flag
// of apps/producer as the user typed it, and Validate, which checks them once
// and returns the Settings a run uses, with time flags parsed and defaults
// filled in: the synthetic feed's configuration for --source turnstile
// --synthetic, the ridership.Config for --source ridership.
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
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/mta"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/synthetic"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// The data sources of --source.
const (
	SourceTurnstile = "turnstile" // MTA turnstile files (--input) or the synthetic feed (--synthetic)
	SourceRidership = "ridership" // the hourly ridership dataset: the SODA API (--dataset) or CSV exports (--input)
)

// TurnstileTopic is the default --topic of the turnstile source;
// ridership.Topic is the ridership source's.
const TurnstileTopic = "mta-turnstile"

// Config is every setting of the producer, as its flags give it. Time values
// are kept as typed; Validate parses them. The zero value is not valid: the
// defaults are the flags'.
type Config struct {
	// Source is --source: SourceTurnstile or SourceRidership.
	Source string

	// Turnstile source: exactly one of Inputs and Synthetic. Ridership
	// source: exactly one of Inputs (CSV exports) and Dataset.
	Inputs    []string // --input: files, directories, globs or gs://BUCKET/PREFIX
	Synthetic bool     // --synthetic

	// Replay (--input), and the ridership source (From and To).
	MaxDelta int64  // --max-delta: largest delta taken as real, >= 0 (turnstile only)
	From     string // --from: first event time sent; "" = open
	To       string // --to: event time sent no more; "" = open
	TempDir  string // --temp-dir: where spilled runs go; "" = the system's (turnstile only)

	// Hourly ridership (--source ridership).
	Dataset      string        // --dataset: the SODA dataset ID to follow, e.g. 5wq4-mkjj
	SODAURL      string        // --soda-url: the SODA portal, http(s)://HOST; "" = ridership.DefaultSODAURL
	AppTokenFile string        // --app-token-file: read by the program (ridership.ReadAppToken), not here; "" = env SODA_APP_TOKEN
	PollInterval time.Duration // --poll-interval: wait at the end of the data, > 0
	StateFile    string        // --state-file: the cursor of --dataset; "" = none

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
	Topic        string        // --topic; "" = the source's topic (TurnstileTopic or ridership.Topic), filled in by Validate
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
// it. Only Validate makes one. Its Config is the Config given, except that
// an empty Topic is the source's topic.
type Settings struct {
	Config

	// FromTime and ToTime are From and To parsed, in UTC: a replay sends
	// the readings in [FromTime, ToTime), the ridership source the rows
	// whose transit_timestamp (naive, read as UTC) is in it. A zero time
	// leaves that end open.
	FromTime, ToTime time.Time

	// Feed is the synthetic feed's valid configuration when Synthetic is
	// set: Start parsed (or now, to the second), Speed 0 made 1. It is the
	// zero Config for a replay.
	Feed synthetic.Config

	// Ridership is the ridership source's configuration when Source is
	// SourceRidership: Dataset or Inputs, SODAURL, PollInterval, StateFile
	// and the range [FromTime, ToTime). The program adds the app token, the
	// sink and the rest of a run's fields. It is the zero Config otherwise.
	Ridership ridership.Config
}

// Validate checks c rule by rule, in a fixed order, and returns the first
// broken rule as an error that names its flag. It reads the file system to
// check the local inputs, --temp-dir and the directory of --state-file, but
// nothing else (not the app token file), and never the network. now is the
// default --start of a synthetic feed.
func (c Config) Validate(now time.Time) (*Settings, error) {
	var err error
	switch c.Source {
	case SourceTurnstile:
		err = c.validateTurnstile()
	case SourceRidership:
		err = c.validateRidership()
	default:
		err = fmt.Errorf("--source %q: want %s or %s", c.Source, SourceTurnstile, SourceRidership)
	}
	if err != nil {
		return nil, err
	}
	switch {
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
	if s.Topic == "" {
		s.Topic = TurnstileTopic
		if c.Source == SourceRidership {
			s.Topic = ridership.Topic
		}
	}
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
	if c.Source == SourceRidership {
		s.Ridership = ridership.Config{Dataset: c.Dataset, Inputs: c.Inputs, SODAURL: c.SODAURL, PollInterval: c.PollInterval,
			From: s.FromTime, To: s.ToTime, StateFile: c.StateFile}
	}
	if c.Out == "" && c.ConfigPath == "" {
		return nil, errors.New("--config FILE is required to send to Kafka (or use --out - to write to stdout)")
	}
	return s, nil
}

// validateTurnstile checks the source flags of --source turnstile.
func (c Config) validateTurnstile() error {
	switch {
	case len(c.Inputs) == 0 && !c.Synthetic:
		return errors.New("choose a source: --input FILE... or --synthetic")
	case len(c.Inputs) > 0 && c.Synthetic:
		return errors.New("--input and --synthetic are exclusive")
	case c.Dataset != "" || c.StateFile != "" || c.AppTokenFile != "" || c.apiFlagsChanged():
		return errors.New("--dataset, --soda-url, --app-token-file, --poll-interval and --state-file are for --source ridership")
	case c.Speed < 0:
		return fmt.Errorf("--speed %v: must not be negative", c.Speed)
	case c.MaxDelta < 0:
		return fmt.Errorf("--max-delta %d: must not be negative", c.MaxDelta)
	}
	return nil
}

// apiFlagsChanged reports whether --soda-url or --poll-interval differs from
// its default (or zero).
func (c Config) apiFlagsChanged() bool {
	return c.SODAURL != "" && c.SODAURL != ridership.DefaultSODAURL ||
		c.PollInterval != 0 && c.PollInterval != ridership.DefaultPollInterval
}

// validateRidership checks the source flags of --source ridership. The
// turnstile flags it refuses are those whose value the user changed (a
// value other than the flag's default).
func (c Config) validateRidership() error {
	switch {
	case c.Synthetic:
		return errors.New("--synthetic is a turnstile source; --source ridership takes --dataset ID or --input FILE")
	case c.Dataset == "" && len(c.Inputs) == 0:
		return errors.New("choose a ridership source: --dataset ID (the SODA API) or --input FILE... (CSV exports)")
	case c.Dataset != "" && len(c.Inputs) > 0:
		return errors.New("--dataset and --input are exclusive")
	case c.Speed != 0 || c.MaxDelta != mta.DefaultMaxDelta || c.TempDir != "":
		return errors.New("--speed, --max-delta and --temp-dir are for the turnstile source, not --source ridership")
	case len(c.Inputs) > 0 && (c.StateFile != "" || c.AppTokenFile != "" || c.apiFlagsChanged()):
		return errors.New("--soda-url, --app-token-file, --poll-interval and --state-file are for --dataset (the API), not --input replays")
	case c.PollInterval <= 0 && c.Dataset != "":
		return fmt.Errorf("--poll-interval %v: must be positive", c.PollInterval)
	}
	if c.Dataset == "" {
		return nil
	}
	if strings.ContainsAny(c.Dataset, "/?#.:% \t") {
		return fmt.Errorf("--dataset %q: want a dataset ID such as 5wq4-mkjj", c.Dataset)
	}
	if c.SODAURL != "" {
		u, err := url.Parse(c.SODAURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--soda-url %q: want http(s)://HOST, e.g. %s", c.SODAURL, ridership.DefaultSODAURL)
		}
	}
	if c.StateFile != "" {
		if st, err := os.Stat(c.StateFile); err == nil && st.IsDir() {
			return fmt.Errorf("--state-file %s: is a directory", c.StateFile)
		}
		dir := filepath.Dir(c.StateFile)
		if st, err := os.Stat(dir); err != nil {
			return fmt.Errorf("--state-file: %w", err)
		} else if !st.IsDir() {
			return fmt.Errorf("--state-file %s: %s is not a directory", c.StateFile, dir)
		}
	}
	return nil
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
