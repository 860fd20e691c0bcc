// Package metrics serves a producer's counters as Prometheus metrics, plus
// the /healthz and /readyz endpoints the deploy workflow waits on. It uses a
// private registry, never the global one.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// NewRegistry returns a registry with the producer's counters, read straight
// from c at scrape time, and the Go runtime and process collectors.
func NewRegistry(c *publish.Counters) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "turnstile", Subsystem: "producer", Name: name, Help: help,
		}, func() float64 { return float64(v.Load()) })
	}
	reg.MustRegister(
		counter("read_total", "Input rows read (replay) or records generated (synthetic).", &c.Read),
		counter("sent_total", "Messages delivered (acknowledged by the broker, or written with --out).", &c.Sent),
		counter("failed_total", "Messages whose delivery failed.", &c.Failed),
		counter("skipped_total", "Bad input rows skipped.", &c.Skipped),
		counter("resets_total", "Readings skipped as counter resets or bad readings (delta negative or above --max-delta).", &c.Resets),
		counter("duplicates_total", "Readings ignored as repeats of a turnstile and time.", &c.Duplicates),
		counter("queued_total", "Messages handed to the sink.", &c.Queued),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves /metrics from reg, /healthz (200 while the process runs) and
// /readyz (200 while ready is true, 503 otherwise).
func Handler(reg *prometheus.Registry, ready *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// Server is a running metrics server.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// Listen binds addr (host:port; port 0 picks one) and serves h on it until
// Shutdown. Binding errors are returned before anything is served.
func Listen(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	s := &Server{
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second},
		addr: ln.Addr(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", s.addr.String(), "paths", "/metrics /healthz /readyz")
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.addr.String() }

// Shutdown stops the server, waiting for open requests until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
