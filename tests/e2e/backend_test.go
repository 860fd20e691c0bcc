package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
)

// backend provides Kafka clusters to the cases. One backend serves a whole
// run; see selectBackend for how it is chosen.
type backend interface {
	// Name says which backend runs, for the test log.
	Name() string
	// Cluster returns a cluster holding a fresh topic with the given number of
	// partitions, for one case. With restartable, the cluster must be able to
	// go away and come back (Cluster.Outage).
	Cluster(t *testing.T, topic string, partitions int, restartable bool) *cluster
	// Close releases the backend at the end of the run.
	Close()
}

// cluster is what one case sees of Kafka.
type cluster struct {
	// Addr is the bootstrap address, host:port.
	Addr string
	// Props are the librdkafka properties the apps get in their --config
	// file; bootstrap.servers is among them.
	Props map[string]string
	// Outage makes the broker unreachable for d and brings it back with its
	// data. It is nil when the backend cannot do that (an external cluster).
	Outage func(t *testing.T, d time.Duration)
}

// propsFile writes c.Props plus extra (which win) as a properties file.
func (c *cluster) propsFile(t *testing.T, extra map[string]string) string {
	t.Helper()
	all := map[string]string{}
	for k, v := range c.Props {
		all[k] = v
	}
	for k, v := range extra {
		all[k] = v
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, all[k])
	}
	f, err := os.CreateTemp(t.TempDir(), "kafka-*.properties")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// fastGroupProps are consumer-group timings that let a killed or stopped
// member leave the group within about a second. Without a short
// max.poll.interval.ms, a rejoin after kill -9 blocks for minutes on kfake.
// The broker must accept a session timeout of 1s (kfake with
// MinSessionTimeout, or Kafka with group.min.session.timeout.ms lowered).
var fastGroupProps = map[string]string{
	"session.timeout.ms":    "1000",
	"heartbeat.interval.ms": "200",
	"max.poll.interval.ms":  "3000",
}

// commonProps are client properties for every backend: a short fetch queue
// backoff (librdkafka's default of 1000 ms leaves the consumer idle) and no
// KIP-714 metrics push (kfake does not implement it; Kafka does not need it).
var commonProps = map[string]string{
	"enable.metrics.push":    "false",
	"fetch.queue.backoff.ms": "10",
}

func mergeProps(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// selectBackend picks the Kafka backend: KAFKA_BOOTSTRAP names an external
// cluster; otherwise Kafka in Docker when a Docker engine is healthy;
// otherwise the in-process kfake broker. With E2E_REQUIRE_DOCKER=1 a missing
// Docker engine is an error instead of a fallback (KAFKA_BOOTSTRAP still wins).
func selectBackend() (backend, error) {
	if addr := os.Getenv("KAFKA_BOOTSTRAP"); addr != "" {
		return &externalBackend{addr: addr}, nil
	}
	dockerErr := dockerHealthy()
	if dockerErr == nil {
		return startDockerBackend()
	}
	if os.Getenv("E2E_REQUIRE_DOCKER") == "1" {
		return nil, fmt.Errorf("E2E_REQUIRE_DOCKER=1 but no healthy Docker engine: %w", dockerErr)
	}
	return &kfakeBackend{why: dockerErr.Error()}, nil
}

// --- kfake: franz-go's in-process broker --------------------------------

type kfakeBackend struct{ why string }

func (b *kfakeBackend) Name() string {
	return "kfake (franz-go in-process broker; no Docker engine: " + b.why + ")"
}

func (b *kfakeBackend) Close() {}

// Cluster starts one broker per case. A restartable broker listens on a fixed
// port and keeps its log in a directory, so that it can be stopped and
// started again with its topics, records and committed offsets.
func (b *kfakeBackend) Cluster(t *testing.T, topic string, partitions int, restartable bool) *cluster {
	t.Helper()
	opts := []kafkatest.Option{kafkatest.Topics(int32(partitions), topic), kafkatest.MinSessionTimeout(500 * time.Millisecond)}
	var port int
	var dir string
	if restartable {
		port = freePort(t)
		dir = t.TempDir()
		opts = append(opts, kafkatest.Port(port), kafkatest.DataDir(dir))
	}
	broker, err := kafkatest.Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if broker != nil {
			broker.Close()
		}
	})
	c := &cluster{Addr: broker.Addr(), Props: mergeProps(commonProps, fastGroupProps, map[string]string{"bootstrap.servers": broker.Addr()})}
	if restartable {
		c.Outage = func(t *testing.T, d time.Duration) {
			mu.Lock()
			broker.Close()
			broker = nil
			mu.Unlock()
			t.Logf("kfake broker on port %d stopped for %s", port, d)
			time.Sleep(d)
			var nb *kafkatest.Broker
			var err error
			for attempt := 0; attempt < 50; attempt++ { // the port may linger briefly
				nb, err = kafkatest.Start(kafkatest.Port(port), kafkatest.DataDir(dir), kafkatest.MinSessionTimeout(500*time.Millisecond))
				if err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("restart kfake on port %d: %v", port, err)
			}
			mu.Lock()
			broker = nb
			mu.Unlock()
			t.Logf("kfake broker restarted on port %d with data dir %s", port, dir)
		}
	}
	return c
}

