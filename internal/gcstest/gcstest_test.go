package gcstest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
)

// client returns a storage client that reaches srv through
// STORAGE_EMULATOR_HOST, with the library's retries off so that every fault
// shows.
func client(t *testing.T, srv *Server) *storage.Client {
	t.Helper()
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host())
	c, err := storage.NewClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c.SetRetry(storage.WithPolicy(storage.RetryNever))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func put(ctx context.Context, c *storage.Client, bucket, name string, data []byte) error {
	w := c.Bucket(bucket).Object(name).NewWriter(ctx)
	w.ChunkSize = 0
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

func get(ctx context.Context, c *storage.Client, bucket, name string) ([]byte, error) {
	r, err := c.Bucket(bucket).Object(name).NewReader(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestEmulatorThroughEnv(t *testing.T) {
	srv := New(t, Buckets("one", "two"))
	c := client(t, srv)
	ctx := t.Context()
	if srv.Bucket() != "one" || !strings.HasPrefix(srv.Host(), "127.0.0.1:") || srv.URL() != "http://"+srv.Host() {
		t.Errorf("Bucket %q, Host %q, URL %q", srv.Bucket(), srv.Host(), srv.URL())
	}
	for _, b := range []string{"one", "two"} {
		if err := put(ctx, c, b, "x/y.csv.gz", []byte("hello "+b)); err != nil {
			t.Fatalf("put to %s: %v", b, err)
		}
		// Reads go through the XML API, served only for PublicHost.
		got, err := get(ctx, c, b, "x/y.csv.gz")
		if err != nil || string(got) != "hello "+b {
			t.Fatalf("get from %s = %q, %v", b, got, err)
		}
		direct, err := srv.Object(b, "x/y.csv.gz")
		if err != nil || !bytes.Equal(direct, got) {
			t.Errorf("Object = %q, %v", direct, err)
		}
	}
	names, err := srv.Objects("one", "x/")
	if err != nil || len(names) != 1 || names[0] != "x/y.csv.gz" {
		t.Errorf("Objects = %q, %v", names, err)
	}
	if _, err := get(ctx, c, "one", "missing"); !errors.Is(err, storage.ErrObjectNotExist) {
		t.Errorf("get(missing) = %v, want ErrObjectNotExist", err)
	}
}

func TestFaults(t *testing.T) {
	srv := New(t)
	c := client(t, srv)
	ctx := t.Context()
	f := srv.Faults()

	f.FailNext(2, http.StatusServiceUnavailable)
	for i := range 2 {
		err := put(ctx, c, srv.Bucket(), "o", []byte("x"))
		if !storage.ShouldRetry(err) || !strings.Contains(err.Error(), "503") {
			t.Errorf("put %d = %v, want a retryable 503", i, err)
		}
	}
	if err := put(ctx, c, srv.Bucket(), "o", []byte("x")); err != nil {
		t.Errorf("put after the faults: %v", err)
	}

	f.ResetNext(1)
	if err := put(ctx, c, srv.Bucket(), "o", []byte("y")); err == nil || !storage.ShouldRetry(err) {
		t.Errorf("put on a reset connection = %v, want a retryable error", err)
	}

	f.StallNext(1, time.Minute)
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := get(sctx, c, srv.Bucket(), "o"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("get on a stall = %v, want DeadlineExceeded", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("the stall did not end with the client's request")
	}

	// A short stall is served once it ends.
	f.StallNext(1, 50*time.Millisecond)
	if got, err := get(ctx, c, srv.Bucket(), "o"); err != nil || string(got) != "x" {
		t.Errorf("get after a short stall = %q, %v", got, err)
	}

	if f.Served() != 5 || f.ServedOf(Fail) != 2 || f.ServedOf(Reset) != 1 || f.ServedOf(Stall) != 2 || f.Pending() != 0 {
		t.Errorf("served %d (fail %d, reset %d, stall %d), pending %d",
			f.Served(), f.ServedOf(Fail), f.ServedOf(Reset), f.ServedOf(Stall), f.Pending())
	}
	if f.Requests() != 6 {
		t.Errorf("Requests = %d, want 6", f.Requests())
	}
}

func TestFaultsOnly(t *testing.T) {
	srv := New(t)
	c := client(t, srv)
	ctx := t.Context()
	if err := put(ctx, c, srv.Bucket(), "o", []byte("x")); err != nil {
		t.Fatal(err)
	}
	f := srv.Faults()
	f.Only(Uploads)
	f.FailNext(1, http.StatusInternalServerError)
	if got, err := get(ctx, c, srv.Bucket(), "o"); err != nil || string(got) != "x" {
		t.Errorf("a download took an upload fault: %q, %v", got, err)
	}
	if f.Pending() != 1 {
		t.Errorf("Pending = %d, want 1", f.Pending())
	}
	if err := put(ctx, c, srv.Bucket(), "o", []byte("y")); err == nil {
		t.Error("the upload did not take its fault")
	}
	f.Clear()
	f.Only(Downloads)
	f.FailNext(1, http.StatusBadGateway)
	if err := put(ctx, c, srv.Bucket(), "o", []byte("z")); err != nil {
		t.Errorf("an upload took a download fault: %v", err)
	}
	if _, err := get(ctx, c, srv.Bucket(), "o"); err == nil {
		t.Error("the download did not take its fault")
	}
}

func TestFaultsConcurrent(t *testing.T) {
	srv := New(t)
	c := client(t, srv)
	f := srv.Faults()
	f.FailNext(10, http.StatusServiceUnavailable)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for i := range 20 {
		wg.Go(func() {
			if err := put(t.Context(), c, srv.Bucket(), "o"+string(rune('a'+i)), []byte("x")); err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed != 10 || f.Served() != 10 {
		t.Errorf("%d puts failed, %d faults served: want 10 and 10", failed, f.Served())
	}
}

func TestCloseEndsStalls(t *testing.T) {
	srv, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, srv)
	srv.Faults().StallNext(1, time.Hour)
	done := make(chan error, 1)
	go func() { done <- put(context.Background(), c, srv.Bucket(), "o", []byte("x")) }()
	for srv.Faults().Served() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	srv.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a stalled upload succeeded after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the stall")
	}
}
