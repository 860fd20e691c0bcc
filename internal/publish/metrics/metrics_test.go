package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/ops"
	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

func TestServer(t *testing.T) {
	var c publish.Counters
	c.Read.Store(12)
	c.Sent.Store(9)
	c.Failed.Store(1)
	c.Skipped.Store(2)
	c.Resets.Store(3)
	var ready atomic.Bool
	srv, err := ops.Listen(context.Background(), "127.0.0.1:0", ops.Handler(NewRegistry(&c), ready.Load), slog.New(slog.DiscardHandler))
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
		{name: "metrics", path: "/metrics", wantCode: 200, wantBody: []string{
			Read + " 12", Sent + " 9", Failed + " 1", Skipped + " 2", Resets + " 3", "go_goroutines",
		}},
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
}
