// Command runlocal runs the whole pipeline on this machine, as separate
// processes that talk the Kafka protocol over loopback: the embedded broker
// (tools/kafka-local), the consumer, the dashboard, and the producer on a
// synthetic feed with an accelerated event clock. It is what `make run`
// starts, after building ./bin; it builds nothing itself.
//
// With --source ridership (`make run SOURCE=ridership`) the feed is the
// hourly ridership sample instead, served by tools/soda-local as a live
// SODA API at a faster clock; the producer polls it, the consumer sums it
// in 1-hour windows into LAKE/ridership, and the dashboard shows its
// ridership panel. Nothing leaves the machine.
//
//	runlocal [--source turnstile|ridership] [--sink file|gcs] [--kafka-bootstrap HOST:PORT] ...
//	runlocal check [--source turnstile|ridership] [--dir lake/turnstile] [--min-files 2] [--metrics URL]
//
// Each child runs in its own process group (so a Ctrl-C reaches only the
// runner) with Pdeathsig (so it dies if the runner is killed). On SIGINT or
// SIGTERM the runner stops them in reverse order of start: producer first,
// so it flushes, then the consumer, so it commits, then the dashboard and
// the broker. A second Ctrl-C kills what is left at once.
//
// Exit codes: 0 after a clean stop, 1 when a component fails, 2 a bad flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/gcstest"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const (
	topic        = "mta-turnstile"
	windowsTopic = "mta-turnstile-windows"
	gcsBucket    = "turnstile-lake"
	windowSize   = 5 * time.Minute
)

