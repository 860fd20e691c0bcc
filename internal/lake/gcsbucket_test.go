package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/gcstest"
)

// retryRecorder records the retries of a GCSBucket.
type retryRecorder struct {
	mu       sync.Mutex
	attempts []int
	errs     []error
}

func (r *retryRecorder) hook(op, name string, attempt int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, attempt)
	r.errs = append(r.errs, err)
}

func (r *retryRecorder) retries() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.attempts)
}

// testBackoff keeps the retryer's waits short.
var testBackoff = Backoff(time.Millisecond, 4*time.Millisecond)

// newGCS starts an emulator and opens a bucket on it that records its
// retries and waits little between them.
func newGCS(t *testing.T, opts ...Option) (*gcstest.Server, *GCSBucket, *retryRecorder) {
	t.Helper()
	srv := gcstest.New(t)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host())
	rec := &retryRecorder{}
	opts = append([]Option{OnRetry(rec.hook), testBackoff, AttemptTimeout(5 * time.Second)}, opts...)
	b, err := NewGCSBucket(t.Context(), srv.Bucket(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return srv, b, rec
}

func TestGCSPutRetriesTransientFaults(t *testing.T) {
	tests := []struct {
		name   string
		inject func(f *gcstest.Faults)
		faults int
		size   int // bytes put; 0 means 100,000
	}{
		{"503 three times", func(f *gcstest.Faults) { f.FailNext(3, http.StatusServiceUnavailable) }, 3, 0},
		{"429 then 500", func(f *gcstest.Faults) {
			f.FailNext(1, http.StatusTooManyRequests)
			f.FailNext(1, http.StatusInternalServerError)
		}, 2, 0},
		{"connection resets", func(f *gcstest.Faults) { f.ResetNext(2) }, 2, 0},
		// A small object is sent whole before the server hangs up, so the
		// client sees the connection end (EOF) rather than a reset.
		{"connection resets on a small object", func(f *gcstest.Faults) { f.ResetNext(2) }, 2, 300},
		{"stall past the attempt timeout", func(f *gcstest.Faults) { f.StallNext(1, 10*time.Second) }, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, b, rec := newGCS(t, AttemptTimeout(300*time.Millisecond))
			srv.Faults().Only(gcstest.Uploads)
			tt.inject(srv.Faults())
			size := tt.size
			if size == 0 {
				size = 100_000
			}
			data := []byte(strings.Repeat("turnstile,", size/10))
			name := "turnstile/20240722T101500_p0.csv.gz"
			if err := b.Put(t.Context(), name, data); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if got := srv.Faults().Served(); got != tt.faults {
				t.Errorf("faults served = %d, want %d", got, tt.faults)
			}
			if rec.retries() != tt.faults {
				t.Errorf("OnRetry called %d times, want %d", rec.retries(), tt.faults)
			}
			for i, a := range rec.attempts {
				if a != i+1 {
					t.Errorf("retry %d reported attempt %d", i, a)
				}
			}
			got, err := srv.Object(srv.Bucket(), name)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(data) {
				t.Errorf("object holds %d bytes, want the %d put", len(got), len(data))
			}
		})
	}
}

func TestGCSStallReportsTimeout(t *testing.T) {
	srv, b, rec := newGCS(t, AttemptTimeout(200*time.Millisecond))
	srv.Faults().StallNext(1, 10*time.Second)
	start := time.Now()
	if err := b.Put(t.Context(), "a/b.csv.gz", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Put took %v: the stalled attempt was not cut at its timeout", d)
	}
	if rec.retries() != 1 || !strings.Contains(rec.errs[0].Error(), "timed out") {
		t.Errorf("retries %d, errors %v: want one timed-out attempt", rec.retries(), rec.errs)
	}
}

func TestGCSGetAndListRetry(t *testing.T) {
	srv, b, rec := newGCS(t)
	ctx := t.Context()
	if err := b.Put(ctx, "turnstile/x.csv.gz", []byte("payload")); err != nil {
		t.Fatal(err)
	}
	srv.Faults().FailNext(2, http.StatusBadGateway)
	got, err := b.Get(ctx, "turnstile/x.csv.gz")
	if err != nil || string(got) != "payload" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	srv.Faults().FailNext(2, http.StatusServiceUnavailable)
	names, err := b.List(ctx, "turnstile/")
	if err != nil || len(names) != 1 {
		t.Fatalf("List = %q, %v", names, err)
	}
	if rec.retries() != 4 || srv.Faults().Served() != 4 {
		t.Errorf("retries %d, faults served %d: want 4 and 4", rec.retries(), srv.Faults().Served())
	}
}

