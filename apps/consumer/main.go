// Command consumer reads turnstile counts from the Kafka topic mta-turnstile
// (or from a file, --input), sums ENTRIES and EXITS per turnstile in
// event-time windows, and writes gzip CSV files to the data lake: a local
// folder or a GCS bucket. With --source ridership it does the same for the
// hourly ridership records of mta-ridership (ridership and transfers per
// station complex, payment method and fare class). See docs/consumer.md for
// flags and docs/lake.md for the output layout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/turnstile-stream/turnstile-stream/internal/kafka"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/ops"
	"github.com/turnstile-stream/turnstile-stream/internal/stream"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stderr))
}

type options struct {
	source                                  string
	topic, group, client, config, bootstrap string
	duration, slide, watermark, idleClose   string
	sink, layout, input, deadLetterTopic    string
	emitTopic, transactionalID, instanceID  string
	index                                   bool
	commitInterval, maxFuture               time.Duration
	gcPercent, acceptPartitions             int
	metricsAddr, logFormat, logLevel        string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("consumer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.source, "source", "turnstile", "record type: turnstile, or ridership (hourly ridership; changes the defaults of --topic, --group, --client, --sink and --index)")
	fs.StringVar(&o.topic, "topic", "mta-turnstile", "Kafka topic to read (ridership: mta-ridership)")
	fs.StringVar(&o.group, "group", "turnstile-consumer", "Kafka consumer group (ridership: ridership-consumer)")
	fs.StringVar(&o.client, "client", "turnstile-consumer", "Kafka client.id (ridership: ridership-consumer)")
	fs.StringVar(&o.config, "config", "", "librdkafka key=value properties file (bootstrap.servers, security.protocol, sasl.*)")
	fs.StringVar(&o.bootstrap, "bootstrap", "", "bootstrap.servers, overriding the properties file")
	fs.StringVar(&o.duration, "duration", "5", "window duration D: minutes as a number, or a Go duration such as 90s")
	fs.StringVar(&o.slide, "slide", "", "window slide S (default: the duration, i.e. tumbling windows)")
	fs.StringVar(&o.watermark, "watermark", "", "watermark delay, a Go duration (default: the window duration)")
	fs.StringVar(&o.idleClose, "idle-close", "", "advance an idle partition's watermark after this much wall-clock silence, a Go duration; 0 disables (default: the window duration)")
	fs.StringVar(&o.sink, "sink", "file://./lake/turnstile", "where window files go: file://DIR/PREFIX or gs://BUCKET/PREFIX (ridership: file://./lake/ridership)")
	fs.StringVar(&o.layout, "layout", "flat", "object layout: flat (PREFIX/<end>_<source>.csv.gz) or hive (PREFIX/dt=YYYY-MM-DD/...)")
	fs.BoolVar(&o.index, "index", true, "write the pandas index column, as the batch files have it (ridership: false, and true is refused)")
	fs.StringVar(&o.input, "input", "", "read message values, one per line, from FILE or - (stdin) instead of Kafka")
	fs.StringVar(&o.deadLetterTopic, "dead-letter-topic", "", "write rejected and late records to this Kafka topic instead of the lake")
	fs.StringVar(&o.emitTopic, "emit-topic", "", "also publish every closed (window, key) row to this Kafka topic, in a transaction with the offsets (e.g. mta-turnstile-windows)")
	fs.StringVar(&o.transactionalID, "transactional-id", "", "transactional.id of the --emit-topic producer, unique and stable per instance (default: GROUP.INSTANCE-ID with --instance-id, else GROUP.CLIENT.HOSTNAME)")
	fs.StringVar(&o.instanceID, "instance-id", "", "group.instance.id (static membership): a restarted consumer with the same ID takes its partitions back without a rebalance; unique per instance, e.g. the host name")
	fs.DurationVar(&o.maxFuture, "max-future", time.Hour, "reject records stamped more than this far ahead of the wall clock (reason future_timestamp); 0 disables the guard")
	fs.DurationVar(&o.commitInterval, "commit-interval", 5*time.Second, "how often to commit partitions with new records when no window closes")
	fs.IntVar(&o.acceptPartitions, "accept-partitions", 0, "accept offsets committed under another partition count when the topic has exactly this many partitions now: the last step of growing the topic (docs/consumer.md); 0: refuse")
	fs.IntVar(&o.gcPercent, "gc-percent", defaultGCPercent, "Go garbage collector target, as GOGC: the heap may grow to (1+N/100) times the live data; lower it to trade CPU for memory")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics, /healthz and /readyz on this address (e.g. :9090); empty: off")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.source == "ridership" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if set["index"] && o.index {
			return nil, errors.New("--index: ridership window files have no index column (docs/lake.md); drop --index")
		}
		o.index = false
		for name, p := range map[string]*string{"topic": &o.topic, "group": &o.group, "client": &o.client, "sink": &o.sink} {
			if !set[name] {
				*p = ridershipDefaults[name]
			}
		}
	}
	return o, nil
}