// The ridership run (--source ridership).
const (
	ridershipTopic        = "mta-ridership"
	ridershipWindowsTopic = "mta-ridership-windows"
	ridershipDataset      = "5wq4-mkjj"
	ridershipWindow       = time.Hour
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if len(os.Args) > 1 && os.Args[1] == "check" {
		code = runCheck(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else {
		code = run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}

// config holds the validated flags.
type config struct {
	source          string // turnstile or ridership
	bin             string
	lake            string
	sink            string
	bootstrap       string
	brokerPort      int
	partitions      int
	gcsPort         int
	producerMetrics string
	consumerMetrics string
	dashboardAddr   string
	turnstiles      int
	rate            float64
	speed           float64
	seed            uint64
	sodaPort        int
	sodaRows        string
	sodaSpeed       float64
	pollInterval    time.Duration
	stopTimeout     time.Duration
	readyTimeout    time.Duration
	logLevel        slog.Level
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	var logLevel string
	fs := flag.NewFlagSet("runlocal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: runlocal [flags]          run the local pipeline until Ctrl-C")
		fmt.Fprintln(stderr, "       runlocal check [flags]    check the window files and the consumer metrics")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.source, "source", "turnstile", "what runs: turnstile (the synthetic turnstile feed) or ridership (the hourly ridership sample through tools/soda-local)")
	fs.StringVar(&c.bin, "bin", "./bin", "directory of the built commands (make build)")
	fs.StringVar(&c.lake, "lake", "./lake", "local lake: window files go to LAKE/turnstile (ridership: LAKE/ridership), logs to LAKE/logs")
	fs.StringVar(&c.sink, "sink", "file", "where the consumer writes: file (LAKE/turnstile) or gcs (an in-process fake GCS)")
	fs.StringVar(&c.bootstrap, "kafka-bootstrap", "", "use this Kafka cluster (HOST:PORT) instead of the embedded broker")
	fs.IntVar(&c.brokerPort, "broker-port", 9092, "port of the embedded broker on 127.0.0.1")
	fs.IntVar(&c.partitions, "partitions", 4, "partitions of the mta-turnstile topic")
	fs.IntVar(&c.gcsPort, "gcs-port", 4443, "port of the fake GCS server on 127.0.0.1 (--sink gcs)")
	fs.StringVar(&c.producerMetrics, "producer-metrics", "127.0.0.1:9102", "producer's --metrics-addr")
	fs.StringVar(&c.consumerMetrics, "consumer-metrics", "127.0.0.1:9090", "consumer's --metrics-addr")
	fs.StringVar(&c.dashboardAddr, "dashboard-addr", "127.0.0.1:8080", "dashboard's --addr")
	fs.IntVar(&c.turnstiles, "turnstiles", 200, "synthetic turnstiles")
	fs.Float64Var(&c.rate, "rate", 200, "synthetic messages per wall second")
	fs.Float64Var(&c.speed, "speed", 60, "event-time seconds per wall second: 60 closes a 5-minute window every 5 s")
	fs.Uint64Var(&c.seed, "seed", 1, "synthetic random seed")
	fs.IntVar(&c.sodaPort, "soda-port", 8090, "ridership: port of tools/soda-local on 127.0.0.1")
	fs.StringVar(&c.sodaRows, "soda-rows", "testdata/ridership/sample.json", "ridership: the rows soda-local serves (JSON, the API's answer shape)")
	fs.Float64Var(&c.sodaSpeed, "soda-speed", 720, "ridership: data seconds per wall second of soda-local's clock: 720 reveals an hour of rows, and closes a 1-hour window, every 5 s")
	fs.DurationVar(&c.pollInterval, "poll-interval", time.Second, "ridership: the producer's --poll-interval")
	fs.DurationVar(&c.stopTimeout, "stop-timeout", 20*time.Second, "how long each component gets to stop before SIGKILL")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", 60*time.Second, "how long each component gets to come up")
	fs.StringVar(&logLevel, "log-level", "warn", "runner log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := c.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
	}
	switch {
	case c.source != "turnstile" && c.source != "ridership":
		return nil, fmt.Errorf("--source %q: want turnstile or ridership", c.source)
	case c.sodaPort < 1 || c.sodaPort > 65535:
		return nil, fmt.Errorf("--soda-port %d: want 1-65535", c.sodaPort)
	case c.sodaSpeed <= 0:
		return nil, fmt.Errorf("--soda-speed %v: must be positive", c.sodaSpeed)
	case c.pollInterval <= 0:
		return nil, fmt.Errorf("--poll-interval %v: must be positive", c.pollInterval)
	case c.sink != "file" && c.sink != "gcs":
		return nil, fmt.Errorf("--sink %q: want file or gcs", c.sink)
	case c.brokerPort < 1 || c.brokerPort > 65535:
		return nil, fmt.Errorf("--broker-port %d: want 1-65535", c.brokerPort)
	case c.gcsPort < 1 || c.gcsPort > 65535:
		return nil, fmt.Errorf("--gcs-port %d: want 1-65535", c.gcsPort)
	case c.partitions < 1:
		return nil, fmt.Errorf("--partitions %d: must be at least 1", c.partitions)
	case c.turnstiles < 1:
		return nil, fmt.Errorf("--turnstiles %d: must be at least 1", c.turnstiles)
	case c.rate <= 0:
		return nil, fmt.Errorf("--rate %v: must be positive", c.rate)
	case c.speed <= 0:
		return nil, fmt.Errorf("--speed %v: must be positive", c.speed)
	case c.stopTimeout <= 0 || c.readyTimeout <= 0:
		return nil, errors.New("--stop-timeout and --ready-timeout must be positive")
	}
	if c.bootstrap != "" {
		if _, _, err := net.SplitHostPort(c.bootstrap); err != nil {
			return nil, fmt.Errorf("--kafka-bootstrap %q: want HOST:PORT: %w", c.bootstrap, err)
		}
	}
	for name, addr := range map[string]string{"--producer-metrics": c.producerMetrics, "--consumer-metrics": c.consumerMetrics, "--dashboard-addr": c.dashboardAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%s %q: want HOST:PORT: %w", name, addr, err)
		}
	}
	return c, nil
}

// run is the whole program; stopSignals stops turning signals into ctx
// cancellation, so that a second Ctrl-C can be caught.
func run(ctx context.Context, stopSignals func(), args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "runlocal: %v\nRun runlocal -h for the flags.\n", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.logLevel}))
	r := &runner{c: c, out: stdout, log: log, sup: NewSupervisor(log)}
	r.sup.StopTimeout = c.stopTimeout
	return r.run(ctx, stopSignals)
}

