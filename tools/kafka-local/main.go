// Command kafka-local runs an embedded Kafka-compatible broker (franz-go's
// kfake) on loopback for the local pipeline and demos: no Docker, no JVM. It
// creates the topics it is given and keeps its data in memory, or under
// --data-dir so that a restart on the same port keeps topics, records and
// committed offsets. It is not a production broker.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
)

func main() {
	port := flag.Int("port", 9092, "port to listen on, on 127.0.0.1")
	partitions := flag.Int("partitions", 4, "partitions of each topic created at start")
	topics := flag.String("topics", "mta-turnstile", "comma-separated topics to create at start")
	dataDir := flag.String("data-dir", "", "persist the log here (empty: in memory)")
	minSession := flag.Duration("min-session-timeout", 0, "smallest session.timeout.ms clients may use (0: the broker default, 6s)")
	flag.Parse()
	if *partitions < 1 {
		fmt.Fprintln(os.Stderr, "kafka-local: --partitions must be at least 1")
		os.Exit(2)
	}
	opts := []kafkatest.Option{kafkatest.Port(*port), kafkatest.Topics(int32(*partitions), strings.Split(*topics, ",")...)}
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
	fmt.Printf("kafka-local: embedded broker listening on %s (topics %s, %d partitions each)\n", b.Addr(), *topics, *partitions)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	b.Close()
	fmt.Println("kafka-local: stopped")
}
