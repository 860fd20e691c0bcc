package ops

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestServer(t *testing.T) {
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "ops_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	var ready atomic.Bool
	srv, err := Listen(context.Background(), "127.0.0.1:0", Handler(reg, ready.Load), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tests := []struct {
		name     string
		path     string
		ready    bool
		wantCode int
		wantBody []string
	}{
		{name: "healthz", path: "/healthz", wantCode: 200, wantBody: []string{"ok"}},
		{name: "readyz before ready", path: "/readyz", wantCode: 503},
		{name: "readyz when ready", path: "/readyz", ready: true, wantCode: 200, wantBody: []string{"ready"}},
		{name: "metrics", path: "/metrics", wantCode: 200, wantBody: []string{"ops_test_total 3", "go_goroutines", "process_"}},
		{name: "unknown path", path: "/nope", wantCode: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready.Store(tt.ready)
			code, body := get(tt.path)
			if code != tt.wantCode {
				t.Errorf("GET %s = %d, want %d", tt.path, code, tt.wantCode)
			}
			for _, w := range tt.wantBody {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s body lacks %q", tt.path, w)
				}
			}
		})
	}
	if _, err := Listen(context.Background(), srv.Addr(), http.NotFoundHandler(), slog.New(slog.DiscardHandler)); err == nil {
		t.Error("Listen on a busy address succeeded")
	}
}

func TestNewLogger(t *testing.T) {
	var buf strings.Builder
	log, err := NewLogger(&buf, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, `"msg":"shown"`) {
		t.Fatalf("log output %q", got)
	}
	for _, bad := range [][2]string{{"xml", "info"}, {"text", "loud"}} {
		if _, err := NewLogger(&buf, bad[0], bad[1]); err == nil {
			t.Errorf("NewLogger(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