// prefix is the lake folder of the run's source: turnstile or ridership.
func (c *config) prefix() string { return c.source }

// ridership says whether the run is the hourly ridership one.
func (c *config) ridership() bool { return c.source == "ridership" }

// runner is one run of the local pipeline.
type runner struct {
	c      *config
	out    io.Writer
	log    *slog.Logger
	sup    *Supervisor
	gcs    *gcstest.Server
	logDir string
	logs   []*os.File
}

func (r *runner) printf(format string, args ...any) { fmt.Fprintf(r.out, format, args...) }

func (r *runner) run(ctx context.Context, stopSignals func()) int {
	defer r.closeLogs()
	code := exitOK
	if err := r.start(ctx); err != nil {
		if ctx.Err() != nil {
			r.printf("interrupted while starting\n")
		} else {
			r.printf("\nrunlocal: %v\n", err)
			code = exitFailure
		}
	} else {
		r.summary()
		code = r.wait(ctx)
	}
	return r.stop(stopSignals, code)
}

// start checks the prerequisites, then starts every component in order.
func (r *runner) start(ctx context.Context) error {
	c := r.c
	need := []string{"producer", "consumer", "dashboard"}
	if c.bootstrap == "" {
		need = append(need, "kafka-local")
	}
	if c.ridership() {
		need = append(need, "soda-local")
	}
	for _, name := range need {
		if _, err := os.Stat(filepath.Join(c.bin, name)); err != nil {
			return fmt.Errorf("%s is not built: %w (run `make build`, or `make run`, which builds first)", name, err)
		}
	}
	if c.ridership() {
		if _, err := os.Stat(c.sodaRows); err != nil {
			return fmt.Errorf("--soda-rows: %w (run from the repository's root, or name the sample's path)", err)
		}
	}
	ports := map[string]string{"producer metrics": c.producerMetrics, "consumer metrics": c.consumerMetrics, "dashboard": c.dashboardAddr}
	if c.bootstrap == "" {
		ports["embedded broker"] = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.brokerPort))
	}
	if c.sink == "gcs" {
		ports["fake GCS"] = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.gcsPort))
	}
	if c.ridership() {
		ports["soda-local"] = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.sodaPort))
	}
	for _, what := range slices.Sorted(maps.Keys(ports)) {
		if err := portFree(ports[what]); err != nil {
			return fmt.Errorf("the %s port %s is taken (is another `make run` still running?): %w", what, ports[what], err)
		}
	}

	r.logDir = filepath.Join(c.lake, "logs")
	if err := os.MkdirAll(r.logDir, 0o755); err != nil {
		return fmt.Errorf("create the log directory: %w", err)
	}
	bootstrap := c.bootstrap
	if bootstrap == "" {
		bootstrap = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.brokerPort))
	}
	props := filepath.Join(c.lake, "kafka.properties")
	text := "# written by runlocal (make run)\nbootstrap.servers=" + bootstrap + "\n"
	if c.bootstrap == "" {
		text += "# the embedded broker does not implement client metrics push\nenable.metrics.push=false\n"
	}
	if err := os.WriteFile(props, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", props, err)
	}
	r.printf("runlocal: starting the local pipeline; each component logs to %s/<name>.log\n", r.logDir)

	if c.ridership() {
		return r.startRidership(ctx, props, bootstrap)
	}

	// Kafka.
	if err := r.startKafka(ctx, bootstrap, topic+","+windowsTopic); err != nil {
		return err
	}

	sinkURL, consumerEnv, err := r.startSink()
	if err != nil {
		return err
	}

	// Dashboard: before the consumer, so it sees the first windows.
	dargs := []string{"--config", props, "--topic", windowsTopic, "--addr", c.dashboardAddr,
		"--consumer-metrics", "http://" + c.consumerMetrics + "/metrics"}
	if err := r.startChild(ctx, "dashboard", "dashboard", dargs, nil, tcpProbe(c.dashboardAddr)); err != nil {
		return err
	}
	r.status("dashboard", "reading %s, serving http://%s", windowsTopic, c.dashboardAddr)

	// Consumer.
	cargs := []string{"--config", props, "--topic", topic, "--sink", sinkURL, "--metrics-addr", c.consumerMetrics,
		"--emit-topic", windowsTopic}
	if err := r.startChild(ctx, "consumer", "consumer", cargs, consumerEnv, httpProbe("http://"+c.consumerMetrics+"/healthz")); err != nil {
		return err
	}
	r.status("consumer", "reading %s, 5-minute windows, writing %s", topic, sinkURL)

	// Producer.
	start := feedStart(time.Now(), c.speed, feedAhead)
	// A lake from an earlier run: start after its newest window, so that this
	// run's windows are new files (the consumer, starting without commit
	// metadata, keeps existing ones and would publish nothing until it passed
	// them).
	if names, err := listWindowFiles(filepath.Join(c.lake, "turnstile")); err == nil && len(names) > 0 {
		if after, ok := resumeAfter(start, names, time.Now(), c.speed); ok {
			start = after
		} else if after.After(start) {
			r.status("producer", "the lake holds windows up to %s, too close to now to continue after them; they are kept, and this run shows new windows only after it passes them (remove %s to start clean)",
				after.Format("2006-01-02 15:04"), filepath.Join(c.lake, "turnstile"))
		}
	}
	pargs := []string{
		"--synthetic", "--turnstiles", strconv.Itoa(c.turnstiles), "--rate", fmtFloat(c.rate),
		"--speed", fmtFloat(c.speed), "--seed", strconv.FormatUint(c.seed, 10),
		"--start", start.Format(time.RFC3339),
		"--config", props, "--topic", topic, "--create-topic", "--partitions", strconv.Itoa(c.partitions),
		"--metrics-addr", c.producerMetrics,
	}
	if err := r.startChild(ctx, "producer", "producer", pargs, nil, httpProbe("http://"+c.producerMetrics+"/healthz")); err != nil {
		return err
	}
	every := time.Duration(float64(windowSize) / c.speed).Round(100 * time.Millisecond)
	r.status("producer", "synthetic feed: %d turnstiles, %s msg/s, event clock x%s (a 5-minute window closes every %s), from %s",
		c.turnstiles, fmtFloat(c.rate), fmtFloat(c.speed), every, start.Format("2006-01-02 15:04"))
	return nil
}

