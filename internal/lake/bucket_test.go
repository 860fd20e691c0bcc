package lake

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/gcstest"
)

// backends returns a fresh Bucket of every kind; the GCS one goes through
// Open("gs://...") and STORAGE_EMULATOR_HOST, as the consumer does.
func backends(t *testing.T) map[string]Bucket {
	t.Helper()
	fb, err := NewFileBucket(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := gcstest.New(t)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host())
	sink, err := Open(t.Context(), "gs://"+srv.Bucket()+"/turnstile")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	if _, ok := sink.Bucket.(*GCSBucket); !ok {
		t.Fatalf("Open(gs://...) gave a %T", sink.Bucket)
	}
	return map[string]Bucket{"mem": NewMemBucket(), "file": fb, "gcs": sink.Bucket}
}

// TestBucketAcceptance runs the same contract against every backend.
func TestBucketAcceptance(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			objects := map[string][]byte{
				"turnstile/20240722T101500_p0.csv.gz":                 []byte("first"),
				"turnstile/20240722T101500_p1.csv.gz":                 {0x1f, 0x8b, 0, 0xff, '\n'},
				"turnstile/dt=2024-07-22/20240722T101500_p0.csv.gz":   []byte("hive"),
				"turnstile_rejected/p0_00000000000000000042.jsonl.gz": []byte("side"),
				"other/empty": {},
			}
			for n, data := range objects {
				if err := b.Put(ctx, n, data); err != nil {
					t.Fatalf("Put(%s): %v", n, err)
				}
			}
			for n, want := range objects {
				got, err := b.Get(ctx, n)
				if err != nil {
					t.Fatalf("Get(%s): %v", n, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("Get(%s) = %q, want %q", n, got, want)
				}
			}

			lists := []struct {
				prefix string
				want   []string
			}{
				{"turnstile/", []string{
					"turnstile/20240722T101500_p0.csv.gz",
					"turnstile/20240722T101500_p1.csv.gz",
					"turnstile/dt=2024-07-22/20240722T101500_p0.csv.gz",
				}},
				{"turnstile", []string{
					"turnstile/20240722T101500_p0.csv.gz",
					"turnstile/20240722T101500_p1.csv.gz",
					"turnstile/dt=2024-07-22/20240722T101500_p0.csv.gz",
					"turnstile_rejected/p0_00000000000000000042.jsonl.gz",
				}},
				{"turnstile/2024", []string{
					"turnstile/20240722T101500_p0.csv.gz",
					"turnstile/20240722T101500_p1.csv.gz",
				}},
				{"turnstile_rejected/", []string{"turnstile_rejected/p0_00000000000000000042.jsonl.gz"}},
				{"nothing/", []string{}},
				{"", []string{
					"other/empty",
					"turnstile/20240722T101500_p0.csv.gz",
					"turnstile/20240722T101500_p1.csv.gz",
					"turnstile/dt=2024-07-22/20240722T101500_p0.csv.gz",
					"turnstile_rejected/p0_00000000000000000042.jsonl.gz",
				}},
			}
			for _, l := range lists {
				got, err := b.List(ctx, l.prefix)
				if err != nil {
					t.Fatalf("List(%q): %v", l.prefix, err)
				}
				if !slices.Equal(got, l.want) {
					t.Errorf("List(%q) = %q, want %q", l.prefix, got, l.want)
				}
			}

			// Overwrite with the same bytes: harmless.
			n := "turnstile/20240722T101500_p0.csv.gz"
			if err := b.Put(ctx, n, []byte("first")); err != nil {
				t.Fatalf("Put again: %v", err)
			}
			if got, err := b.Get(ctx, n); err != nil || string(got) != "first" {
				t.Errorf("Get after same-bytes Put = %q, %v", got, err)
			}
			// Overwrite with other bytes: replaced.
			if err := b.Put(ctx, n, []byte("second")); err != nil {
				t.Fatalf("Put other bytes: %v", err)
			}
			if got, err := b.Get(ctx, n); err != nil || string(got) != "second" {
				t.Errorf("Get after overwrite = %q, %v", got, err)
			}
			if got, _ := b.List(ctx, "turnstile/"); len(got) != 3 {
				t.Errorf("List after overwrites = %q, want 3 names", got)
			}

			// Create stores a new object, and never replaces one.
			c := "turnstile_rejected/p0_00000000000000000007.jsonl.gz"
			if err := b.Create(ctx, c, []byte("one")); err != nil {
				t.Fatalf("Create(new): %v", err)
			}
			if got, err := b.Get(ctx, c); err != nil || string(got) != "one" {
				t.Errorf("Get after Create = %q, %v", got, err)
			}
			for _, data := range []string{"two", "one"} {
				if err := b.Create(ctx, c, []byte(data)); !errors.Is(err, ErrExist) || !errors.Is(err, fs.ErrExist) {
					t.Errorf("Create(existing, %q) = %v, want ErrExist", data, err)
				}
			}
			if got, err := b.Get(ctx, c); err != nil || string(got) != "one" {
				t.Errorf("Get after a refused Create = %q, %v; want the first content", got, err)
			}
			if err := b.Create(ctx, n, []byte("third")); !errors.Is(err, ErrExist) {
				t.Errorf("Create over a Put object = %v, want ErrExist", err)
			}
			if got, _ := b.List(ctx, "turnstile_rejected/"); len(got) != 2 {
				t.Errorf("List after Create = %q, want 2 names (no temporary files)", got)
			}
			if err := b.Create(ctx, "a/.tmp", []byte("x")); err == nil || errors.Is(err, ErrExist) {
				t.Errorf("Create(bad name) = %v, want a name error", err)
			}

			// Missing object.
			_, err := b.Get(ctx, "turnstile/missing.csv.gz")
			if !errors.Is(err, ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Get(missing) error = %v, want ErrNotExist", err)
			}

			// Invalid names are refused the same way everywhere.
			for _, bad := range []string{"", "/abs", "a//b", "a/../b", ".hidden", "a/.tmp", "dir/"} {
				if err := b.Put(ctx, bad, []byte("x")); err == nil {
					t.Errorf("Put(%q) succeeded, want an error", bad)
				}
			}

			// A cancelled context fails.
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := b.Put(cctx, "turnstile/cancelled", []byte("x")); !errors.Is(err, context.Canceled) {
				t.Errorf("Put(cancelled ctx) = %v, want context.Canceled", err)
			}
			if err := b.Create(cctx, "turnstile/cancelled", []byte("x")); !errors.Is(err, context.Canceled) {
				t.Errorf("Create(cancelled ctx) = %v, want context.Canceled", err)
			}
		})
	}
}

