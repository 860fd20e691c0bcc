package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
)

// GCSBucket is a Bucket in Google Cloud Storage.
//
// Put uploads the object in one request through the storage client's Writer
// and checks the Writer's Close error: GCS makes an object visible only when
// its upload completes, so an object is complete or absent (or still holds
// its previous content). The storage client's own retries are off; GCSBucket
// retries transient failures itself (HTTP 408, 429 and 5xx, timeouts,
// connection resets, unexpected EOF) with exponential backoff and jitter, a
// bounded number of times, and fails at once on other errors (403, a missing
// bucket, a bad request) with a message that says what to check. Uploads
// carry no precondition: retrying an upload whose answer was lost rewrites
// the same bytes.
type GCSBucket struct {
	client *storage.Client
	bucket *storage.BucketHandle
	name   string
	opts   options
}

// NewGCSBucket returns a GCSBucket for the named bucket. The client
// authenticates with Application Default Credentials, unless the
// STORAGE_EMULATOR_HOST environment variable names an emulator (host:port or
// a URL), in which case it talks to the emulator without credentials. It does
// not check that the bucket exists: the first operation reports it.
func NewGCSBucket(ctx context.Context, bucket string, opts ...Option) (*GCSBucket, error) {
	if err := checkBucketName(bucket); err != nil {
		return nil, err
	}
	o := newOptions(opts)
	client, err := storage.NewClient(ctx, o.clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("lake: GCS client for bucket %q (check Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`): %w", bucket, err)
	}
	// GCSBucket retries every operation itself, with one policy, one hook and
	// an injectable sleep.
	client.SetRetry(storage.WithPolicy(storage.RetryNever))
	return &GCSBucket{client: client, bucket: client.Bucket(bucket), name: bucket, opts: o}, nil
}

// Put uploads data as the object name. The content type follows the name's
// extension (application/gzip for .gz); no Content-Encoding is set, so GCS
// serves the stored gzip bytes as they are.
func (b *GCSBucket) Put(ctx context.Context, name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	return b.retry(ctx, "put", name, func(ctx context.Context) error {
		w := b.bucket.Object(name).NewWriter(ctx)
		w.ContentType = contentType(name)
		w.ChunkSize = 0 // one request, no 16 MiB buffer: GCSBucket retries with data itself
		if _, err := w.Write(data); err != nil {
			_ = w.Close()
			return err
		}
		return w.Close()
	})
}

// Create uploads data as the object name with the precondition that no
// object has that name (ifGenerationMatch=0): GCS answers 412 when one does,
// and Create returns an error that wraps ErrExist. A retry after a lost
// answer can meet its own upload that way.
func (b *GCSBucket) Create(ctx context.Context, name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := b.retry(ctx, "create", name, func(ctx context.Context) error {
		w := b.bucket.Object(name).If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
		w.ContentType = contentType(name)
		w.ChunkSize = 0
		if _, err := w.Write(data); err != nil {
			_ = w.Close()
			return err
		}
		return w.Close()
	})
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed {
		return fmt.Errorf("lake: create gs://%s/%s: %w", b.name, name, ErrExist)
	}
	return err
}

// Get downloads the object name.
func (b *GCSBucket) Get(ctx context.Context, name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var data []byte
	err := b.retry(ctx, "get", name, func(ctx context.Context) error {
		r, err := b.bucket.Object(name).NewReader(ctx)
		if err != nil {
			return err
		}
		defer r.Close()
		data, err = io.ReadAll(r)
		return err
	})
	return data, err
}

// List returns the sorted names of the objects that start with prefix.
func (b *GCSBucket) List(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	err := b.retry(ctx, "list", prefix, func(ctx context.Context) error {
		names = names[:0]
		q := &storage.Query{Prefix: prefix}
		if err := q.SetAttrSelection([]string{"Name"}); err != nil {
			return err
		}
		it := b.bucket.Objects(ctx, q)
		for {
			attrs, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				return err
			}
			names = append(names, attrs.Name)
		}
	})
	if err != nil {
		return nil, err
	}
	if names == nil {
		names = []string{}
	}
	slices.Sort(names)
	return names, nil
}

// Close closes the storage client.
func (b *GCSBucket) Close() error {
	if err := b.client.Close(); err != nil {
		return fmt.Errorf("lake: close GCS client of bucket %q: %w", b.name, err)
	}
	return nil
}

