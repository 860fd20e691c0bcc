package e2e

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// The Kafka images of the Docker backend, pinned. The testcontainers kafka
// module only runs Confluent images (confluentinc/confluent-local 7.4.0 or
// newer); the official apache/kafka image runs as a GenericContainer in KRaft
// mode. E2E_KAFKA_IMAGE picks another image of either family, or the
// project's own broker image (kafkaLocalImage, built by `make images`), the
// only one a machine without an image registry can run.
const (
	confluentImage  = "confluentinc/confluent-local:7.6.1"
	apacheImage     = "apache/kafka:3.9.1"
	kafkaLocalImage = "turnstile-kafka-local:local"
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
	image  string
	engine string // e.g. "podman 4.3.1" or "Docker 28.2.2"
	ctr    testcontainers.Container
	addr   string
	cli    *testcontainers.DockerClient
	// net is the user-defined network the broker image runs on (nil for the
	// other images): containers of a case join it to reach Kafka.
	net *testcontainers.DockerNetwork
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
	switch {
	case strings.HasPrefix(image, "apache/kafka"):
		b.ctr, b.addr, err = runApacheKafka(ctx, image)
	case strings.Contains(image, "kafka-local"):
		b.net, b.ctr, b.addr, err = runKafkaLocal(ctx, image)
	default:
		b.ctr, b.addr, err = runConfluentKafka(ctx, image)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("start Kafka in Docker (%s): %w", image, err)
	}
	if b.cli, err = testcontainers.NewDockerClientWithOpts(ctx); err != nil {
		b.Close()
		return nil, fmt.Errorf("docker client: %w", err)
	}
	b.engine = engineName(ctx, b.cli)
	return b, nil
}

// engineName names the container engine behind the Docker API: podman
// serves the same API and says so among its version components.
func engineName(ctx context.Context, cli *testcontainers.DockerClient) string {
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "unknown engine (" + err.Error() + ")"
	}
	for _, c := range v.Components {
		if strings.Contains(strings.ToLower(c.Name), "podman") {
			return "podman " + c.Version
		}
	}
	return "Docker " + v.Version
}

// advertisedRE finds the address the broker image advertises in its start
// line (tools/kafka-local).
var advertisedRE = regexp.MustCompile(`advertised as (\S+) `)

// runKafkaLocal runs the project's broker image (tools/kafka-local) on a new
// user-defined network, under the alias kafka. The broker advertises its own
// address on that network, which both the host (over the engine's bridge)
// and the containers of that network reach: kfake has one listener, so it
// cannot advertise a host port to one and a name to the others, as Kafka's
// listeners do.
func runKafkaLocal(ctx context.Context, image string) (*testcontainers.DockerNetwork, testcontainers.Container, string, error) {
	nw, err := tcnetwork.New(ctx)
	if err != nil {
		return nil, nil, "", fmt.Errorf("create a network: %w", err)
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:          image,
			Cmd:            []string{"--advertise", "auto", "--min-session-timeout", "500ms", "--topics", ""},
			Networks:       []string{nw.Name},
			NetworkAliases: map[string][]string{nw.Name: {"kafka"}},
			WaitingFor:     wait.ForLog("embedded broker listening").WithStartupTimeout(time.Minute),
		},
		Started: true,
	})
	if err != nil {
		return nw, ctr, "", err
	}
	logs, err := containerLogs(ctx, ctr)
	if err != nil {
		return nw, ctr, "", err
	}
	m := advertisedRE.FindStringSubmatch(logs)
	if m == nil {
		return nw, ctr, "", fmt.Errorf("the broker's log names no advertised address:\n%s", logs)
	}
	return nw, ctr, m[1], nil
}

// containerLogs returns what a container wrote to stdout and stderr so far.
func containerLogs(ctx context.Context, ctr testcontainers.Container) (string, error) {
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return "", fmt.Errorf("container logs: %w", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return "", fmt.Errorf("container logs: %w", err)
	}
	return string(data), nil
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
	return "Kafka in a container via testcontainers (" + b.image + ") at " + b.addr + " on " + b.engine
}

func (b *dockerBackend) Close() {
	if b.cli != nil {
		_ = b.cli.Close()
	}
	if b.ctr != nil {
		if err := testcontainers.TerminateContainer(b.ctr); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: terminate Kafka container:", err)
		}
	}
	if b.net != nil {
		if err := b.net.Remove(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: remove the network:", err)
		}
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