// TestBucketReplaceIsAtomic checks Replace on every backend: it creates an
// absent object, replaces one only when its function allows it, leaves a
// refused one whole, and, with many writers racing on one name, each
// replacing only what it judged, every write builds on the one before: no
// write is lost between a writer's read and its write.
func TestBucketReplaceIsAtomic(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			obj := "turnstile/replace.csv.gz"
			always := func([]byte) bool { return true }
			if err := b.Replace(ctx, obj, []byte("1"), always); err != nil {
				t.Fatalf("Replace(absent): %v", err)
			}
			var judged []byte
			err := b.Replace(ctx, obj, []byte("2"), func(cur []byte) bool { judged = cur; return false })
			if !errors.Is(err, ErrRefused) {
				t.Errorf("refused Replace = %v, want ErrRefused", err)
			}
			if string(judged) != "1" {
				t.Errorf("Replace judged %q, want the stored %q", judged, "1")
			}
			if got, _ := b.Get(ctx, obj); string(got) != "1" {
				t.Errorf("after a refused Replace the object holds %q, want %q", got, "1")
			}

			// A counter: each writer replaces n with n+1 only if it still
			// reads n. Without an atomic Replace two writers read the same n
			// and one increment is lost.
			const writers, rounds = 4, 5
			var wg sync.WaitGroup
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for done := 0; done < rounds; {
						cur, err := b.Get(ctx, obj)
						if err != nil {
							t.Error(err)
							return
						}
						n, _ := strconv.Atoi(string(cur))
						next := []byte(strconv.Itoa(n + 1))
						err = b.Replace(ctx, obj, next, func(now []byte) bool { return bytes.Equal(now, cur) })
						switch {
						case err == nil:
							done++
						case !errors.Is(err, ErrRefused):
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if got, _ := b.Get(ctx, obj); string(got) != strconv.Itoa(1+writers*rounds) {
				t.Errorf("counter after %d increments = %s, want %d: a Replace landed on an object it did not judge", writers*rounds, got, 1+writers*rounds)
			}
		})
	}
}