// ridershipDefaults are the defaults of the flags that --source ridership
// changes. Its consumer group differs from turnstile's: two consumers of
// different record types must never share a group (every start or stop of
// one would rebalance the other, their default transactional.ids would
// collide when their --client is the same, and a --topic mistake would hand
// one type's records to the other's parser).
var ridershipDefaults = map[string]string{
	"topic":  "mta-ridership",
	"group":  "ridership-consumer",
	"client": "ridership-consumer",
	"sink":   "file://./lake/ridership",
}

// defaultGroups are the default consumer groups of the record types: a
// consumer refuses the other record type's (checkSeparate).
var defaultGroups = map[string]string{"turnstile": "turnstile-consumer", "ridership": ridershipDefaults["group"]}

// checkSeparate refuses a consumer group (group is "" in file mode, which
// has none) or a lake prefix that is named for the other record type: the
// default group of the other type, or a prefix whose last element is the
// other type's name. One group and one prefix hold one record type
// (docs/consumer.md, "Record types").
func checkSeparate(records, group, prefix string) error {
	for other, otherGroup := range defaultGroups {
		if other == records {
			continue
		}
		if group != "" && group == otherGroup {
			return fmt.Errorf("--group %s is the %s consumer's group; a %s consumer needs its own (default %s)",
				group, other, records, defaultGroups[records])
		}
		if path.Base(prefix) == other {
			return fmt.Errorf("--sink prefix %s is named for %s windows; %s window files need a prefix of their own, such as .../%s",
				prefix, other, records, records)
		}
	}
	return nil
}

// defaultGCPercent is the default of --gc-percent. Kafka mode allocates a
// message per record in the client library; at 400 the consumer spends about
// 30 % less CPU per record than at Go's default of 100, for a heap up to 5
// times the live data instead of 2 (BENCHMARKS.md).
const defaultGCPercent = 400

// settings is what the flags mean once validated.
type settings struct {
	records   stream.Records
	spec      window.Spec
	idleClose time.Duration
	props     kafka.Properties
	log       *slog.Logger
	// writeTimeout bounds the lake writes between two polls: a third of
	// max.poll.interval.ms.
	writeTimeout time.Duration
}