// startKafka starts the embedded broker with the given topics, or checks
// that the external cluster answers.
func (r *runner) startKafka(ctx context.Context, bootstrap, topics string) error {
	c := r.c
	if c.bootstrap != "" {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := tcpProbe(bootstrap)(pctx)
		cancel()
		if err != nil {
			return fmt.Errorf("kafka: cannot reach KAFKA_BOOTSTRAP %s: %w", bootstrap, err)
		}
		r.printf("  [up] %-10s external cluster at %s (reachable)\n", "kafka", bootstrap)
		return nil
	}
	err := r.startChild(ctx, "kafka", "kafka-local", []string{
		"--port", strconv.Itoa(c.brokerPort), "--partitions", strconv.Itoa(c.partitions), "--topics", topics,
	}, nil, tcpProbe(bootstrap))
	if err != nil {
		return err
	}
	r.status("kafka", "embedded broker (kfake) at %s, topics %s, %d partitions", bootstrap, topics, c.partitions)
	return nil
}

// startSink returns the consumer's --sink for the run's lake folder
// (LAKE/<prefix>, or the fake GCS started here) and the consumer's extra
// environment.
func (r *runner) startSink() (sinkURL string, env []string, err error) {
	c := r.c
	sinkURL = "file://" + filepath.ToSlash(filepath.Join(c.lake, c.prefix()))
	if !filepath.IsAbs(c.lake) {
		sinkURL = "file://./" + filepath.ToSlash(filepath.Join(c.lake, c.prefix()))
	}
	if c.sink != "gcs" {
		return sinkURL, nil, nil
	}
	srv, err := gcstest.Start(gcstest.Port(c.gcsPort), gcstest.Buckets(gcsBucket))
	if err != nil {
		return "", nil, fmt.Errorf("fake GCS: %w", err)
	}
	r.gcs = srv
	r.status("gcs", "fake-gcs-server in process at %s, bucket %s", srv.URL(), gcsBucket)
	return "gs://" + gcsBucket + "/" + c.prefix(), []string{"STORAGE_EMULATOR_HOST=" + srv.Host()}, nil
}

