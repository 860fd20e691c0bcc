// Command gcs-local serves a GCS emulator (fake-gcs-server, in memory) over
// plain HTTP, with its buckets created at start: the fake GCS of the container
// end-to-end case (docker/gcs-local.Dockerfile) and a stand-in lake for local
// runs. Clients reach it through STORAGE_EMULATOR_HOST=HOST:PORT. In a
// container, --external-url must be the address the clients use (e.g.
// http://gcs:4443): resumable uploads continue at that URL.
//
// With --permissions, it answers as GCS does to a caller that holds only
// those IAM permissions (on every bucket): a request that needs another one
// gets GCS's 403 naming --principal (see internal/gcsiam). Without it,
// every request is allowed. The health check (--probe) passes either way.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/turnstile-stream/turnstile-stream/internal/gcsiam"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on (0.0.0.0 in a container)")
	port := flag.Int("port", 4443, "port to listen on")
	buckets := flag.String("buckets", "turnstile-lake", "comma-separated buckets to create at start")
	externalURL := flag.String("external-url", "", "URL the clients reach this server at (default http://HOST:PORT)")
	probe := flag.String("probe", "", "do not serve: exit 0 when the emulator at this host:port answers its health check, 1 otherwise")
	perms := flag.String("permissions", "", "enforce these IAM permissions, comma-separated (e.g. storage.objects.create,storage.objects.get): other requests get GCS's 403; empty enforces nothing")
	principal := flag.String("principal", gcsiam.DefaultPrincipal, "the caller named in the 403 messages of --permissions")
	flag.Parse()
	if *probe != "" {
		if err := probeServer(*probe); err != nil {
			fmt.Fprintln(os.Stderr, "gcs-local: probe:", err)
			os.Exit(1)
		}
		fmt.Printf("gcs-local: emulator at %s answers\n", *probe)
		return
	}
	var policy *gcsiam.Policy
	if *perms != "" {
		list, err := gcsiam.ParsePermissions(*perms)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gcs-local: --permissions:", err)
			os.Exit(2)
		}
		policy = &gcsiam.Policy{Principal: *principal, Permissions: list}
	}
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	if *externalURL == "" {
		*externalURL = "http://" + addr
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gcs-local:", err)
		os.Exit(1)
	}
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:      "http",
		Host:        *host,
		Port:        uint16(*port),
		NoListener:  true,
		ExternalURL: *externalURL,
		PublicHost:  strings.TrimPrefix(strings.TrimPrefix(*externalURL, "http://"), "https://"),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gcs-local: start fake-gcs-server:", err)
		os.Exit(1)
	}
	var names []string
	for _, b := range strings.Split(*buckets, ",") {
		if b = strings.TrimSpace(b); b != "" {
			fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
			names = append(names, b)
		}
	}
	srv := &http.Server{Handler: gcsiam.New(fake.HTTPHandler(), objects{fake}, policy), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	enforced := "every request allowed"
	if policy != nil {
		enforced = fmt.Sprintf("enforcing %v for %s", policy.Permissions, policy.Principal)
	}
	fmt.Printf("gcs-local: GCS emulator on %s (clients: STORAGE_EMULATOR_HOST=%s), buckets %v, %s\n", addr, strings.TrimPrefix(*externalURL, "http://"), names, enforced)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	fake.Stop()
	fmt.Println("gcs-local: stopped")
}

// probeServer asks the emulator's health check, which --permissions leaves
// open.
func probeServer(addr string) error {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/_internal/healthcheck")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /_internal/healthcheck: %s", resp.Status)
	}
	return nil
}

// objects is the emulator's answer to whether an object exists.
type objects struct{ fake *fakestorage.Server }

func (o objects) Generation(bucket, name string) (int64, bool) {
	obj, err := o.fake.GetObject(bucket, name)
	if err != nil {
		return 0, false
	}
	return obj.Generation, true
}
