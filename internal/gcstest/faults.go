package gcstest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Faults injects failures into the requests that reach the emulator. Faults
// are queued: each call to FailNext, StallNext or ResetNext appends n faults,
// and every request that matches the filter (see Only) takes the next one, in
// order. Requests that find the queue empty pass through untouched. A Faults
// is safe for concurrent use; its zero value injects nothing.
type Faults struct {
	mu       sync.Mutex
	queue    []fault
	match    func(*http.Request) bool
	served   map[Kind]int
	requests int
	closed   chan struct{}
	once     sync.Once
}

// Kind is a kind of injected fault.
type Kind string

// The kinds of faults.
const (
	// Fail answers with an HTTP error status (for example 503) and a GCS-style
	// JSON error body, after reading the request body.
	Fail Kind = "fail"
	// Stall waits before serving the request, so that a client with a shorter
	// timeout gives up. A request whose client is still waiting after the
	// stall is then served normally.
	Stall Kind = "stall"
	// Reset closes the connection without an answer: the client sees a
	// connection reset or an unexpected EOF.
	Reset Kind = "reset"
)

type fault struct {
	kind   Kind
	status int
	stall  time.Duration
}

// FailNext makes the next n matching requests fail with the HTTP status
// (for example http.StatusServiceUnavailable).
func (f *Faults) FailNext(n int, status int) {
	f.push(n, fault{kind: Fail, status: status})
}

// StallNext makes the next n matching requests wait d before being served.
func (f *Faults) StallNext(n int, d time.Duration) {
	f.push(n, fault{kind: Stall, stall: d})
}

// ResetNext makes the next n matching requests lose their connection.
func (f *Faults) ResetNext(n int) {
	f.push(n, fault{kind: Reset})
}

func (f *Faults) push(n int, ft fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.queue = append(f.queue, ft)
	}
}

// Only restricts faults to the requests for which match returns true (nil
// matches every request). Uploads and Downloads are ready-made filters.
func (f *Faults) Only(match func(*http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.match = match
}

// Uploads matches object uploads (the JSON API's /upload/ endpoints).
func Uploads(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/upload/") }

// Downloads matches object reads: XML-API reads of /<bucket>/<object> and
// JSON-API media downloads (alt=media).
func Downloads(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	if r.URL.Query().Get("alt") == "media" {
		return true
	}
	return !strings.HasPrefix(r.URL.Path, "/storage/") && !strings.HasPrefix(r.URL.Path, "/upload/") &&
		!strings.HasPrefix(r.URL.Path, "/_internal/")
}

// Clear drops the faults not yet served and the filter.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = nil
	f.match = nil
}

// Pending returns how many queued faults have not been served yet.
func (f *Faults) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queue)
}

// Served returns how many faults were served, in all.
func (f *Faults) Served() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.served {
		n += c
	}
	return n
}

// ServedOf returns how many faults of kind k were served.
func (f *Faults) ServedOf(k Kind) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served[k]
}

// Requests returns how many requests reached the fault injector, faulted or
// not.
func (f *Faults) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// take returns the fault for r, if any, and counts it.
func (f *Faults) take(r *http.Request) (fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if len(f.queue) == 0 || (f.match != nil && !f.match(r)) {
		return fault{}, false
	}
	ft := f.queue[0]
	f.queue = f.queue[1:]
	if f.served == nil {
		f.served = make(map[Kind]int)
	}
	f.served[ft.kind]++
	return ft, true
}

// done is closed by close, to end stalls at shutdown.
func (f *Faults) done() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed == nil {
		f.closed = make(chan struct{})
	}
	return f.closed
}

func (f *Faults) close() {
	done := f.done()
	f.once.Do(func() { close(done) })
}

// Wrap returns a handler that applies the faults, then hands the request to
// next. Wrapping an httputil.ReverseProxy turns it into a fault-injecting
// proxy in front of any GCS emulator.
func (f *Faults) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_internal/healthcheck" {
			next.ServeHTTP(w, r)
			return
		}
		ft, ok := f.take(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		switch ft.kind {
		case Fail:
			_, _ = drain(r)
			w.Header().Set("Content-Type", "application/json; charset=UTF-8")
			w.WriteHeader(ft.status)
			msg := fmt.Sprintf("gcstest: injected fault: HTTP %d", ft.status)
			fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"errors":[{"message":%q,"reason":"backendError"}]}}`,
				ft.status, msg, msg)
		case Stall:
			t := time.NewTimer(ft.stall)
			defer t.Stop()
			select {
			case <-t.C:
				next.ServeHTTP(w, r)
			case <-r.Context().Done():
			case <-f.done():
			}
		case Reset:
			hj, ok := w.(http.Hijacker)
			if !ok {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			conn, _, err := hj.Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}
	})
}

func drain(r *http.Request) (int64, error) {
	var n int64
	buf := make([]byte, 32<<10)
	for {
		m, err := r.Body.Read(buf)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
}
