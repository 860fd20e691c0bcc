// Command producer publishes NYC MTA turnstile counts to Kafka (topic
// mta-turnstile), keyed by CA|UNIT|SCP, as 13-field CSV message values; with
// --source ridership, the MTA Subway Hourly Ridership rows (topic
// mta-ridership), keyed by station_complex_id.
//
// The turnstile source (--source turnstile, the default):
//
//	producer --input turnstile_240720.txt [more files...] --config kafka.properties
//	producer --input 'archive/turnstile_23*.txt' --from 2023-03-01 --to 2023-04-01 --out -
//	producer --input gs://BUCKET/raw/turnstile/ --config kafka.properties
//	producer --synthetic --turnstiles 500 --rate 200 --speed 60 --config kafka.properties
//
// --input replays real MTA turnstile files (plain or .gz; files, directories,
// globs or gs:// prefixes), turning cumulative register readings into
// per-interval deltas sent in event-time order, with bounded memory (see
// docs/producer.md); --synthetic generates a live feed. --out - writes the
// message values to stdout instead of Kafka.
//
// The hourly ridership source (internal/ridership):
//
//	producer --source ridership --dataset 5wq4-mkjj --app-token-file ~/.soda-token --state-file ridership.state --config kafka.properties
//	producer --source ridership --input exports/ --out -
//
// --dataset follows a dataset through the Socrata SODA API (data.ny.gov), as
// a stream, or up to --to; --input replays its CSV exports.
//
// Exit codes: 0 success (also after SIGINT/SIGTERM and a clean flush), 1 a
// runtime failure such as an undelivered message, 2 a bad flag or config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/kafka"
	"github.com/turnstile-stream/turnstile-stream/internal/mta"
	"github.com/turnstile-stream/turnstile-stream/internal/ops"
	"github.com/turnstile-stream/turnstile-stream/internal/producer"
	"github.com/turnstile-stream/turnstile-stream/internal/publish"
	"github.com/turnstile-stream/turnstile-stream/internal/publish/metrics"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/synthetic"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills the process at once instead
	// of waiting for the flush.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// inputList is a repeatable --input flag.
type inputList []string

func (l *inputList) String() string     { return strings.Join(*l, " ") }
func (l *inputList) Set(s string) error { *l = append(*l, s); return nil }

