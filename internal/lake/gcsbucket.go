package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/storage"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
)

// GCSBucket is a Bucket in Google Cloud Storage.
//
// Put uploads the object in one request through the storage client's Writer
// and checks the Writer's Close error: GCS makes an object visible only when
// its upload completes, so an object is complete or absent (or still holds
// its previous content). Every operation goes through the storage client's
// own retryer (policy RetryAlways, exponential backoff with jitter, a bounded
// number of attempts): it retries transient failures (HTTP 408, 429 and 5xx,
// timeouts, connection resets, unexpected EOF) and fails at once on other
// errors (403, a missing bucket, a bad request) with a message that says what
// to check. Each attempt (each HTTP request) has its own timeout. Uploads
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
	var clientOpts []option.ClientOption
	if o.attemptTimeout > 0 {
		hc, err := attemptTimeoutClient(ctx, o.attemptTimeout)
		if err != nil {
			return nil, fmt.Errorf("lake: GCS client for bucket %q (check Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`): %w", bucket, err)
		}
		clientOpts = append(clientOpts, option.WithHTTPClient(hc))
	}
	client, err := storage.NewClient(ctx, clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("lake: GCS client for bucket %q (check Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`): %w", bucket, err)
	}
	client.SetRetry(
		storage.WithPolicy(storage.RetryAlways), // uploads carry no precondition; see above
		storage.WithBackoff(gax.Backoff{Initial: o.initialBackoff, Max: o.maxBackoff, Multiplier: 2}),
		storage.WithMaxAttempts(o.maxAttempts),
		storage.WithErrorFunc(transient),
	)
	return &GCSBucket{client: client, bucket: client.Bucket(bucket), name: bucket, opts: o}, nil
}

// Put uploads data as the object name. The content type follows the name's
// extension (application/gzip for .gz); no Content-Encoding is set, so GCS
// serves the stored gzip bytes as they are.
func (b *GCSBucket) Put(ctx context.Context, name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	a := b.attempts("put", name)
	return b.result(ctx, a, b.upload(ctx, a.object(b.bucket.Object(name)), name, data))
}

// Create uploads data as the object name with the precondition that no
// object has that name (ifGenerationMatch=0): GCS answers 412 when one does,
// and Create returns an error that wraps ErrExist. A retry after a lost
// answer can meet its own upload that way.
func (b *GCSBucket) Create(ctx context.Context, name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	a := b.attempts("create", name)
	obj := a.object(b.bucket.Object(name)).If(storage.Conditions{DoesNotExist: true})
	err := b.result(ctx, a, b.upload(ctx, obj, name, data))
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed {
		return fmt.Errorf("lake: create gs://%s/%s: %w", b.name, name, ErrExist)
	}
	return err
}

// Replace creates the object name (ifGenerationMatch=0) or, when one
// exists, reads it with its generation and, if replace allows, uploads data
// with the precondition ifGenerationMatch=<that generation>: GCS answers 412
// when another writer changed the object in between, and Replace starts over
// (up to maxReplaceRounds times). It needs storage.objects.get besides
// create and delete.
func (b *GCSBucket) Replace(ctx context.Context, name string, data []byte, replace func(current []byte) bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	for range maxReplaceRounds {
		err := b.Create(ctx, name, data)
		if !errors.Is(err, ErrExist) {
			return err
		}
		cur, gen, err := b.getGeneration(ctx, name)
		if errors.Is(err, ErrNotExist) {
			continue // deleted in between
		}
		if err != nil {
			return err
		}
		if !replace(cur) {
			return fmt.Errorf("lake: replace gs://%s/%s (generation %d): %w", b.name, name, gen, ErrRefused)
		}
		a := b.attempts("replace", name)
		obj := a.object(b.bucket.Object(name)).If(storage.Conditions{GenerationMatch: gen})
		err = b.result(ctx, a, b.upload(ctx, obj, name, data))
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed {
			continue // changed since it was read
		}
		return err
	}
	return fmt.Errorf("lake: replace gs://%s/%s: the object changed under each of %d attempts", b.name, name, maxReplaceRounds)
}

// maxReplaceRounds bounds Replace's read-and-write rounds lost to other
// writers.
const maxReplaceRounds = 10

// getGeneration downloads the object name and returns its generation.
func (b *GCSBucket) getGeneration(ctx context.Context, name string) ([]byte, int64, error) {
	a := b.attempts("get", name)
	var gen int64
	data, err := func() ([]byte, error) {
		r, err := a.object(b.bucket.Object(name)).NewReader(ctx)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		gen = r.Attrs.Generation
		return io.ReadAll(r)
	}()
	if err := b.result(ctx, a, err); err != nil {
		return nil, 0, err
	}
	return data, gen, nil
}

