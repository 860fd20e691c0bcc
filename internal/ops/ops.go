// Package ops serves the operational HTTP endpoints of an app: Prometheus
// metrics at /metrics, liveness at /healthz and readiness at /readyz. Every
// app uses a private registry, never the global one.
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a private registry with the Go runtime and process
// collectors registered.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves /metrics from reg, /healthz (200 while the process serves)
// and /readyz (200 while ready reports true, 503 otherwise; a nil ready is
// always ready).
func Handler(reg *prometheus.Registry, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil && !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// Server is a running HTTP server for the operational endpoints.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// Listen binds addr (host:port; port 0 picks one) and serves h on it until
// Shutdown. A binding error is returned before anything is served.
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

// Serve is Listen with Handler(reg, ready), shut down when ctx is done. It
// returns the address it listens on.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry, ready func() bool, log *slog.Logger) (string, error) {
	s, err := Listen(ctx, addr, Handler(reg, ready), log)
	if err != nil {
		return "", err
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = s.Shutdown(shutdown)
	}()
	return s.Addr(), nil
}
