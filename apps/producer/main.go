// Command producer publishes NYC MTA turnstile counts to Kafka (topic
// mta-turnstile), keyed by CA|UNIT|SCP, as 13-field CSV message values.
//
// Two sources:
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
	"net"
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
	"github.com/turnstile-stream/turnstile-stream/internal/publish"
	"github.com/turnstile-stream/turnstile-stream/internal/publish/metrics"
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

// options are the parsed, validated flags.
type options struct {
	inputs       []string
	synthetic    bool
	turnstiles   int
	rate         float64
	speed        float64
	seed         uint64
	start        time.Time
	count        int64
	maxDelta     int64
	topic        string
	configPath   string
	props        kafka.Properties
	createTopic  bool
	partitions   int
	out          string
	flushTimeout time.Duration
	log          *slog.Logger // on stderr, as --log-format and --log-level say
	metricsAddr  string
	from, to     time.Time // replay: the event-time range; zero = open
	tempDir      string
	logJSON      bool
}

// inputList is a repeatable --input flag.
type inputList []string

func (l *inputList) String() string     { return strings.Join(*l, " ") }
func (l *inputList) Set(s string) error { *l = append(*l, s); return nil }

// parseFlags parses and validates args. Errors are usage errors.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var inputs inputList
	var start, logFormat, logLevel, from, to string
	fs := flag.NewFlagSet("producer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&inputs, "input", "MTA turnstile files to replay, plain or .gz: a `FILE`, a directory (its files), a quoted glob, or gs://BUCKET/PREFIX (repeat the flag, or list more after it)")
	fs.BoolVar(&o.synthetic, "synthetic", false, "generate a synthetic live feed instead of replaying files")
	fs.IntVar(&o.turnstiles, "turnstiles", 200, "synthetic: number of turnstiles")
	fs.Float64Var(&o.rate, "rate", 100, "synthetic: messages per second")
	fs.Float64Var(&o.speed, "speed", 0, "replay: seconds of readings per wall second, 0 = as fast as possible; synthetic: event-time seconds per wall second, 0 = 1 (real time)")
	fs.Uint64Var(&o.seed, "seed", 1, "synthetic: random seed; the same seed, --start and --count give byte-identical messages")
	fs.StringVar(&start, "start", "", "synthetic: event time of the first message, \"YYYY-MM-DD HH:MM:SS\" (UTC) or RFC 3339; default now")
	fs.Int64Var(&o.count, "count", 0, "synthetic: number of messages, 0 = unlimited")
	fs.Int64Var(&o.maxDelta, "max-delta", mta.DefaultMaxDelta, "replay: largest ENTRIES or EXITS delta taken as real; above it (or negative) the reading is skipped as a reset")
	fs.StringVar(&o.topic, "topic", "mta-turnstile", "Kafka topic")
	fs.StringVar(&o.configPath, "config", "", "librdkafka properties `FILE` (key=value, # comments, ${ENV} values); required unless --out is set")
	fs.BoolVar(&o.createTopic, "create-topic", false, "create the topic through the AdminClient when it is missing")
	fs.IntVar(&o.partitions, "partitions", 4, "partitions of a topic made by --create-topic")
	fs.StringVar(&o.out, "out", "", "write message values to this file instead of Kafka, one per line; - is stdout")
	fs.DurationVar(&o.flushTimeout, "flush-timeout", publish.DefaultFlushTimeout, "how long to wait for outstanding deliveries at the end or on SIGINT/SIGTERM")
	fs.StringVar(&logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics, /healthz and /readyz on this `ADDR` (host:port); empty = off")
	fs.StringVar(&from, "from", "", "replay: send only readings at or after this event `TIME`: YYYY-MM-DD, \"YYYY-MM-DD HH:MM:SS\" or RFC 3339 (the files' naive time, read as UTC)")
	fs.StringVar(&to, "to", "", "replay: send only readings before this event `TIME` (same formats as --from)")
	fs.StringVar(&o.tempDir, "temp-dir", "", "replay: `DIR` for the spill file of sorted runs that do not fit in memory; default $TMPDIR or /tmp")
	// Flags may follow the files of --input FILE...: parse, take the files
	// up to the next flag, and parse again from there.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return o, err
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
	o.inputs = inputs
	if len(files) > 0 {
		if len(inputs) == 0 {
			return o, fmt.Errorf("unexpected argument %q (input files go after --input)", files[0])
		}
		o.inputs = append(o.inputs, files...)
	}
	var err error
	if o.log, err = ops.NewLogger(stderr, logFormat, logLevel); err != nil {
		return o, err
	}
	switch {
	case len(o.inputs) == 0 && !o.synthetic:
		return o, errors.New("choose a source: --input FILE... or --synthetic")
	case len(o.inputs) > 0 && o.synthetic:
		return o, errors.New("--input and --synthetic are exclusive")
	case o.speed < 0:
		return o, fmt.Errorf("--speed %v: must not be negative", o.speed)
	case o.maxDelta < 0:
		return o, fmt.Errorf("--max-delta %d: must not be negative", o.maxDelta)
	case o.topic == "" && o.out == "":
		return o, errors.New("--topic must not be empty")
	case o.createTopic && o.out != "":
		return o, errors.New("--create-topic needs Kafka; it cannot be used with --out")
	case o.createTopic && o.partitions < 1:
		return o, fmt.Errorf("--partitions %d: must be at least 1", o.partitions)
	case o.flushTimeout <= 0:
		return o, fmt.Errorf("--flush-timeout %v: must be positive", o.flushTimeout)
	}
	if o.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(o.metricsAddr); err != nil {
			return o, fmt.Errorf("--metrics-addr %q: want host:port (e.g. :9102): %w", o.metricsAddr, err)
		}
	}
	o.logJSON = logFormat == "json"
	for _, in := range o.inputs {
		if mta.IsGCS(in) {
			if _, _, err := mta.ParseGCS(in); err != nil {
				return o, fmt.Errorf("--input %w", err)
			}
		} else if _, err := mta.ExpandLocal(in); err != nil {
			return o, fmt.Errorf("--input: %w", err)
		}
	}
	if o.synthetic && (from != "" || to != "" || o.tempDir != "") {
		return o, errors.New("--from, --to and --temp-dir are for --input replays, not --synthetic")
	}
	if o.from, err = parseEventTime("--from", from); err != nil {
		return o, err
	}
	if o.to, err = parseEventTime("--to", to); err != nil {
		return o, err
	}
	if !o.from.IsZero() && !o.to.IsZero() && !o.from.Before(o.to) {
		return o, fmt.Errorf("--from %s is not before --to %s", from, to)
	}
	if o.tempDir != "" {
		if st, err := os.Stat(o.tempDir); err != nil {
			return o, fmt.Errorf("--temp-dir: %w", err)
		} else if !st.IsDir() {
			return o, fmt.Errorf("--temp-dir %s: not a directory", o.tempDir)
		}
	}
	if o.synthetic {
		if o.speed == 0 {
			o.speed = 1
		}
		o.start = time.Now().UTC().Truncate(time.Second)
		if start != "" {
			t, err := parseStart(start)
			if err != nil {
				return o, err
			}
			o.start = t
		}
		cfg := o.syntheticConfig()
		if err := cfg.Validate(); err != nil {
			return o, fmt.Errorf("--synthetic: %w", err)
		}
	}
	if o.out == "" {
		if o.configPath == "" {
			return o, errors.New("--config FILE is required to send to Kafka (or use --out - to write to stdout)")
		}
		props, err := kafka.Load(o.configPath)
		if err != nil {
			return o, fmt.Errorf("--config: %w", err)
		}
		if props["bootstrap.servers"] == "" {
			return o, fmt.Errorf("--config %s: bootstrap.servers is not set", o.configPath)
		}
		o.props = props
	}
	return o, nil
}

