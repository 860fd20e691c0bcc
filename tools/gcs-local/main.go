// Command gcs-local serves a GCS emulator (fake-gcs-server, in memory) over
// plain HTTP, with its buckets created at start: the fake GCS of the container
// end-to-end case (docker/gcs-local.Dockerfile) and a stand-in lake for local
// runs. Clients reach it through STORAGE_EMULATOR_HOST=HOST:PORT. In a
// container, --external-url must be the address the clients use (e.g.
// http://gcs:4443): resumable uploads continue at that URL.
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
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on (0.0.0.0 in a container)")
	port := flag.Int("port", 4443, "port to listen on")
	buckets := flag.String("buckets", "turnstile-lake", "comma-separated buckets to create at start")
	externalURL := flag.String("external-url", "", "URL the clients reach this server at (default http://HOST:PORT)")
	probe := flag.String("probe", "", "do not serve: exit 0 when the emulator at this host:port lists its buckets, 1 otherwise (a health check)")
	flag.Parse()
	if *probe != "" {
		if err := probeServer(*probe); err != nil {
			fmt.Fprintln(os.Stderr, "gcs-local: probe:", err)
			os.Exit(1)
		}
		fmt.Printf("gcs-local: emulator at %s answers\n", *probe)
		return
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
	srv := &http.Server{Handler: fake.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	fmt.Printf("gcs-local: GCS emulator on %s (clients: STORAGE_EMULATOR_HOST=%s), buckets %v\n", addr, strings.TrimPrefix(*externalURL, "http://"), names)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	fake.Stop()
	fmt.Println("gcs-local: stopped")
}

func probeServer(addr string) error {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/storage/v1/b")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /storage/v1/b: %s", resp.Status)
	}
	return nil
}