// startRidership starts the ridership run: the broker, soda-local serving
// the sample at --soda-speed, the dashboard with its ridership panel only,
// the consumer with --source ridership and 1-hour windows, and the
// producer polling soda-local.
func (r *runner) startRidership(ctx context.Context, props, bootstrap string) error {
	c := r.c
	if err := r.startKafka(ctx, bootstrap, ridershipTopic+","+ridershipWindowsTopic); err != nil {
		return err
	}
	sinkURL, consumerEnv, err := r.startSink()
	if err != nil {
		return err
	}
	if names, err := listWindowFiles(filepath.Join(c.lake, c.prefix())); err == nil && len(names) > 0 && c.sink == "file" {
		r.printf("  note: %s holds %d window files of an earlier run; the consumer keeps an existing file as it is (the sample gives the same windows each run), and the dashboard shows every window again\n",
			filepath.Join(c.lake, c.prefix()), len(names))
	}

	sodaAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(c.sodaPort))
	if err := r.startChild(ctx, "soda-local", "soda-local", []string{
		"--port", strconv.Itoa(c.sodaPort), "--dataset", ridershipDataset, "--rows", c.sodaRows, "--speed", fmtFloat(c.sodaSpeed),
	}, nil, tcpProbe(sodaAddr)); err != nil {
		return err
	}
	every := time.Duration(float64(ridershipWindow) / c.sodaSpeed).Round(100 * time.Millisecond)
	r.status("soda-local", "fake SODA API at http://%s/resource/%s.json serving %s, data clock x%s (an hour of rows every %s)",
		sodaAddr, ridershipDataset, c.sodaRows, fmtFloat(c.sodaSpeed), every)

	dargs := []string{"--config", props, "--topic", "", "--ridership-topic", ridershipWindowsTopic, "--addr", c.dashboardAddr,
		"--consumer-metrics", "http://" + c.consumerMetrics + "/metrics"}
	if err := r.startChild(ctx, "dashboard", "dashboard", dargs, nil, tcpProbe(c.dashboardAddr)); err != nil {
		return err
	}
	r.status("dashboard", "reading %s, serving http://%s", ridershipWindowsTopic, c.dashboardAddr)

	// The idle rule closes the last windows once the sample is all sent.
	idle := max(4*every, 5*time.Second)
	cargs := []string{"--source", "ridership", "--config", props, "--topic", ridershipTopic, "--sink", sinkURL,
		"--duration", ridershipWindow.String(), "--idle-close", idle.String(),
		"--metrics-addr", c.consumerMetrics, "--emit-topic", ridershipWindowsTopic}
	if err := r.startChild(ctx, "consumer", "consumer", cargs, consumerEnv, httpProbe("http://"+c.consumerMetrics+"/healthz")); err != nil {
		return err
	}
	r.status("consumer", "reading %s, 1-hour windows (idle close after %s), writing %s", ridershipTopic, idle, sinkURL)

	pargs := []string{"--source", "ridership", "--dataset", ridershipDataset, "--soda-url", "http://" + sodaAddr,
		"--poll-interval", c.pollInterval.String(),
		"--config", props, "--topic", ridershipTopic, "--create-topic", "--partitions", strconv.Itoa(c.partitions),
		"--metrics-addr", c.producerMetrics}
	if err := r.startChild(ctx, "producer", "producer", pargs, nil, httpProbe("http://"+c.producerMetrics+"/healthz")); err != nil {
		return err
	}
	r.status("producer", "polling dataset %s every %s", ridershipDataset, c.pollInterval)
	return nil
}