func validate(o *options, stderr io.Writer) (*settings, error) {
	s := &settings{}
	var err error
	if s.log, err = ops.NewLogger(stderr, o.logFormat, o.logLevel); err != nil {
		return nil, err
	}
	if s.records, err = stream.RecordsNamed(o.source); err != nil {
		return nil, fmt.Errorf("--source: %w", err)
	}
	size, err := parseLength(o.duration)
	if err != nil {
		return nil, fmt.Errorf("--duration: %w", err)
	}
	slide := size
	if o.slide != "" {
		if slide, err = parseLength(o.slide); err != nil {
			return nil, fmt.Errorf("--slide: %w", err)
		}
	}
	delay := size
	if o.watermark != "" {
		if delay, err = time.ParseDuration(o.watermark); err != nil {
			return nil, fmt.Errorf("--watermark: want a Go duration such as 5m: %w", err)
		}
	}
	if s.spec, err = window.NewSpec(size, slide, delay); err != nil {
		return nil, err
	}
	s.idleClose = size
	if o.idleClose != "" {
		if s.idleClose, err = time.ParseDuration(o.idleClose); err != nil || s.idleClose < 0 {
			return nil, fmt.Errorf("--idle-close: want a non-negative Go duration such as 5m, got %q", o.idleClose)
		}
	}
	if o.emitTopic != "" && o.input != "" {
		return nil, errors.New("--emit-topic needs the Kafka source: it commits rows and offsets in one transaction; drop --input")
	}
	if o.layout != "flat" && o.layout != "hive" {
		return nil, fmt.Errorf("--layout: want flat or hive, got %q", o.layout)
	}
	if o.maxFuture < 0 {
		return nil, fmt.Errorf("--max-future must be 0 (off) or positive, got %s", o.maxFuture)
	}
	if o.acceptPartitions < 0 {
		return nil, fmt.Errorf("--accept-partitions must not be negative, got %d", o.acceptPartitions)
	}
	if o.gcPercent <= 0 {
		return nil, fmt.Errorf("--gc-percent must be positive, got %d", o.gcPercent)
	}
	if o.commitInterval <= 0 {
		return nil, fmt.Errorf("--commit-interval must be positive, got %s", o.commitInterval)
	}
	if o.input == "" || o.deadLetterTopic != "" {
		if s.props, err = kafka.Resolve(o.config, o.bootstrap); err != nil {
			if o.input == "" {
				return nil, fmt.Errorf("%w, or read a file with --input", err)
			}
			return nil, err
		}
		if s.writeTimeout, err = kafka.WriteTimeoutFor(s.props["max.poll.interval.ms"]); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func run(args []string, stdin io.Reader, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "consumer:", err)
		return exitUsage
	}
	s, err := validate(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "consumer:", err)
		return exitUsage
	}
	log := s.log
	debug.SetGCPercent(o.gcPercent)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	reg := ops.NewRegistry()
	metrics := stream.NewMetrics(reg)
	sink, err := lake.Open(ctx, o.sink,
		lake.Logger(log),
		lake.OnRetry(func(op, name string, attempt int, err error) { metrics.SinkRetry() }))
	if err != nil {
		fmt.Fprintln(stderr, "consumer:", err)
		return exitUsage
	}
	defer sink.Close()
	if o.layout == "hive" {
		sink.Layout.Hive = true
	}
	group := o.group
	if o.input != "" {
		group = "" // file mode joins no group
	}
	if err := checkSeparate(s.records.Name(), group, sink.Layout.Prefix); err != nil {
		fmt.Fprintln(stderr, "consumer:", err)
		return exitUsage
	}

	var input io.Reader
	if o.input != "" {
		if o.input == "-" {
			input = stdin
		} else {
			f, err := os.Open(o.input)
			if err != nil {
				fmt.Fprintln(stderr, "consumer: --input:", err)
				return exitUsage
			}
			defer f.Close()
			input = f
		}
	}

	var side stream.SideWriter = stream.LakeSide{Sink: sink, Metrics: metrics}
	if o.deadLetterTopic != "" {
		dl, err := kafka.OpenDeadLetter(s.props, o.client, o.deadLetterTopic, log)
		if err != nil {
			fmt.Fprintln(stderr, "consumer:", err)
			return exitUsage
		}
		defer dl.Close()
		side = dl
	}

	// Claim the prefix's window shape before anything is written or any
	// client joins the group: a prefix holds one shape (docs/lake.md).
	if err := claimShape(ctx, sink, s.spec, log); err != nil {
		log.Error("consumer refused to start", "err", err)
		return exitRuntime
	}

	// Window files are written behind the goroutine that parses. In Kafka
	// mode a write (and the wait for a write slot) is bounded by the loop's
	// write budget, so that a lake outage or a revocation never holds the
	// loop past max.poll.interval.ms (docs/consumer-pipeline.md).
	writeTimeout := stream.DefaultWriteTimeout
	if input == nil {
		writeTimeout = s.writeTimeout
	}
	proc := stream.New(stream.Config{Records: s.records, Spec: s.spec, Sink: sink, Side: side, Index: o.index, KeepRows: o.emitTopic != "",
		MaxFuture: o.maxFuture, WriteTimeout: writeTimeout, Logger: log, Metrics: metrics})
	var runErr error
	if input != nil {
		if err := serveMetrics(ctx, o.metricsAddr, reg, nil, log); err != nil {
			fmt.Fprintln(stderr, "consumer:", err)
			return exitUsage
		}
		log.Info("consumer reading lines", "source", s.records.Name(), "input", o.input, "sink", o.sink,
			"duration", s.spec.Size(), "slide", s.spec.Slide(), "watermark", s.spec.Delay())
		res, err := stream.RunInput(ctx, input, proc)
		runErr = err
		log.Info("input done", "lines", res.Lines, "interrupted", res.Interrupted)
	} else {
		log.Info("consumer starting", "source", s.records.Name(), "topic", o.topic, "group", o.group, "sink", o.sink,
			"duration", s.spec.Size(), "slide", s.spec.Slide(), "watermark", s.spec.Delay(), "idle_close", s.idleClose,
			"kafka", strings.Join(s.props.Redacted(), " "))
		txnID := o.transactionalID
		if o.emitTopic != "" && txnID == "" {
			txnID = defaultTransactionalID(o.group, o.client, o.instanceID, os.Hostname)
		}
		g, err := kafka.OpenGroup(ctx, kafka.GroupConfig{
			Props: s.props, Group: o.group, Client: o.client, InstanceID: o.instanceID,
			EmitTopic: o.emitTopic, TransactionalID: txnID, Topic: o.topic, Logger: log,
		})
		var cerr *kafka.ConfigError
		if errors.As(err, &cerr) {
			fmt.Fprintln(stderr, "consumer:", err)
			return exitUsage
		}
		if err != nil {
			log.Error("consumer failed", "err", err)
			return exitRuntime
		}
		if o.emitTopic != "" {
			log.Info("publishing closed windows", "emit_topic", o.emitTopic, "transactional_id", txnID)
		}
		drv := stream.NewDriver(proc, stream.DriverConfig{
			CommitInterval: o.commitInterval, IdleClose: s.idleClose, WriteTimeout: s.writeTimeout,
			AcceptPartitions: o.acceptPartitions, Logger: log,
		})
		if err := serveMetrics(ctx, o.metricsAddr, reg, drv.Ready, log); err != nil {
			_ = g.Close()
			fmt.Fprintln(stderr, "consumer:", err)
			return exitUsage
		}
		runErr = g.Run(ctx, drv)
		if err := g.Close(); err != nil {
			log.Warn("closing the Kafka consumer", "err", err)
		}
	}
	if runErr != nil {
		log.Error("consumer failed", "err", runErr)
		return exitRuntime
	}
	log.Info("consumer stopped cleanly")
	return exitOK
}