// --- an external cluster (KAFKA_BOOTSTRAP) -------------------------------

type externalBackend struct{ addr string }

func (b *externalBackend) Name() string {
	return "external Kafka cluster at " + b.addr + " (KAFKA_BOOTSTRAP)"
}

func (b *externalBackend) Close() {}

func (b *externalBackend) Cluster(t *testing.T, topic string, partitions int, restartable bool) *cluster {
	t.Helper()
	createTopic(t, b.addr, topic, partitions)
	// A cluster we do not own keeps Kafka's default
	// group.min.session.timeout.ms of 6s.
	props := mergeProps(commonProps, map[string]string{
		"bootstrap.servers":     b.addr,
		"session.timeout.ms":    "6000",
		"heartbeat.interval.ms": "1000",
		"max.poll.interval.ms":  "10000",
	})
	return &cluster{Addr: b.addr, Props: props} // no Outage: the suite cannot stop a cluster it does not own
}

// createTopic creates a topic through the AdminClient and waits until its
// metadata shows every partition.
func createTopic(t *testing.T, addr, topic string, partitions int) {
	t.Helper()
	admin, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": addr, "enable.metrics.push": false})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := admin.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}})
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	for _, r := range res {
		if r.Error.Code() != kafka.ErrNoError && r.Error.Code() != kafka.ErrTopicAlreadyExists {
			t.Fatalf("create topic %s: %v", topic, r.Error)
		}
	}
	for ctx.Err() == nil {
		md, err := admin.GetMetadata(&topic, false, 5000)
		if err == nil && len(md.Topics[topic].Partitions) == partitions {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("topic %s: metadata does not show %d partitions", topic, partitions)
}

// freePort returns a TCP port that was free a moment ago on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	port, err := pickPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func pickPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// committedOffsets reads the group's committed offsets of the topic's
// partitions without joining the group.
func committedOffsets(t *testing.T, c *cluster, group, topic string, partitions int) map[int32]int64 {
	t.Helper()
	cm := &kafka.ConfigMap{"group.id": group}
	for k, v := range c.Props {
		_ = cm.SetKey(k, v)
	}
	consumer, err := kafka.NewConsumer(cm)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	tps := make([]kafka.TopicPartition, partitions)
	for p := range tps {
		tps[p] = kafka.TopicPartition{Topic: &topic, Partition: int32(p)}
	}
	var got []kafka.TopicPartition
	for attempt := 0; ; attempt++ {
		got, err = consumer.Committed(tps, 10000)
		if err == nil || attempt == 5 {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("committed offsets of group %s: %v", group, err)
	}
	out := map[int32]int64{}
	for _, tp := range got {
		out[tp.Partition] = int64(tp.Offset)
	}
	return out
}