// parseEventTime parses --from or --to; empty is the zero time.
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

func parseStart(s string) (time.Time, error) {
	for _, layout := range []string{turnstile.TimestampLayout, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--start %q: want \"YYYY-MM-DD HH:MM:SS\" or RFC 3339", s)
}

func (o *options) syntheticConfig() synthetic.Config {
	return synthetic.Config{Turnstiles: o.turnstiles, Rate: o.rate, Speed: o.speed, Seed: o.seed, Start: o.start, Count: o.count}
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// On a terminal, log lines go above the progress status line.
	status := terminal(stderr)
	if status != nil {
		stderr = status
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "producer: %v\nRun producer -h for the flags.\n", err)
		return exitUsage
	}
	log := o.log
	var counters publish.Counters
	var ready atomic.Bool

	if o.metricsAddr != "" {
		srv, err := ops.Listen(ctx, o.metricsAddr, ops.Handler(metrics.NewRegistry(&counters), ready.Load), log)
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
	sink, code := openSink(ctx, &o, stdout, &counters, log)
	if sink == nil {
		return code
	}
	// Progress of a replay: a status line on a terminal, a log line every
	// 10 s otherwise. It stops before the summary.
	var progress *mta.Progress
	stopProgress := func() {}
	if !o.synthetic {
		progress = &mta.Progress{}
		stopProgress = startProgress(ctx, progress, o.logJSON, status, log)
	}
	defer stopProgress()

	src, done, err := source(ctx, &o, &counters, progress, log)
	if err != nil {
		stopProgress()
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.flushTimeout)
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
	s, err := publish.Run(ctx, src, publish.Config{Sink: sink, Counters: &counters, FlushTimeout: o.flushTimeout, Logger: log})
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
func source(ctx context.Context, o *options, counters *publish.Counters, progress *mta.Progress, log *slog.Logger) (src iter.Seq2[*turnstile.Record, time.Duration], done func() error, err error) {
	if o.synthetic {
		feed, err := synthetic.New(o.syntheticConfig())
		if err != nil {
			return nil, nil, err
		}
		log.Info("synthetic feed", "turnstiles", o.turnstiles, "rate", o.rate, "speed", o.speed,
			"seed", o.seed, "start", o.start.Format(turnstile.TimestampLayout), "count", o.count)
		return func(yield func(*turnstile.Record, time.Duration) bool) {
			for rec, due := range feed.Records() {
				if !yield(rec, due) {
					return // not sent: not counted as read
				}
				counters.Read.Add(1)
			}
		}, func() error { return nil }, nil
	}
	rp, err := readReplay(ctx, o, progress, log)
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
	return publish.ByEventTime(records, o.speed), done, nil
}

// readReplay resolves the inputs and reads them into a Replay.
func readReplay(ctx context.Context, o *options, progress *mta.Progress, log *slog.Logger) (*mta.Replay, error) {
	began := time.Now()
	ins, err := mta.Resolve(ctx, o.inputs, log)
	if err != nil {
		return nil, err
	}
	defer ins.Close()
	progress.SetFiles(len(ins.List))
	c, err := mta.NewConverter(mta.WithMaxDelta(o.maxDelta), mta.WithLogger(log), mta.WithRange(o.from, o.to),
		mta.WithTempDir(o.tempDir), mta.WithProgress(progress))
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

// openSink opens the line writer or the Kafka producer (creating the topic if
// asked). On failure it returns a nil sink and the exit code.
func openSink(ctx context.Context, o *options, stdout io.Writer, counters *publish.Counters, log *slog.Logger) (publish.Sink, int) {
	switch o.out {
	case "":
	case "-":
		return publish.NewLineWriter(stdout, counters), exitOK
	default:
		f, err := os.Create(o.out)
		if err != nil {
			log.Error("cannot create --out file", "err", err)
			return nil, exitFailure
		}
		return &fileSink{LineWriter: publish.NewLineWriter(f, counters), f: f}, exitOK
	}
	log.Info("kafka producer", "topic", o.topic, "config", o.configPath, "properties", o.props.Redacted(),
		"forced", fmt.Sprintf("enable.idempotence=true acks=all linger.ms=%d", kafka.LingerMS))
	p, err := kafka.NewProducer(kafka.ProducerConfig{Props: o.props, Topic: o.topic, Counters: counters, Logger: log})
	if err != nil {
		log.Error("bad kafka configuration", "config", o.configPath, "err", err)
		return nil, exitUsage
	}
	if o.createTopic {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := p.EnsureTopic(tctx, o.topic, o.partitions)
		cancel()
		if err != nil {
			log.Error("cannot create topic", "topic", o.topic, "err", err)
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