// parseFlags parses args into a Config, not yet validated. Errors are usage
// errors.
func parseFlags(args []string, stderr io.Writer) (producer.Config, error) {
	var c producer.Config
	var inputs inputList
	fs := flag.NewFlagSet("producer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Source, "source", producer.SourceTurnstile, "data source: turnstile (MTA turnstile files or --synthetic) or ridership (the hourly ridership dataset: --dataset or --input)")
	fs.Var(&inputs, "input", "files to replay, plain or .gz: MTA turnstile files, or with --source ridership CSV exports; a `FILE`, a directory (its files), a quoted glob, or gs://BUCKET/PREFIX (repeat the flag, or list more after it)")
	fs.BoolVar(&c.Synthetic, "synthetic", false, "generate a synthetic live feed instead of replaying files")
	fs.IntVar(&c.Turnstiles, "turnstiles", 200, "synthetic: number of turnstiles")
	fs.Float64Var(&c.Rate, "rate", 100, "synthetic: messages per second")
	fs.Float64Var(&c.Speed, "speed", 0, "replay: seconds of readings per wall second, 0 = as fast as possible; synthetic: event-time seconds per wall second, 0 = 1 (real time)")
	fs.Uint64Var(&c.Seed, "seed", 1, "synthetic: random seed; the same seed, --start and --count give byte-identical messages")
	fs.StringVar(&c.Start, "start", "", "synthetic: event time of the first message, \"YYYY-MM-DD HH:MM:SS\" (UTC) or RFC 3339; default now")
	fs.Int64Var(&c.Count, "count", 0, "synthetic: number of messages, 0 = unlimited")
	fs.Int64Var(&c.MaxDelta, "max-delta", mta.DefaultMaxDelta, "replay: largest ENTRIES or EXITS delta taken as real; above it (or negative) the reading is skipped as a reset")
	fs.StringVar(&c.Topic, "topic", "", "Kafka `TOPIC`; empty = mta-turnstile, or mta-ridership with --source ridership")
	fs.StringVar(&c.ConfigPath, "config", "", "librdkafka properties `FILE` (key=value, # comments, ${ENV} values); required unless --out is set")
	fs.BoolVar(&c.CreateTopic, "create-topic", false, "create the topic through the AdminClient when it is missing")
	fs.IntVar(&c.Partitions, "partitions", 4, "partitions of a topic made by --create-topic")
	fs.StringVar(&c.Out, "out", "", "write message values to this file instead of Kafka, one per line; - is stdout")
	fs.DurationVar(&c.FlushTimeout, "flush-timeout", publish.DefaultFlushTimeout, "how long to wait for outstanding deliveries at the end or on SIGINT/SIGTERM")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve /metrics, /healthz and /readyz on this `ADDR` (host:port); empty = off")
	fs.StringVar(&c.From, "from", "", "replay and ridership: send only readings (rows) at or after this event `TIME` (transit_timestamp): YYYY-MM-DD, \"YYYY-MM-DD HH:MM:SS\" or RFC 3339 (the files' naive time, read as UTC)")
	fs.StringVar(&c.To, "to", "", "replay and ridership: send only readings (rows) before this event `TIME` (same formats as --from); with --dataset, stop at the end of the data instead of polling")
	fs.StringVar(&c.TempDir, "temp-dir", "", "replay: `DIR` for the spill file of sorted runs that do not fit in memory; default $TMPDIR or /tmp")
	fs.StringVar(&c.Dataset, "dataset", "", "ridership: follow this SODA dataset `ID` through the API (5wq4-mkjj from 2025, wujg-7c2s for 2020-2024)")
	fs.StringVar(&c.SODAURL, "soda-url", ridership.DefaultSODAURL, "ridership: the Socrata portal `URL` serving --dataset")
	fs.StringVar(&c.AppTokenFile, "app-token-file", "", "ridership: `FILE` holding the SODA app token; default the environment variable "+ridership.TokenEnv+" (the token is never logged)")
	fs.DurationVar(&c.PollInterval, "poll-interval", ridership.DefaultPollInterval, "ridership: how long to wait at the end of the data before asking the API again")
	fs.StringVar(&c.StateFile, "state-file", "", "ridership: `FILE` that keeps the cursor of --dataset across runs (written after each delivered page); default none, start at --from")
	// Flags may follow the files of --input FILE...: parse, take the files
	// up to the next flag, and parse again from there.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return c, err
		}
		rest = fs.Args()
		i := 0
		for i < len(rest) && (len(rest[i]) < 2 || rest[i][0] != '-') {
			i++
		}
		files = append(files, rest[:i]...)
		if rest = rest[i:]; len(rest) == 0 {
			break
		}
	}
	c.Inputs = inputs
	if len(files) > 0 {
		if len(inputs) == 0 {
			return c, fmt.Errorf("unexpected argument %q (input files go after --input)", files[0])
		}
		c.Inputs = append(c.Inputs, files...)
	}
	return c, nil
}

// kafkaProperties loads the --config properties file of a run that sends to
// Kafka; it returns nil for --out.
func kafkaProperties(cfg *producer.Settings) (kafka.Properties, error) {
	if cfg.Out != "" {
		return nil, nil
	}
	props, err := kafka.Load(cfg.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	if props["bootstrap.servers"] == "" {
		return nil, fmt.Errorf("--config %s: bootstrap.servers is not set", cfg.ConfigPath)
	}
	return props, nil
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// On a terminal, log lines go above the progress status line.
	status := terminal(stderr)
	if status != nil {
		stderr = status
	}
	usage := func(err error) int {
		fmt.Fprintf(stderr, "producer: %v\nRun producer -h for the flags.\n", err)
		return exitUsage
	}
	flags, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return usage(err)
	}
	log, err := ops.NewLogger(stderr, flags.LogFormat, flags.LogLevel)
	if err != nil {
		return usage(err)
	}
	cfg, err := flags.Validate(time.Now())
	if err != nil {
		return usage(err)
	}
	props, err := kafkaProperties(cfg)
	if err != nil {
		return usage(err)
	}
	var token string
	if cfg.Source == producer.SourceRidership && cfg.Dataset != "" {
		if token, err = ridership.ReadAppToken(cfg.AppTokenFile); err != nil {
			return usage(fmt.Errorf("--app-token-file: %w", err))
		}
	}
	var counters publish.Counters
	var ready atomic.Bool

	if cfg.MetricsAddr != "" {
		srv, err := ops.Listen(ctx, cfg.MetricsAddr, ops.Handler(metrics.NewRegistry(&counters), ready.Load), log)
		if err != nil {
			log.Error("cannot serve metrics", "err", err)
			return exitFailure
		}
		defer func() {
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			srv.Shutdown(shutdownCtx)
		}()
	}

	// The sink first: a bad Kafka configuration shows before a long load.
	sink, code := openSink(ctx, cfg, props, stdout, &counters, log)
	if sink == nil {
		return code
	}
	if cfg.Source == producer.SourceRidership {
		return runRidership(ctx, cfg, token, sink, &counters, &ready, log)
	}
	// Progress of a replay: a status line on a terminal, a log line every
	// 10 s otherwise. It stops before the summary.
	var progress *mta.Progress
	stopProgress := func() {}
	if !cfg.Synthetic {
		progress = &mta.Progress{}
		stopProgress = startProgress(ctx, progress, cfg.LogFormat == "json", status, log)
	}
	defer stopProgress()

	src, done, err := source(ctx, cfg, &counters, progress, log)
	if err != nil {
		stopProgress()
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.FlushTimeout)
		sink.Close(closeCtx) // nothing was sent
		cancel()
		if ctx.Err() != nil {
			s := counters.Snapshot()
			s.Interrupted = true
			log.Info("interrupted while reading input; nothing sent", s.LogAttrs()...)
			return exitOK
		}
		log.Error("cannot read input", "err", err)
		return exitFailure
	}

	ready.Store(true)
	s, err := publish.Run(ctx, src, publish.Config{Sink: sink, Counters: &counters, FlushTimeout: cfg.FlushTimeout, Logger: log})
	ready.Store(false)
	stopProgress()
	if err != nil {
		log.Error("publishing failed", "err", err)
	}
	replayErr := done()
	if replayErr != nil {
		log.Error("replay failed", "err", replayErr)
	}
	log.Info("summary", s.LogAttrs()...)
	if err != nil || replayErr != nil || !s.OK() {
		return exitFailure
	}
	return exitOK
}

