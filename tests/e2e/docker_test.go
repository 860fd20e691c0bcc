package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
	"github.com/testcontainers/testcontainers-go/wait"
)

// The Kafka images of the Docker backend, pinned. The testcontainers kafka
// module only runs Confluent images (confluentinc/confluent-local 7.4.0 or
// newer); the official apache/kafka image runs as a GenericContainer in KRaft
// mode. E2E_KAFKA_IMAGE picks another image of either family.
const (
	confluentImage = "confluentinc/confluent-local:7.6.1"
	apacheImage    = "apache/kafka:3.9.1"
)

// dockerHealthy reports why Docker cannot be used, or nil when an engine
// answers.
func dockerHealthy() (err error) {
	defer func() {
		if r := recover(); r != nil { // testcontainers panics on some broken setups
			err = fmt.Errorf("docker provider panicked: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("no Docker provider: %w", err)
	}
	defer provider.Close()
	if err := provider.Health(ctx); err != nil {
		return fmt.Errorf("Docker engine not healthy: %w", err)
	}
	return nil
}

// dockerBackend is one Kafka container shared by every case of a run; each
// case gets its own topic and consumer group.
type dockerBackend struct {
	image string
	ctr   testcontainers.Container
	addr  string
	cli   *testcontainers.DockerClient
}

func startDockerBackend() (*dockerBackend, error) {
	image := os.Getenv("E2E_KAFKA_IMAGE")
	if image == "" {
		image = confluentImage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := &dockerBackend{image: image}
	var err error
	if strings.HasPrefix(image, "apache/kafka") {
		b.ctr, b.addr, err = runApacheKafka(ctx, image)
	} else {
		b.ctr, b.addr, err = runConfluentKafka(ctx, image)
	}
	if err != nil {
		if b.ctr != nil {
			_ = testcontainers.TerminateContainer(b.ctr)
		}
		return nil, fmt.Errorf("start Kafka in Docker (%s): %w", image, err)
	}
	if b.cli, err = testcontainers.NewDockerClientWithOpts(ctx); err != nil {
		_ = testcontainers.TerminateContainer(b.ctr)
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return b, nil
}

// groupEnv lets consumers use a 1s session timeout, as against kfake, so that
// a killed member leaves the group quickly.
var groupEnv = map[string]string{
	"KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS":     "500",
	"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
}

func runConfluentKafka(ctx context.Context, image string) (testcontainers.Container, string, error) {
	kc, err := tckafka.Run(ctx, image, testcontainers.WithEnv(groupEnv))
	if err != nil {
		if kc != nil {
			return kc, "", err
		}
		return nil, "", err
	}
	brokers, err := kc.Brokers(ctx)
	if err != nil {
		return kc, "", err
	}
	return kc, brokers[0], nil
}

// runApacheKafka runs the official image in KRaft mode. Its advertised
// listener must name the host port, so the port is chosen before the start
// and bound explicitly.
func runApacheKafka(ctx context.Context, image string) (testcontainers.Container, string, error) {
	port, err := pickPort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env := map[string]string{
		"KAFKA_NODE_ID":                                  "1",
		"KAFKA_PROCESS_ROLES":                            "broker,controller",
		"KAFKA_LISTENERS":                                "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093",
		"KAFKA_ADVERTISED_LISTENERS":                     "PLAINTEXT://" + addr,
		"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
		"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@localhost:9093",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
		"KAFKA_NUM_PARTITIONS":                           "4",
	}
	for k, v := range groupEnv {
		env[k] = v
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        image,
			Env:          env,
			ExposedPorts: []string{"9092/tcp"},
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.PortBindings = network.PortMap{
					network.MustParsePort("9092/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(port)}},
				}
			},
			WaitingFor: wait.ForLog("Kafka Server started").WithStartupTimeout(3 * time.Minute),
		},
		Started: true,
	})
	return ctr, addr, err
}

func (b *dockerBackend) Name() string {
	return "Kafka in Docker via testcontainers (" + b.image + ") at " + b.addr
}

func (b *dockerBackend) Close() {
	if b.cli != nil {
		_ = b.cli.Close()
	}
	if err := testcontainers.TerminateContainer(b.ctr); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: terminate Kafka container:", err)
	}
}

func (b *dockerBackend) Cluster(t *testing.T, topic string, partitions int, restartable bool) *cluster {
	t.Helper()
	createTopic(t, b.addr, topic, partitions)
	c := &cluster{Addr: b.addr, Props: mergeProps(commonProps, fastGroupProps, map[string]string{"bootstrap.servers": b.addr})}
	if restartable {
		c.Outage = func(t *testing.T, d time.Duration) {
			ctx := context.Background()
			id := b.ctr.GetContainerID()
			if _, err := b.cli.ContainerPause(ctx, id, client.ContainerPauseOptions{}); err != nil {
				t.Fatalf("pause the Kafka container: %v", err)
			}
			t.Logf("Kafka container %.12s paused for %s", id, d)
			time.Sleep(d)
			if _, err := b.cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil {
				t.Fatalf("unpause the Kafka container: %v", err)
			}
			t.Logf("Kafka container %.12s unpaused", id)
		}
	}
	return c
}
