// Command dashboard is the live turnstile dashboard. It reads the closed
// (window, key) rows that the consumer publishes with --emit-topic, keeps a
// bounded recent history in memory, and serves a web page that gets every
// change pushed over Server-Sent Events. With --ridership-topic it also
// shows the hourly ridership windows of a consumer run with --source
// ridership. See docs/dashboard.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/dashboard"
	"github.com/turnstile-stream/turnstile-stream/internal/kafka"
	"github.com/turnstile-stream/turnstile-stream/internal/ops"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// How often browsers get changes and health.
const (
	flushEvery  = 200 * time.Millisecond
	healthEvery = 2 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	os.Exit(code)
}

type options struct {
	config, bootstrap, topic, group  string
	ridershipTopic                   string
	history, maxFuture               time.Duration
	maxRows                          int
	addr, consumerMetrics            string
	metricsAddr, logFormat, logLevel string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "librdkafka key=value properties file (bootstrap.servers, security.protocol, sasl.*)")
	fs.StringVar(&o.bootstrap, "bootstrap", "", "bootstrap.servers, overriding the properties file")
	fs.StringVar(&o.topic, "topic", "mta-turnstile-windows", "Kafka topic of closed turnstile windows (the consumer's --emit-topic); empty: no turnstile panels (needs --ridership-topic)")
	fs.StringVar(&o.ridershipTopic, "ridership-topic", "", "Kafka topic of closed ridership windows (the --emit-topic of a consumer run with --source ridership, e.g. mta-ridership-windows); empty: no ridership panel")
	fs.StringVar(&o.group, "group", "", "join this consumer group (offsets are never committed); empty: no group, read every partition from the beginning")
	fs.DurationVar(&o.history, "history", 24*time.Hour, "keep windows ending this far back from the newest window end (event time)")
	fs.IntVar(&o.maxRows, "history-rows", 2_000_000, "keep at most this many (turnstile, window) rows; the oldest windows go first")
	fs.DurationVar(&o.maxFuture, "max-future", time.Hour, "ignore rows whose window ends more than this after the wall clock, so that one mis-clocked row cannot evict the history; 0: off")
	fs.StringVar(&o.addr, "addr", ":8080", "serve the dashboard on this address")
	fs.StringVar(&o.consumerMetrics, "consumer-metrics", "", "the consumer's /metrics URL (e.g. http://localhost:9090/metrics), for lag and watermark; empty: not shown")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve the dashboard's own /metrics, /healthz and /readyz on this address; empty: off")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return o, nil
}

type settings struct {
	props kafka.Properties
	log   *slog.Logger
}

func validate(o *options, stderr io.Writer) (*settings, error) {
	s := &settings{}
	var err error
	if s.log, err = ops.NewLogger(stderr, o.logFormat, o.logLevel); err != nil {
		return nil, err
	}
	if o.topic == "" && o.ridershipTopic == "" {
		return nil, errors.New("--topic must not be empty unless --ridership-topic is set")
	}
	if o.topic != "" && o.topic == o.ridershipTopic {
		return nil, fmt.Errorf("--topic and --ridership-topic are both %q: the two need their own topics", o.topic)
	}
	if o.history < time.Minute {
		return nil, fmt.Errorf("--history: want at least 1m, got %s", o.history)
	}
	if o.maxFuture < 0 {
		return nil, fmt.Errorf("--max-future: want 0 (off) or a positive duration, got %s", o.maxFuture)
	}
	if o.maxRows < 1 {
		return nil, fmt.Errorf("--history-rows: want a positive number, got %d", o.maxRows)
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return nil, fmt.Errorf("--addr: want HOST:PORT or :PORT, got %q", o.addr)
	}
	if o.consumerMetrics != "" {
		u, err := url.Parse(o.consumerMetrics)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--consumer-metrics: want an http(s) URL such as http://localhost:9090/metrics, got %q", o.consumerMetrics)
		}
	}
	if s.props, err = kafka.Resolve(o.config, o.bootstrap); err != nil {
		return nil, err
	}
	return s, nil
}

