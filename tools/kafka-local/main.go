// Command kafka-local runs an embedded Kafka-compatible broker (franz-go's
// kfake) on loopback for the local pipeline and demos: no Docker, no JVM. It
// creates the topics it is given and keeps its data in memory, or under
// --data-dir so that a restart on the same port keeps topics, records and
// committed offsets. It is not a production broker.
//
// In a container (docker/kafka-local.Dockerfile) it listens on --host 0.0.0.0
// and advertises --advertise: a name on the container network (kafka in
// Compose), or "auto", the container's own address on its network, which the
// host and the other containers of that network both reach. --probe ADDR is
// the image's health check: it exits 0 once the broker at ADDR answers and
// lists every topic of --topics.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
)

func main() {
	port := flag.Int("port", 9092, "port to listen on")
	host := flag.String("host", "127.0.0.1", "address to listen on (0.0.0.0 in a container)")
	advertise := flag.String("advertise", "", `host name or address clients are told to connect to (the port stays --port); "auto": this machine's first non-loopback IPv4 address; empty: the listen address`)
	partitions := flag.Int("partitions", 4, "partitions of each topic created at start")
	topics := flag.String("topics", "mta-turnstile", "comma-separated topics to create at start")
	dataDir := flag.String("data-dir", "", "persist the log here (empty: in memory)")
	minSession := flag.Duration("min-session-timeout", 0, "smallest session.timeout.ms clients may use (0: the broker default, 6s)")
	probe := flag.String("probe", "", "do not run a broker: exit 0 when the broker at this host:port answers and has every --topics topic, 1 otherwise (a health check)")
	probeTimeout := flag.Duration("probe-timeout", 5*time.Second, "how long --probe waits")
	flag.Parse()
	if *probe != "" {
		ctx, cancel := context.WithTimeout(context.Background(), *probeTimeout)
		defer cancel()
		if err := probeBroker(ctx, *probe, splitTopics(*topics)); err != nil {
			fmt.Fprintln(os.Stderr, "kafka-local: probe:", err)
			os.Exit(1)
		}
		fmt.Printf("kafka-local: broker at %s answers with topics %s\n", *probe, *topics)
		return
	}
	if *partitions < 1 {
		fmt.Fprintln(os.Stderr, "kafka-local: --partitions must be at least 1")
		os.Exit(2)
	}
	adv := *advertise
	if adv == "auto" {
		var err error
		if adv, err = ownAddress(); err != nil {
			fmt.Fprintln(os.Stderr, "kafka-local: --advertise auto:", err)
			os.Exit(1)
		}
	}
	opts := []kafkatest.Option{kafkatest.Port(*port), kafkatest.Topics(int32(*partitions), splitTopics(*topics)...)}
	if *host != "127.0.0.1" || adv != "" {
		opts = append(opts, kafkatest.Listen(*host, adv))
	}
	if *minSession > 0 {
		opts = append(opts, kafkatest.MinSessionTimeout(*minSession))
	}
	if *dataDir != "" {
		opts = append(opts, kafkatest.DataDir(*dataDir))
	}
	b, err := kafkatest.Start(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafka-local:", err)
		os.Exit(1)
	}
	fmt.Printf("kafka-local: embedded broker listening on %s, advertised as %s (topics %s, %d partitions each)\n",
		net.JoinHostPort(*host, fmt.Sprint(*port)), b.Addr(), *topics, *partitions)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	b.Close()
	fmt.Println("kafka-local: stopped")
}

func splitTopics(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// ownAddress returns the first non-loopback IPv4 address of this machine's
// interfaces: in a container on one network, its address there.
func ownAddress() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String(), nil
		}
	}
	return "", errors.New("no non-loopback IPv4 address")
}

// probeBroker asks the broker at addr for its metadata and checks that every
// topic in want exists.
func probeBroker(ctx context.Context, addr string, want []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("metadata from %s: %w", addr, err)
	}
	var have []string
	for _, t := range resp.Topics {
		if t.Topic != nil && t.ErrorCode == 0 {
			have = append(have, *t.Topic)
		}
	}
	for _, t := range want {
		if !slices.Contains(have, t) {
			return fmt.Errorf("broker at %s has no topic %q (it has %v)", addr, t, have)
		}
	}
	return nil
}