// claimShape claims spec's window shape for the sink's prefix
// (lake.Sink.ClaimShape): an error, a *lake.ShapeError when the prefix holds
// another shape, means the consumer must not write.
func claimShape(ctx context.Context, sink *lake.Sink, spec window.Spec, log *slog.Logger) error {
	created, err := sink.ClaimShape(ctx, spec.Shape())
	if err != nil {
		return err
	}
	if created {
		log.Info("lake prefix claimed for this window shape", "marker", sink.Layout.ShapeObject(), "shape", spec.String())
	}
	return nil
}

// defaultTransactionalID is the emit producer's transactional.id when
// --transactional-id is not given. It must be unique per running instance:
// two instances with the same ID fence each other. With static membership the
// instance ID is that; otherwise the host name makes it so.
func defaultTransactionalID(group, client, instanceID string, hostname func() (string, error)) string {
	if instanceID != "" {
		return group + "." + instanceID
	}
	host, err := hostname()
	if err != nil || host == "" {
		host = fmt.Sprintf("pid%d", os.Getpid())
	}
	return group + "." + client + "." + host
}

// serveMetrics serves /metrics, /healthz and /readyz on addr until ctx is
// done; an empty addr serves nothing.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, ready func() bool, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	_, err := ops.Serve(ctx, addr, reg, ready, log)
	return err
}
