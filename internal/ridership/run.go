package ridership

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// TokenEnv is the environment variable that holds the SODA app token when no
// token file is given.
const TokenEnv = "SODA_APP_TOKEN"

// DefaultPollInterval is how long the poller waits, at the end of the
// dataset, before asking for new rows.
const DefaultPollInterval = 5 * time.Minute

// Config configures Run. Exactly one of Dataset (poll the API) and Inputs
// (replay CSV exports) is set; Sink and Counters are required.
type Config struct {
	Dataset      string        // --dataset: the SODA dataset ID, e.g. 5wq4-mkjj
	Inputs       []string      // --input: CSV exports, files, directories, globs or gs://BUCKET/PREFIX
	SODAURL      string        // --soda-url; "" = DefaultSODAURL
	AppToken     string        // see ReadAppToken; sent as X-App-Token, never logged
	PollInterval time.Duration // --poll-interval; 0 = DefaultPollInterval
	From, To     time.Time     // --from/--to: transit_timestamp bounds, [From, To), naive time as UTC; zero = open
	StateFile    string        // --state-file: the cursor (API only); "" = start at From every time
	PageSize     int           // $limit, 1 to MaxPageSize; 0 = MaxPageSize
	HTTPClient   *http.Client  // nil = a client with a 2-minute timeout

	Sink         publish.Sink      // where messages go; Run closes it
	Counters     *publish.Counters // the sink's counters
	FlushTimeout time.Duration     // how long the final Close may take; 0 = publish.DefaultFlushTimeout
	Logger       *slog.Logger      // nil = discard
	Rejects      io.Writer         // bad rows, one line each with its reason; nil = discard (they are still counted as skipped)

	sleep func(ctx context.Context, d time.Duration) error // backoff and poll waits; nil = real sleeps (tests replace it)
}

// ReadAppToken returns the app token: the trimmed content of file when file
// is not empty, else the environment variable TokenEnv (possibly empty: the
// API then answers with a low rate limit).
func ReadAppToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(TokenEnv)), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read app token file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("app token file %s is empty", file)
	}
	return tok, nil
}

// Validate checks the configuration; errors are usage errors.
func (c *Config) Validate() error {
	switch {
	case c.Dataset == "" && len(c.Inputs) == 0:
		return errors.New("ridership: choose a source: --dataset ID (the API) or --input FILE... (CSV exports)")
	case c.Dataset != "" && len(c.Inputs) > 0:
		return errors.New("ridership: --dataset and --input are exclusive")
	case c.StateFile != "" && c.Dataset == "":
		return errors.New("ridership: --state-file is for --dataset (the API), not for --input replays")
	case c.PageSize < 0 || c.PageSize > MaxPageSize:
		return fmt.Errorf("ridership: page size %d: want 1 to %d", c.PageSize, MaxPageSize)
	case c.PollInterval < 0:
		return fmt.Errorf("ridership: --poll-interval %v: must not be negative", c.PollInterval)
	case !c.From.IsZero() && !c.To.IsZero() && !c.From.Before(c.To):
		return fmt.Errorf("ridership: --from %s is not before --to %s", c.From.Format(time.DateTime), c.To.Format(time.DateTime))
	case c.Sink == nil || c.Counters == nil:
		return errors.New("ridership: Sink and Counters are required")
	}
	return nil
}

// Run publishes the ridership rows of the dataset (polling the API) or of
// the CSV exports (replay) to cfg.Sink, then closes the sink within
// FlushTimeout, like publish.Run. Each message has the key
// station_complex_id and the value AppendValue of its Record; a bad row goes
// to cfg.Rejects and counts as skipped, and the run goes on.
//
// Polling without To runs until ctx is cancelled; with To, or in a replay,
// it returns at the end of the data. On cancellation Run stops, flushes,
// saves the cursor of the last delivered row when every message was
// delivered, and returns a Summary with Interrupted set and a nil error.
func Run(ctx context.Context, cfg Config) (publish.Summary, error) {
	if err := cfg.Validate(); err != nil {
		return publish.Summary{}, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rejects == nil {
		cfg.Rejects = io.Discard
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = publish.DefaultFlushTimeout
	}
	began := time.Now()
	sender := NewSinkSender(cfg.Sink, cfg.Counters)
	var runErr error
	var p *poller
	if cfg.Dataset != "" {
		p, runErr = newPoller(&cfg, sender)
		if runErr == nil {
			runErr = p.run(ctx)
		}
	} else {
		runErr = replay(ctx, &cfg, sender)
	}
	interrupted := ctx.Err() != nil
	if interrupted {
		runErr = nil
		cfg.Logger.Info("interrupted: stopped reading, flushing", "timeout", cfg.FlushTimeout.String())
	}
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.FlushTimeout)
	defer cancel()
	closeErr := cfg.Sink.Close(flushCtx)
	s := cfg.Counters.Snapshot()
	s.Interrupted = interrupted
	s.Elapsed = time.Since(began)
	if p != nil && closeErr == nil && s.OK() {
		// Everything queued was delivered: the cursor may move to the last
		// row taken, even in the middle of a page.
		runErr = errors.Join(runErr, p.save())
	}
	return s, errors.Join(runErr, closeErr)
}

// LogValue makes a logged Config show whether a token is set, never the
// token itself.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("dataset", c.Dataset), slog.Any("inputs", c.Inputs), slog.String("soda_url", c.SODAURL),
		slog.Bool("app_token", c.AppToken != ""), slog.String("poll_interval", c.PollInterval.String()),
		slog.Time("from", c.From), slog.Time("to", c.To), slog.String("state_file", c.StateFile), slog.Int("page_size", c.PageSize))
}