// startChild opens the child's log and starts it from the bin directory,
// waiting at most readyTimeout for its probe.
func (r *runner) startChild(ctx context.Context, name, binary string, args, env []string, ready func(context.Context) error) error {
	path := filepath.Join(r.logDir, name+".log")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("%s: open its log: %w", name, err)
	}
	r.logs = append(r.logs, f)
	abs, err := filepath.Abs(filepath.Join(r.c.bin, binary))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	rctx, cancel := context.WithTimeout(ctx, r.c.readyTimeout)
	defer cancel()
	if err := r.sup.Start(rctx, Spec{Name: name, Path: abs, Args: args, Env: env, Log: f, Ready: ready}); err != nil {
		r.printf("  [FAILED] %-10s %v\n", name, err)
		r.printTail(name)
		return fmt.Errorf("%s did not start; see %s", name, path)
	}
	return nil
}

func (r *runner) status(name, format string, args ...any) {
	logPath := ""
	if name != "gcs" {
		logPath = "  (log " + filepath.Join(r.logDir, name+".log") + ")"
	}
	r.printf("  [up] %-10s %s%s\n", name, fmt.Sprintf(format, args...), logPath)
}

// printTail prints the last lines of a child's log.
func (r *runner) printTail(name string) {
	data, err := os.ReadFile(filepath.Join(r.logDir, name+".log"))
	if err != nil || len(data) == 0 {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	r.printf("  last lines of %s.log:\n", name)
	for _, l := range lines {
		r.printf("    | %s\n", l)
	}
}

// summary prints where things are once every component is up.
func (r *runner) summary() {
	c := r.c
	r.printf("\nThe pipeline is running. Ctrl-C stops it.\n")
	first := 2*time.Duration(float64(windowSize)/c.speed) + 5*time.Second
	if c.ridership() {
		first = 2*time.Duration(float64(ridershipWindow)/c.sodaSpeed) + 5*time.Second
	}
	if r.gcs != nil {
		r.printf("  files:     gs://%s/%s/ on the fake GCS at %s (in memory: gone when the runner stops)\n", gcsBucket, c.prefix(), r.gcs.URL())
		r.printf("             list them: curl -s '%s/storage/v1/b/%s/o?prefix=%s/' | grep -o '\"name\": *\"[^\"]*\"'\n", r.gcs.URL(), gcsBucket, c.prefix())
	} else {
		r.printf("  files:     %s/*.csv.gz (the first within ~%s)\n", filepath.Join(c.lake, c.prefix()), first.Round(time.Second))
	}
	r.printf("  metrics:   consumer http://%s/metrics   producer http://%s/metrics\n", c.consumerMetrics, c.producerMetrics)
	r.printf("  dashboard: http://%s\n", c.dashboardAddr)
	r.printf("  logs:      %s/<name>.log\n\n", r.logDir)
}

// wait runs until a signal or until a component exits on its own, printing
// the growth of the lake now and then.
func (r *runner) wait(ctx context.Context) int {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	last := 0
	for {
		select {
		case <-ctx.Done():
			r.printf("\nrunlocal: interrupt received; stopping (Ctrl-C again to kill at once)\n")
			return exitOK
		case name := <-r.sup.Exited():
			r.printf("\nrunlocal: %s exited on its own; stopping the pipeline\n", name)
			r.printTail(name)
			return exitFailure
		case <-tick.C:
			names := r.windowFiles(ctx)
			if len(names) != last && len(names) > 0 {
				r.printf("  lake: %d window files, newest %s\n", len(names), names[len(names)-1])
				last = len(names)
			}
		}
	}
}

// windowFiles lists the window files written so far, sorted.
func (r *runner) windowFiles(ctx context.Context) []string {
	var names []string
	if r.gcs != nil {
		objs, err := r.gcs.Objects(gcsBucket, r.c.prefix()+"/")
		if err != nil {
			r.log.Warn("list fake GCS objects", "err", err)
			return nil
		}
		names = objs
	} else {
		var err error
		if names, err = listWindowFiles(filepath.Join(r.c.lake, r.c.prefix())); err != nil {
			r.log.Warn("list window files", "err", err)
			return nil
		}
	}
	slices.Sort(names)
	return names
}

// stop stops every component and returns the exit code.
func (r *runner) stop(stopSignals func(), code int) int {
	// From here a signal no longer cancels the run context: a second one
	// makes the stop kill at once.
	stopSignals()
	if r.sup.Len() == 0 && r.gcs == nil {
		return code
	}
	kill, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	r.printf("runlocal: stopping in reverse order of start (the producer flushes, the consumer commits, then the rest)\n")
	r.sup.Stop(kill, func(st Stopped) {
		took := st.Took.Round(100 * time.Millisecond)
		switch {
		case st.Early:
			r.printf("  [down] %-10s had already exited: %s\n", st.Name, exitText(st.Err))
			code = exitFailure
		case st.Killed:
			r.printf("  [down] %-10s killed (SIGKILL) after %s\n", st.Name, took)
			code = exitFailure
		case st.Err != nil:
			r.printf("  [down] %-10s stopped in %s: %s\n", st.Name, took, st.Err)
			code = exitFailure
		default:
			r.printf("  [down] %-10s stopped cleanly in %s\n", st.Name, took)
		}
	})
	if r.gcs != nil {
		n := len(r.windowFiles(context.Background()))
		r.gcs.Close()
		r.printf("  [down] %-10s closed; it held %d window objects\n", "gcs", n)
	} else if r.logDir != "" {
		r.printf("  %d window files in %s\n", len(r.windowFiles(context.Background())), filepath.Join(r.c.lake, r.c.prefix()))
	}
	if code == exitOK {
		r.printf("runlocal: stopped cleanly\n")
	} else {
		r.printf("runlocal: stopped; something went wrong, see the logs in %s\n", r.logDir)
	}
	return code
}

func (r *runner) closeLogs() {
	for _, f := range r.logs {
		_ = f.Close()
	}
}

// listWindowFiles lists the finished window files (*.csv.gz, not the
// hidden temporary files of a write in progress) directly under dir.
func listWindowFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".csv.gz") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// feedAhead is how long `make run` can run before its accelerated event clock
// passes the wall clock.
const feedAhead = 24 * time.Hour