func TestGCSPermanentErrors(t *testing.T) {
	tests := []struct {
		name   string
		bucket string // "" = the emulator's bucket
		status int    // injected status, 0 for none
		want   []string
	}{
		{"403", "", http.StatusForbidden, []string{"permission denied", "credentials", gcstest.DefaultBucket, "turnstile/o.csv.gz"}},
		{"401", "", http.StatusUnauthorized, []string{"permission denied", "credentials"}},
		{"400", "", http.StatusBadRequest, []string{"HTTP 400", "not retried"}},
		{"missing bucket", "no-such-bucket", 0, []string{`bucket "no-such-bucket"`, "sink URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, b, rec := newGCS(t)
			if tt.bucket != "" {
				var err error
				b, err = NewGCSBucket(t.Context(), tt.bucket, OnRetry(rec.hook), testBackoff)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
			}
			if tt.status != 0 {
				srv.Faults().FailNext(5, tt.status)
			}
			err := b.Put(t.Context(), "turnstile/o.csv.gz", []byte("x"))
			if err == nil {
				t.Fatal("Put succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if rec.retries() != 0 {
				t.Errorf("OnRetry called %d times for a permanent error", rec.retries())
			}
			if srv.Faults().Requests() != 1 {
				t.Errorf("%d requests reached the server, want 1", srv.Faults().Requests())
			}
		})
	}
}

func TestGCSGivesUpAfterMaxAttempts(t *testing.T) {
	// Uploads count their attempts in GCSBucket; the client's retryer bounds
	// the others (WithMaxAttempts). Both stop after the same number.
	for _, op := range []string{"put", "get", "list"} {
		t.Run(op, func(t *testing.T) {
			srv, b, rec := newGCS(t, MaxAttempts(3))
			if op != "put" {
				if err := b.Put(t.Context(), "a/o.csv.gz", []byte("x")); err != nil {
					t.Fatal(err)
				}
			}
			srv.Faults().FailNext(10, http.StatusServiceUnavailable)
			var err error
			switch op {
			case "put":
				err = b.Put(t.Context(), "a/o.csv.gz", []byte("x"))
			case "get":
				_, err = b.Get(t.Context(), "a/o.csv.gz")
			case "list":
				_, err = b.List(t.Context(), "a/")
			}
			if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") {
				t.Fatalf("%s error = %v, want giving up after 3 attempts", op, err)
			}
			if srv.Faults().Served() != 3 || rec.retries() != 2 {
				t.Errorf("faults served %d, retries %d: want 3 and 2", srv.Faults().Served(), rec.retries())
			}
			if op == "put" {
				if _, err := srv.Object(srv.Bucket(), "a/o.csv.gz"); err == nil {
					t.Error("the object exists after a failed Put")
				}
			}
		})
	}
}

func TestGCSGetStallIsRetried(t *testing.T) {
	srv, b, rec := newGCS(t, AttemptTimeout(200*time.Millisecond))
	if err := b.Put(t.Context(), "a/b.csv.gz", []byte("payload")); err != nil {
		t.Fatal(err)
	}
	srv.Faults().Only(gcstest.Downloads)
	srv.Faults().StallNext(1, 10*time.Second)
	start := time.Now()
	got, err := b.Get(t.Context(), "a/b.csv.gz")
	if err != nil || string(got) != "payload" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Get took %v: the stalled attempt was not cut at its timeout", d)
	}
	if rec.retries() != 1 || !strings.Contains(rec.errs[0].Error(), "timed out") {
		t.Errorf("retries %d, errors %v: want one timed-out attempt", rec.retries(), rec.errs)
	}
}

func TestGCSStopsWhenContextEnds(t *testing.T) {
	for _, op := range []string{"put", "get"} {
		t.Run(op, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			var hooks int
			// The caller gives up during the first wait, which is long.
			srv, b, _ := newGCS(t, Backoff(time.Hour, time.Hour), OnRetry(func(string, string, int, error) {
				hooks++
				cancel()
			}))
			if err := b.Put(t.Context(), "a/o.csv.gz", []byte("x")); err != nil {
				t.Fatal(err)
			}
			srv.Faults().FailNext(100, http.StatusServiceUnavailable)
			start := time.Now()
			var err error
			if op == "put" {
				err = b.Put(ctx, "a/o.csv.gz", []byte("x"))
			} else {
				_, err = b.Get(ctx, "a/o.csv.gz")
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s error = %v, want context.Canceled", op, err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("%s took %v after the context ended", op, d)
			}
			if hooks != 1 || srv.Faults().Served() != 1 {
				t.Errorf("hooks %d, faults served %d: want 1 and 1", hooks, srv.Faults().Served())
			}
		})
	}
}

func TestGCSObjectAttrs(t *testing.T) {
	srv, b, _ := newGCS(t)
	if err := b.Put(t.Context(), "turnstile/x.csv.gz", []byte{0x1f, 0x8b}); err != nil {
		t.Fatal(err)
	}
	obj, err := srv.Fake().GetObject(srv.Bucket(), "turnstile/x.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	if obj.ContentType != "application/gzip" || obj.ContentEncoding != "" {
		t.Errorf("ContentType %q, ContentEncoding %q: want application/gzip and none", obj.ContentType, obj.ContentEncoding)
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{errors.New("boom"), false},
		{context.Canceled, false},
		{&timeoutErr{}, true},
		{fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), true},
		{fmt.Errorf("write: %w", syscall.ECONNRESET), true},
	}
	for _, tt := range tests {
		if got := transient(tt.err); got != tt.want {
			t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }

// TestGCSPutIsOneRequest checks that an upload is one request, also when the
// data fills whole 256 KiB chunks (a Writer that fills its chunk starts a
// resumable upload of two requests or more).
func TestGCSPutIsOneRequest(t *testing.T) {
	for _, size := range []int{0, 1, 256 << 10, 512 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			srv, b, _ := newGCS(t)
			data := []byte(strings.Repeat("x", size))
			if err := b.Put(t.Context(), "a/o.csv.gz", data); err != nil {
				t.Fatal(err)
			}
			if n := srv.Faults().Requests(); n != 1 {
				t.Errorf("%d requests for a %d-byte object, want 1", n, size)
			}
			got, err := srv.Object(srv.Bucket(), "a/o.csv.gz")
			if err != nil || len(got) != size {
				t.Errorf("object holds %d bytes (%v), want %d", len(got), err, size)
			}
		})
	}
}
