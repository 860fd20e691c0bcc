// Package gcstest runs an in-process GCS emulator (fake-gcs-server) behind a
// fault injector, for tests, the end-to-end suite and the local pipeline.
//
// Clients reach it through the STORAGE_EMULATOR_HOST environment variable,
// which cloud.google.com/go/storage honours:
//
//	srv := gcstest.New(t)
//	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host())
//	sink, err := lake.Open(ctx, "gs://"+srv.Bucket()+"/turnstile")
//
// Every request goes through srv.Faults() first, so a test can make the
// "cloud" answer 503s, stall or drop connections for a while and check that
// clients retry.
//
// With the Enforce option (or SetPolicy), the emulator then answers as GCS
// does to a caller that holds only the policy's IAM permissions: a request
// that lacks one gets GCS's 403 (see package gcsiam for the mapping of
// requests to permissions). Without it, every request is allowed. Object,
// Objects and Fake read and seed the emulator directly, past both.
package gcstest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/turnstile-stream/turnstile-stream/internal/gcsiam"
)

// DefaultBucket is the bucket Start creates when no Buckets option is given.
const DefaultBucket = "turnstile-lake"

// Server is a running emulator. Close it when done.
type Server struct {
	fake    *fakestorage.Server
	http    *http.Server
	faults  *Faults
	iam     *gcsiam.Handler
	host    string
	buckets []string
	served  chan struct{}
}

// Option configures Start.
type Option func(*options)

type options struct {
	port    int
	buckets []string
	policy  *gcsiam.Policy
}

// Enforce makes the emulator deny, with GCS's 403, every request that needs
// a permission the policy does not hold. The default enforces nothing.
func Enforce(p gcsiam.Policy) Option { return func(o *options) { o.policy = &p } }

// Port makes the emulator listen on 127.0.0.1:port (0, the default, picks a
// free port).
func Port(port int) Option { return func(o *options) { o.port = port } }

// Buckets creates the named buckets (empty) at start, instead of
// DefaultBucket.
func Buckets(names ...string) Option {
	return func(o *options) { o.buckets = append(o.buckets, names...) }
}

// Start starts an emulator on 127.0.0.1 over plain HTTP, with its buckets
// created and no faults queued.
func Start(opts ...Option) (*Server, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.buckets) == 0 {
		o.buckets = []string{DefaultBucket}
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port)))
	if err != nil {
		return nil, fmt.Errorf("gcstest: listen on 127.0.0.1:%d: %w", o.port, err)
	}
	host := l.Addr().String()
	// The emulator serves the XML-API object reads of the storage client only
	// for requests whose Host is its PublicHost; clients address this
	// listener, so that is its address.
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		PublicHost: host,
		NoListener: true,
	})
	if err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("gcstest: start fake-gcs-server: %w", err)
	}
	for _, b := range o.buckets {
		fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	s := &Server{
		fake:    fake,
		faults:  &Faults{},
		host:    host,
		buckets: o.buckets,
		served:  make(chan struct{}),
	}
	s.iam = gcsiam.New(fake.HTTPHandler(), fakeObjects{fake}, o.policy)
	s.http = &http.Server{
		Handler:           s.faults.Wrap(s.iam),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(l) // returns http.ErrServerClosed after Close
	}()
	return s, nil
}

// New starts an emulator for the test and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Host returns the emulator's host:port, the value for STORAGE_EMULATOR_HOST.
func (s *Server) Host() string { return s.host }

// URL returns the emulator's base URL, http://host:port.
func (s *Server) URL() string { return "http://" + s.host }

// Bucket returns the first bucket created at start.
func (s *Server) Bucket() string { return s.buckets[0] }

// Faults returns the fault injector in front of the emulator.
func (s *Server) Faults() *Faults { return s.faults }

// SetPolicy changes the permissions the emulator enforces from now on; nil
// turns enforcement off. A test can seed objects through a client first,
// then enforce.
func (s *Server) SetPolicy(p *gcsiam.Policy) { s.iam.SetPolicy(p) }

// Denied returns how many requests the emulator answered 403 for want of a
// permission.
func (s *Server) Denied() int { return s.iam.Denied() }

// Granted returns how many requests that needed the permission perm the
// emulator let through while it enforced a policy.
func (s *Server) Granted(perm string) int { return s.iam.Granted(perm) }

// fakeObjects is the emulator's answer to whether an object exists.
type fakeObjects struct{ fake *fakestorage.Server }

func (f fakeObjects) Generation(bucket, name string) (int64, bool) {
	obj, err := f.fake.GetObject(bucket, name)
	if err != nil {
		return 0, false
	}
	return obj.Generation, true
}

// Fake returns the emulator itself, to inspect or seed objects without going
// through the faults.
func (s *Server) Fake() *fakestorage.Server { return s.fake }

// Object returns the content of an object, read directly from the emulator
// (no faults).
func (s *Server) Object(bucket, name string) ([]byte, error) {
	obj, err := s.fake.GetObject(bucket, name)
	if err != nil {
		return nil, fmt.Errorf("gcstest: object gs://%s/%s: %w", bucket, name, err)
	}
	return obj.Content, nil
}

// Objects returns the names of the objects of a bucket under prefix, read
// directly from the emulator (no faults).
func (s *Server) Objects(bucket, prefix string) ([]string, error) {
	resp, err := s.fake.ListObjectsWithOptionsPaginated(bucket, fakestorage.ListOptions{Prefix: prefix})
	objs := resp.Objects
	if err != nil {
		return nil, fmt.Errorf("gcstest: list gs://%s/%s: %w", bucket, prefix, err)
	}
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
	}
	return names, nil
}

// Close stops the emulator: pending stalls end and connections are closed.
func (s *Server) Close() {
	s.faults.close()
	_ = s.http.Close() // only reports the listener's close error
	<-s.served
	s.fake.Stop()
}