// upload writes data to obj in one request. The Writer buffers the whole
// object: a chunk larger than the data (the Writer sends a chunk it has filled
// as the start of a resumable upload, and a chunk that ends the data in one
// request) is what lets the client's retryer send it again. The retries are
// bounded by attempts, not by the Writer's per-chunk deadline.
func (b *GCSBucket) upload(ctx context.Context, obj *storage.ObjectHandle, name string, data []byte) error {
	w := obj.NewWriter(ctx)
	w.ContentType = contentType(name)
	w.ChunkSize = len(data) + 1
	w.ChunkRetryDeadline = b.opts.retryBudget()
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// Get downloads the object name.
func (b *GCSBucket) Get(ctx context.Context, name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	a := b.attempts("get", name)
	data, err := func() ([]byte, error) {
		r, err := a.object(b.bucket.Object(name)).NewReader(ctx)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}()
	if err := b.result(ctx, a, err); err != nil {
		return nil, err
	}
	return data, nil
}

// List returns the sorted names of the objects that start with prefix.
func (b *GCSBucket) List(ctx context.Context, prefix string) ([]string, error) {
	a := b.attempts("list", prefix)
	names := []string{}
	err := func() error {
		q := &storage.Query{Prefix: prefix}
		if err := q.SetAttrSelection([]string{"Name"}); err != nil {
			return err
		}
		// A fresh handle: Retryer changes the retry settings of the handle
		// it is called on.
		it := b.client.Bucket(b.name).Retryer(a.retryOption()).Objects(ctx, q)
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
	}()
	if err := b.result(ctx, a, err); err != nil {
		return nil, err
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

// attempts follows the attempts of one operation through the client's
// retryer: it decides whether a failed attempt is retried, and calls the
// OnRetry hook and logs each retry.
type attempts struct {
	b        *GCSBucket
	op, name string
	failed   int  // failed attempts seen
	bounded  bool // the last failure was not retried for want of attempts
}

func (b *GCSBucket) attempts(op, name string) *attempts {
	return &attempts{b: b, op: op, name: name}
}

// object returns obj with a's retry decision. Object handles hold their own
// copy of the retry settings, so this does not touch other operations.
func (a *attempts) object(obj *storage.ObjectHandle) *storage.ObjectHandle {
	return obj.Retryer(a.retryOption())
}

func (a *attempts) retryOption() storage.RetryOption {
	return storage.WithErrorFuncWithContext(func(err error, _ *storage.RetryContext) bool { return a.retry(err) })
}

// retry is called by the client's retryer after each attempt (with a nil
// error after a successful upload request).
func (a *attempts) retry(err error) bool {
	if err == nil {
		return false
	}
	a.failed++
	if !transient(err) {
		return false
	}
	// The retryer bounds the attempts of most operations itself
	// (WithMaxAttempts), but not those of uploads.
	if a.failed >= a.b.opts.maxAttempts {
		a.bounded = true
		return false
	}
	o := &a.b.opts
	if o.onRetry != nil {
		o.onRetry(a.op, a.name, a.failed, err)
	}
	o.log.Warn("lake: retrying", "op", a.op, "object", a.where(), "attempt", a.failed, "err", err)
	return true
}

func (a *attempts) where() string { return fmt.Sprintf("gs://%s/%s", a.b.name, a.name) }

// result turns the error that ended an operation into the error it returns.
func (b *GCSBucket) result(ctx context.Context, a *attempts, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("lake: %s %s: %w (last error: %v)", a.op, a.where(), ctx.Err(), err)
	}
	if !transient(err) {
		return permanentError(a.op, b.name, a.name, err)
	}
	n := a.failed
	if !a.bounded {
		n++ // the retryer stopped at WithMaxAttempts without asking
	}
	b.opts.log.Warn("lake: giving up", "op", a.op, "object", a.where(), "attempts", n, "err", err)
	return fmt.Errorf("lake: %s %s: giving up after %d attempts: %w", a.op, a.where(), n, err)
}

// retryBudget bounds the time the Writer retries one upload; the attempts
// bound it first.
func (o *options) retryBudget() time.Duration {
	per := o.attemptTimeout
	if per <= 0 {
		per = DefaultAttemptTimeout
	}
	return time.Duration(o.maxAttempts) * (per + o.maxBackoff)
}

// attemptTimeoutClient returns an HTTP client that authenticates as the one
// storage.NewClient would make, with a timeout on each request: a stalled
// attempt fails with a timeout and is retried. The timeout covers reading the
// response body.
//
// It is built from public options only. Against GCS, the credentials are
// Application Default Credentials with the scopes storage.NewClient asks for,
// found by the auth library as storage.NewClient finds them; against an
// emulator (STORAGE_EMULATOR_HOST) the client sends none. The endpoint is not
// the HTTP client's business: storage.NewClient picks it, emulator included.
func attemptTimeoutClient(ctx context.Context, d time.Duration) (*http.Client, error) {
	var opts []option.ClientOption
	if host := os.Getenv("STORAGE_EMULATOR_HOST"); host == "" {
		creds, err := credentials.DetectDefault(&credentials.DetectOptions{
			Scopes: []string{storage.ScopeFullControl, "https://www.googleapis.com/auth/cloud-platform"},
		})
		if err != nil {
			return nil, err
		}
		opts = append(opts, option.WithAuthCredentials(creds))
	} else {
		opts = append(opts, option.WithoutAuthentication())
	}
	hc, _, err := htransport.NewClient(ctx, opts...)
	if err != nil {
		return nil, err
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{Transport: attemptTimeoutTransport{base: base, timeout: d}, CheckRedirect: hc.CheckRedirect, Jar: hc.Jar}, nil
}

// attemptTimeoutTransport bounds each request, its response body included.
type attemptTimeoutTransport struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (t attemptTimeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded) && req.Context().Err() == nil
		cancel()
		if timedOut {
			return nil, &attemptTimeoutError{timeout: t.timeout, err: err}
		}
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// attemptTimeoutError is the error of a request cut at its timeout: a
// timeout (net.Error), so transient.
type attemptTimeoutError struct {
	timeout time.Duration
	err     error
}

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("attempt timed out after %v: %v", e.timeout, e.err)
}
func (e *attemptTimeoutError) Unwrap() error   { return e.err }
func (e *attemptTimeoutError) Timeout() bool   { return true }
func (e *attemptTimeoutError) Temporary() bool { return true }

// cancelOnClose ends a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
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
				"or `gcloud auth application-default login`) and that the account holds the permission the error names "+
				"on bucket %q (the consumer's lake: storage.objects.create, .delete and .get, docs/lake.md; "+
				"a gs:// input: storage.objects.list and .get): %w", op, where, ge.Code, bucket, err)
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
