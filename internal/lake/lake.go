// Package lake writes the consumer's output into the data lake: gzip CSV
// window files that a BigQuery external table over <prefix>/*.csv.gz reads
// unchanged, and gzip JSON-lines side files (dead letters and late records)
// under sibling prefixes that the table never matches. One prefix holds
// window files of one window shape, which the sibling object <prefix>_shape
// records (Sink.ClaimShape).
//
// A Bucket stores whole objects: a GCS bucket (GCSBucket), a local folder
// (FileBucket) or memory (MemBucket). A Sink couples a Bucket with the Layout
// that names the objects; Open builds one from a sink URL. See docs/lake.md.
package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"
)

// Bucket is where lake objects go. Implementations are safe for concurrent
// use.
type Bucket interface {
	// Put stores data under name. When Put returns nil the object is complete
	// and durable; when it fails the object is absent or still holds its
	// previous complete content. Putting the same name and bytes again is
	// harmless, so re-emitting a file under its deterministic name is
	// idempotent.
	Put(ctx context.Context, name string, data []byte) error
	// Create stores data under name only if no object has that name: it
	// never replaces an object. When one exists, the error wraps ErrExist and
	// the object is unchanged. Like Put, a nil error means the object is
	// complete and durable. A Create retried after its answer was lost may
	// find its own object and report ErrExist: compare the content to tell.
	Create(ctx context.Context, name string, data []byte) error
	// Replace stores data under name when no object has that name, or when
	// replace(current) reports true for the object there. The decision and
	// the write are one step: the object that replace judged is the one that
	// is replaced, whatever other writers, in this process or another, do
	// meanwhile (GCS: an upload conditional on the generation that was read;
	// a folder: an exclusive lock on the object's folder; memory: a mutex).
	// When replace returns false, nothing is written and the error wraps
	// ErrRefused. Like Put, a nil error means the object is complete and
	// durable.
	Replace(ctx context.Context, name string, data []byte, replace func(current []byte) bool) error
	// Get returns the content of the object name; the error wraps
	// ErrNotExist when there is no such object.
	Get(ctx context.Context, name string) ([]byte, error)
	// List returns the sorted full names of the objects whose name starts
	// with prefix.
	List(ctx context.Context, prefix string) ([]string, error)
	// Close releases the Bucket's resources.
	Close() error
}

// ErrNotExist is the error Get wraps for a missing object. It is
// fs.ErrNotExist, so errors.Is(err, fs.ErrNotExist) works too.
var ErrNotExist = fs.ErrNotExist

// ErrExist is the error Create wraps when the object exists. It is
// fs.ErrExist.
var ErrExist = fs.ErrExist

// ErrRefused is the error Replace wraps when its replace function kept the
// object there.
var ErrRefused = errors.New("lake: the object there was kept")

// checkName reports whether name is a valid object name: a slash-separated
// relative path of non-empty elements, none of them starting with "." (the
// FileBucket keeps its temporary files hidden that way), without NUL,
// backslashes or line breaks. Every backend checks names the same way, so a
// name that works in tests (MemBucket) works in a folder and in GCS.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("lake: empty object name")
	}
	if strings.ContainsAny(name, "\x00\r\n\\") {
		return fmt.Errorf("lake: object name %q holds NUL, a backslash or a line break", name)
	}
	for _, elem := range strings.Split(name, "/") {
		if elem == "" || elem[0] == '.' {
			return fmt.Errorf("lake: object name %q must be a relative path of non-empty elements that do not start with a dot", name)
		}
	}
	return nil
}

// Option configures NewGCSBucket and Open. The retry options only concern
// GCS; a folder or memory bucket ignores them.
type Option func(*options)

type options struct {
	maxAttempts    int
	initialBackoff time.Duration
	maxBackoff     time.Duration
	attemptTimeout time.Duration
	onRetry        func(op, name string, attempt int, err error)
	log            *slog.Logger
}

// The default retry policy: up to 10 attempts, backoff from 250ms doubling up
// to 16s (with jitter), and at most 2 minutes per attempt. All retries of one
// operation take at most about a minute of waits before giving up.
const (
	DefaultMaxAttempts    = 10
	DefaultInitialBackoff = 250 * time.Millisecond
	DefaultMaxBackoff     = 16 * time.Second
	DefaultAttemptTimeout = 2 * time.Minute
)

func newOptions(opts []Option) options {
	o := options{
		maxAttempts:    DefaultMaxAttempts,
		initialBackoff: DefaultInitialBackoff,
		maxBackoff:     DefaultMaxBackoff,
		attemptTimeout: DefaultAttemptTimeout,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o
}

// MaxAttempts bounds the attempts of one operation, the first included
// (n < 1 means 1: no retries).
func MaxAttempts(n int) Option {
	return func(o *options) { o.maxAttempts = max(n, 1) }
}

// Backoff sets the wait before the first retry and its cap: the wait doubles
// with each retry up to max, and the storage client's retryer waits a random
// time up to it (full jitter).
func Backoff(initial, max time.Duration) Option {
	return func(o *options) { o.initialBackoff, o.maxBackoff = initial, max }
}

// AttemptTimeout bounds each attempt (each HTTP request, reading its answer
// included); an attempt that runs out of time is retried like a transient
// error (0 means no per-attempt bound).
func AttemptTimeout(d time.Duration) Option {
	return func(o *options) { o.attemptTimeout = d }
}

// OnRetry calls hook before each retry with the operation ("put", "create",
// "get", "list"), the object name (the prefix for list), the number of the attempt
// that failed (1 for the first) and its error. The consumer counts retries
// with it.
func OnRetry(hook func(op, name string, attempt int, err error)) Option {
	return func(o *options) { o.onRetry = hook }
}

// Logger logs each retry and each operation that gives up at Warn level.
// Without it nothing is logged.
func Logger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}