// runRidership runs the hourly ridership source into sink, which it closes,
// and returns the exit code. Bad rows are logged at WARN ("skipping bad
// row") and counted as skipped, as the turnstile replay's are.
func runRidership(ctx context.Context, cfg *producer.Settings, token string, sink publish.Sink, counters *publish.Counters, ready *atomic.Bool, log *slog.Logger) int {
	rc := cfg.Ridership
	rc.AppToken, rc.Sink, rc.Counters, rc.FlushTimeout = token, sink, counters, cfg.FlushTimeout
	rc.Logger, rc.Rejects = log, ridership.LogRejects(log)
	ready.Store(true)
	s, err := ridership.Run(ctx, rc)
	ready.Store(false)
	if err != nil {
		log.Error("ridership source failed", "err", err)
	}
	log.Info("summary", s.LogAttrs()...)
	if err != nil || !s.OK() {
		return exitFailure
	}
	return exitOK
}

// startProgress reports progress until the returned stop is called: a
// status line when stderr is a terminal (status is not nil) and the log is
// text, a log line every 10 s otherwise.
func startProgress(ctx context.Context, p *mta.Progress, logJSON bool, status *mta.StatusLine, log *slog.Logger) (stop func()) {
	if logJSON {
		status = nil
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := mta.NewReporter(p, publish.RealClock{}, status, log)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		r.Run(ctx)
	}()
	return func() {
		cancel()
		<-finished
	}
}

// terminal returns a StatusLine on w when w is a terminal, and nil otherwise.
func terminal(w io.Writer) *mta.StatusLine {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return mta.NewStatusLine(f)
		}
	}
	return nil
}

// source reads the replay's files or sets up the synthetic feed. done, called
// after the run, logs how the replay went and returns its error.
func source(ctx context.Context, cfg *producer.Settings, counters *publish.Counters, progress *mta.Progress, log *slog.Logger) (src iter.Seq2[*turnstile.Record, time.Duration], done func() error, err error) {
	if cfg.Synthetic {
		f := cfg.Feed
		feed, err := synthetic.New(f)
		if err != nil {
			return nil, nil, err
		}
		log.Info("synthetic feed", "turnstiles", f.Turnstiles, "rate", f.Rate, "speed", f.Speed,
			"seed", f.Seed, "start", f.Start.Format(turnstile.TimestampLayout), "count", f.Count)
		return func(yield func(*turnstile.Record, time.Duration) bool) {
			for rec, due := range feed.Records() {
				if !yield(rec, due) {
					return // not sent: not counted as read
				}
				counters.Read.Add(1)
			}
		}, func() error { return nil }, nil
	}
	rp, err := readReplay(ctx, cfg, progress, log)
	if err != nil {
		return nil, nil, err
	}
	st := rp.Stats()
	counters.Read.Store(st.Read)
	counters.Skipped.Store(st.Skipped)
	began := time.Now()
	records := func(yield func(*turnstile.Record) bool) {
		defer func() {
			st := rp.Stats()
			counters.Resets.Store(st.Resets)
			counters.Duplicates.Store(st.Duplicates)
		}()
		for rec := range rp.Records() {
			if !yield(rec) {
				return
			}
		}
	}
	done = func() error {
		st := rp.Stats()
		log.Info("replayed turnstile files", "turnstiles", st.Turnstiles, "duplicates", st.Duplicates, "resets", st.Resets,
			"messages", st.Deltas, "took", time.Since(began).Round(time.Millisecond).String())
		return errors.Join(rp.Err(), rp.Close())
	}
	return publish.ByEventTime(records, cfg.Speed), done, nil
}