// retry runs f until it succeeds, fails permanently, runs out of attempts or
// ctx ends. Each attempt gets its own timeout.
func (b *GCSBucket) retry(ctx context.Context, op, name string, f func(context.Context) error) error {
	o := &b.opts
	where := fmt.Sprintf("gs://%s/%s", b.name, name)
	for attempt := 1; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if o.attemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, o.attemptTimeout)
		}
		err := f(actx)
		timedOut := err != nil && errors.Is(actx.Err(), context.DeadlineExceeded)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("lake: %s %s: %w (last error: %v)", op, where, ctx.Err(), err)
		}
		if timedOut {
			err = fmt.Errorf("attempt timed out after %v: %w", o.attemptTimeout, err)
		} else if !transient(err) {
			return permanentError(op, b.name, name, err)
		}
		if attempt >= o.maxAttempts {
			o.log.Warn("lake: giving up", "op", op, "object", where, "attempts", attempt, "err", err)
			return fmt.Errorf("lake: %s %s: giving up after %d attempts: %w", op, where, attempt, err)
		}
		wait := backoff(o.initialBackoff, o.maxBackoff, attempt)
		if o.onRetry != nil {
			o.onRetry(op, name, attempt, err)
		}
		o.log.Warn("lake: retrying", "op", op, "object", where, "attempt", attempt, "wait", wait, "err", err)
		if serr := o.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("lake: %s %s: %w (last error: %v)", op, where, serr, err)
		}
	}
}

// backoff returns the wait after the failed attempt n (1-based): initial
// doubled n-1 times, capped at max, minus a random jitter of up to half.
func backoff(initial, max time.Duration, n int) time.Duration {
	d := initial
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if d <= 1 {
		return d
	}
	return d - rand.N(d/2+1)
}

// transient reports whether err is worth retrying.
func transient(err error) bool {
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return false
	}
	if storage.ShouldRetry(err) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// permanentError explains a non-retryable failure in terms a user can act on.
func permanentError(op, bucket, name string, err error) error {
	where := fmt.Sprintf("gs://%s/%s", bucket, name)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("lake: %s %s: %w: %w", op, where, ErrNotExist, err)
	}
	if errors.Is(err, storage.ErrBucketNotExist) {
		return fmt.Errorf("lake: %s %s: bucket %q does not exist (create it, or fix the bucket in the sink URL): %w", op, where, bucket, err)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch ge.Code {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("lake: %s %s: permission denied (HTTP %d): check the credentials "+
				"(Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, the attached service account "+
				"or `gcloud auth application-default login`) and that the account may read, list and write objects "+
				"in bucket %q (for example roles/storage.objectAdmin): %w", op, where, ge.Code, bucket, err)
		case http.StatusNotFound:
			if op == "get" {
				return fmt.Errorf("lake: %s %s: %w: %w", op, where, ErrNotExist, err)
			}
			return fmt.Errorf("lake: %s %s: bucket %q not found (HTTP 404): create it, or fix the bucket in the sink URL: %w", op, where, bucket, err)
		}
		return fmt.Errorf("lake: %s %s: HTTP %d, not retried: %w", op, where, ge.Code, err)
	}
	if strings.Contains(err.Error(), "credentials") {
		return fmt.Errorf("lake: %s %s: no usable credentials (set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`; for an emulator set STORAGE_EMULATOR_HOST): %w", op, where, err)
	}
	return fmt.Errorf("lake: %s %s: %w", op, where, err)
}

// contentType returns the content type of an object from its name.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".gz":
		return "application/gzip"
	case ".csv":
		return "text/csv"
	case ".jsonl":
		return "application/jsonl"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

// checkBucketName checks the shape of a GCS bucket name: 3 to 222 characters
// of lowercase letters, digits, '-', '_' and '.', starting and ending with a
// letter or digit.
func checkBucketName(name string) error {
	bad := len(name) < 3 || len(name) > 222
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' && c != '_' && c != '.' || i == 0 || i == len(name)-1) {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("lake: %q is not a GCS bucket name (3-222 characters: lowercase letters, digits, '-', '_', '.'; starting and ending with a letter or digit)", name)
	}
	return nil
}
