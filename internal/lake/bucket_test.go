package lake

import (
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/gcstest"
)

// newBackends returns a constructor of a new, empty Bucket of every kind, by
// name. The GCS one starts a fake GCS server (internal/gcstest) for t and
// goes through Open("gs://...") and STORAGE_EMULATOR_HOST, as the consumer
// does. The external tests get it as NewBackends (export_test.go) and run
// the acceptance suite (laketest) on each.
func newBackends() map[string]func(t *testing.T) Bucket {
	return map[string]func(t *testing.T) Bucket{
		"mem": func(*testing.T) Bucket { return NewMemBucket() },
		"file": func(t *testing.T) Bucket {
			t.Helper()
			fb, err := NewFileBucket(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return fb
		},
		"gcs": func(t *testing.T) Bucket {
			t.Helper()
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
			return sink.Bucket
		},
	}
}

// backends returns a new, empty Bucket of every kind, made for t.
func backends(t *testing.T) map[string]Bucket {
	t.Helper()
	out := map[string]Bucket{}
	for name, newBucket := range newBackends() {
		out[name] = newBucket(t)
	}
	return out
}