// readReplay resolves the inputs and reads them into a Replay.
func readReplay(ctx context.Context, cfg *producer.Settings, progress *mta.Progress, log *slog.Logger) (*mta.Replay, error) {
	began := time.Now()
	ins, err := mta.Resolve(ctx, cfg.Inputs, log)
	if err != nil {
		return nil, err
	}
	defer ins.Close()
	progress.SetFiles(len(ins.List))
	c, err := mta.NewConverter(mta.WithMaxDelta(cfg.MaxDelta), mta.WithLogger(log), mta.WithRange(cfg.FromTime, cfg.ToTime),
		mta.WithTempDir(cfg.TempDir), mta.WithProgress(progress))
	if err != nil {
		return nil, err
	}
	// Files are read on two goroutines when there are two cores: the output
	// does not depend on it. More would not help much (the sending half is
	// one goroutine) and would cost about 35 MB each.
	if err := c.ReadInputs(ctx, ins.List, min(runtime.GOMAXPROCS(0), 2)); err != nil {
		c.Finish().Close()
		return nil, err
	}
	rp := c.Finish()
	if err := rp.Err(); err != nil {
		rp.Close()
		return nil, err
	}
	st := rp.Stats()
	spilled, runs := rp.Spilled()
	attrs := []any{"files", st.Files, "read", st.Read, "skipped", st.Skipped, "out_of_range", st.OutOfRange,
		"runs", runs, "spilled", spilled, "spill_bytes", rp.SpillBytes(), "took", time.Since(began).Round(time.Millisecond).String()}
	if from, to := rp.Span(); !from.IsZero() {
		attrs = append(attrs, "from", from.Format(turnstile.TimestampLayout), "to", to.Format(turnstile.TimestampLayout))
	}
	log.Info("read turnstile files", attrs...)
	return rp, nil
}

// openSink opens the line writer or the Kafka producer with props (creating
// the topic if asked). On failure it returns a nil sink and the exit code.
func openSink(ctx context.Context, cfg *producer.Settings, props kafka.Properties, stdout io.Writer, counters *publish.Counters, log *slog.Logger) (publish.Sink, int) {
	switch cfg.Out {
	case "":
	case "-":
		return publish.NewLineWriter(stdout, counters), exitOK
	default:
		f, err := os.Create(cfg.Out)
		if err != nil {
			log.Error("cannot create --out file", "err", err)
			return nil, exitFailure
		}
		return &fileSink{LineWriter: publish.NewLineWriter(f, counters), f: f}, exitOK
	}
	log.Info("kafka producer", "topic", cfg.Topic, "config", cfg.ConfigPath, "properties", props.Redacted(),
		"forced", fmt.Sprintf("enable.idempotence=true acks=all linger.ms=%d", kafka.LingerMS))
	p, err := kafka.NewProducer(kafka.ProducerConfig{Props: props, Topic: cfg.Topic, Counters: counters, Logger: log})
	if err != nil {
		log.Error("bad kafka configuration", "config", cfg.ConfigPath, "err", err)
		return nil, exitUsage
	}
	if cfg.CreateTopic {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := p.EnsureTopic(tctx, cfg.Topic, cfg.Partitions)
		cancel()
		if err != nil {
			log.Error("cannot create topic", "topic", cfg.Topic, "err", err)
			p.Close(context.WithoutCancel(ctx))
			return nil, exitFailure
		}
	}
	return p, exitOK
}

// fileSink is a LineWriter on a file it closes.
type fileSink struct {
	*publish.LineWriter
	f *os.File
}

func (s *fileSink) Close(ctx context.Context) error {
	return errors.Join(s.LineWriter.Close(ctx), s.f.Close())
}