// run runs the dashboard until ctx is done. When listening is not nil, it
// gets the page's URL once the server listens.
func run(ctx context.Context, args []string, stderr io.Writer, listening chan<- string) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "dashboard:", err)
		return exitUsage
	}
	s, err := validate(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "dashboard:", err)
		return exitUsage
	}
	log := s.log
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	reg := ops.NewRegistry()
	d := dashboard.New(dashboard.Config{History: o.history, MaxRows: o.maxRows, MaxFuture: o.maxFuture, Logger: log, Registry: reg,
		Ridership: o.ridershipTopic != "", NoTurnstile: o.topic == ""})

	// One reader per window topic, each with its own sink.
	var readers []*kafka.Reader
	var sinks []dashboard.MessageSink
	defer func() {
		for _, r := range readers {
			if err := r.Close(); err != nil {
				log.Warn("closing the Kafka consumer", "err", err)
			}
		}
	}()
	for _, t := range []struct {
		topic string
		sink  dashboard.MessageSink
	}{{o.topic, d.AddTurnstileMessage}, {o.ridershipTopic, d.AddRidershipMessage}} {
		if t.topic == "" {
			continue
		}
		reader, err := kafka.OpenReader(kafka.ReaderConfig{Props: s.props, Topic: t.topic, Group: o.group, Logger: log})
		if err != nil {
			fmt.Fprintln(stderr, "dashboard:", err)
			return exitUsage
		}
		readers = append(readers, reader)
		sinks = append(sinks, t.sink)
	}
	d.SetReaderLag(func() int64 { return sumLag(readers) })

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintf(stderr, "dashboard: --addr %s: %v\n", o.addr, err)
		return exitUsage
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	pageURL := "http://" + displayAddr(ln.Addr().(*net.TCPAddr)) + "/"
	log.Info("dashboard listening", "url", pageURL, "topic", o.topic, "ridership_topic", o.ridershipTopic, "history", o.history,
		"kafka", strings.Join(s.props.Redacted(), " "))
	if listening != nil {
		listening <- pageURL
	}
	if o.metricsAddr != "" {
		bound, err := ops.Serve(ctx, o.metricsAddr, reg, func() bool { return true }, log)
		if err != nil {
			log.Error("metrics server not started", "err", err)
		} else {
			log.Info("metrics listening", "url", "http://"+bound+"/metrics")
		}
	}

	go tick(ctx, flushEvery, func() { d.Flush() })
	go tick(ctx, healthEvery, func() {
		if o.consumerMetrics != "" {
			scrape, cancel := context.WithTimeout(ctx, time.Second)
			d.SetConsumerHealth(dashboard.ScrapeConsumer(scrape, http.DefaultClient, o.consumerMetrics, time.Now()))
			cancel()
		}
		d.BroadcastHealth()
	})

	// Each reader returns nil once ctx is done, or an error that stops the
	// dashboard.
	readErr := make(chan error, len(readers))
	for i, r := range readers {
		go func() { readErr <- r.Run(ctx, sinks[i]) }()
	}

	code := exitOK
	running := len(readers)
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case err := <-readErr:
		running--
		if err != nil {
			log.Error("reading a window topic", "err", err)
			code = exitRuntime
		}
	case err := <-serveErr:
		log.Error("http server", "err", err)
		code = exitRuntime
	}
	cancel()
	for ; running > 0; running-- {
		<-readErr
	}
	shutdown, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	_ = srv.Shutdown(shutdown) // event streams end with ctx (BaseContext)
	return code
}

// sumLag is the readers' lag summed; -1 while any is unknown.
func sumLag(readers []*kafka.Reader) int64 {
	var sum int64
	for _, r := range readers {
		l := r.Lag()
		if l < 0 {
			return -1
		}
		sum += l
	}
	return sum
}

// displayAddr turns a listening address into one a browser can open:
// an unspecified IP (from ":8080") becomes localhost.
func displayAddr(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, strconv.Itoa(a.Port))
}

func tick(ctx context.Context, every time.Duration, f func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