// resumeMargin is how long a feed resumed after an earlier run's windows
// must be able to run before its event clock passes the wall clock.
const resumeMargin = time.Hour

// resumeAfter returns the end of the newest window file among names
// (lake.WindowEnd) and whether a feed starting there, rather than at
// start, stays behind the wall clock for resumeMargin at the given speed.
func resumeAfter(start time.Time, names []string, now time.Time, speed float64) (time.Time, bool) {
	var newest time.Time
	for _, name := range names {
		if t, ok := lake.WindowEnd(name); ok && t.After(newest) {
			newest = t
		}
	}
	if !newest.After(start) {
		return newest, false
	}
	ahead := time.Duration(max(speed-1, 0) * float64(resumeMargin))
	return newest, !newest.Add(ahead).After(now)
}

// feedStart is where the synthetic feed's event clock starts: far enough in
// the past that, running speed times faster than the wall clock, it stays
// behind the wall clock for the given run time. The consumer's clock guard
// (--max-future) rejects records stamped ahead of the wall clock, so a feed
// that started at now would be rejected after a minute at speed 60.
func feedStart(now time.Time, speed float64, run time.Duration) time.Time {
	if speed <= 1 {
		return now.UTC().Truncate(time.Second)
	}
	behind := time.Duration((speed - 1) * float64(run))
	return now.Add(-behind).UTC().Truncate(time.Second)
}
