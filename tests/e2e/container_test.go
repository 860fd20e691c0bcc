//go:build containers

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// The project's own images that the container case runs (`make images`
// builds them); E2E_CONSUMER_IMAGE, E2E_PRODUCER_IMAGE and E2E_GCS_IMAGE
// name others, for example a deliberately broken build.
const (
	consumerImage = "turnstile-consumer:local"
	producerImage = "turnstile-producer:local"
	gcsImage      = "turnstile-gcs-local:local"
	imageUID      = "65532" // the non-root user of the runtime images
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Case 10: case 5 (replay) with the producer and the consumer running as
// their own images, not as binaries built by the test. Everything the images
// need at run time is real here: cgo's libc in the runtime image, the
// properties file mounted read-only at /config and readable by the non-root
// user, the user itself (uid 65532), and the way to GCS: the consumer writes
// to a GCS emulator container (turnstile-gcs-local) through the case's
// user-defined network, and reaches Kafka there. The lake must hold exactly
// case 5's expected rows, and the consumer must stop cleanly on SIGTERM.
//
// The containers reach each other by address on that network, not by name:
// podman 4.3's DNS (CNI dnsname) sometimes never resolves a name on a new
// network (here "kafka" stayed "Name or service not known" for a whole run,
// 1 run in 6 of this case), which is the engine's fault, not the images'.
//
// It needs the broker image backend, so it is built only with the
// "containers" tag, which make e2e-containers sets; with another backend it
// fails.
func TestConsumerImage(t *testing.T) {
	if setupErr != nil {
		t.Fatalf("e2e setup failed: %v", setupErr)
	}
	db, ok := kafkaBackend.(*dockerBackend)
	if !ok || db.net == nil {
		t.Fatalf("the consumer-image case needs the broker image backend (E2E_KAFKA_IMAGE=%s and a container engine: make e2e-containers); this run's backend is %s", kafkaLocalImage, kafkaBackend.Name())
	}
	e := newEnv(t, "replay", envOption{})
	ctx := context.Background()
	nw := db.net.Name

	// The fake GCS, on the case's network at gcsAddr; the test reads it on
	// a loopback port.
	lake, gcsAddr := startGCSContainer(t, ctx, envOr("E2E_GCS_IMAGE", gcsImage), nw)
	e.lake = lake

	// /config: the properties file, as the apps' Compose services get it,
	// readable by the images' non-root user (t.TempDir is 0700 root).
	cfgDir := t.TempDir()
	props := map[string]string{}
	for k, v := range e.cluster.Props {
		props[k] = v
	}
	// bootstrap.servers is the broker's advertised address on the network.
	writeProps(t, filepath.Join(cfgDir, "client.properties"), props)
	if err := os.Chmod(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}

	consumerArgs := []string{"--config", "/config/client.properties", "--topic", e.topic, "--group", e.group,
		"--sink", "gs://" + lake.Bucket() + "/turnstile", "--commit-interval", "200ms", "--idle-close", "0",
		"--metrics-addr", ":9090"}
	consumerArgs = append(consumerArgs, e.cs.consumer...)
	image := envOr("E2E_CONSUMER_IMAGE", consumerImage)
	consumer := runImage(t, ctx, imageRun{
		name: "consumer", image: image, network: nw, args: consumerArgs,
		env:   map[string]string{"STORAGE_EMULATOR_HOST": gcsAddr},
		binds: []string{cfgDir + ":/config:ro"},
		wait:  wait.ForLog("partitions assigned").WithStartupTimeout(90 * time.Second),
	})
	checkNonRoot(t, ctx, consumer, "consumer ("+image+")")
	checkReadOnlyMount(t, ctx, consumer, "/config")

	// The producer's image replays case 5's files, mounted read-only at the
	// same paths, and exits.
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	producerArgs := append([]string{"--config", "/config/client.properties", "--topic", e.topic}, e.cs.producer...)
	pimage := envOr("E2E_PRODUCER_IMAGE", producerImage)
	producer := runImage(t, ctx, imageRun{
		name: "producer", image: pimage, network: nw, args: producerArgs,
		binds: []string{cfgDir + ":/config:ro", td + ":" + td + ":ro"},
		wait:  wait.ForExit().WithExitTimeout(3 * time.Minute),
	})
	st, err := producer.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plogs := mustLogs(t, ctx, producer)
	if st.ExitCode != 0 {
		t.Fatalf("producer (%s) exited %d; its log:\n%s", pimage, st.ExitCode, tail(plogs, 30))
	}
	sum := summaryRE.FindString(plogs)
	if summaryCount(sum, "sent") != 208 || summaryCount(sum, "failed") != 0 || summaryCount(sum, "undelivered") != 0 {
		t.Fatalf("producer (%s) summary %q; want sent=208 failed=0 undelivered=0; its log:\n%s", pimage, sum, tail(plogs, 30))
	}

	e.sendSentinels()
	lc := e.waitLake(len(readExpected(t, e.expectedPath())), 0, 90*time.Second)

	// SIGTERM: the consumer commits and exits 0.
	timeout := 30 * time.Second
	if err := consumer.Stop(ctx, &timeout); err != nil {
		t.Fatalf("stop the consumer container: %v", err)
	}
	if st, err = consumer.State(ctx); err != nil {
		t.Fatal(err)
	}
	clogs := mustLogs(t, ctx, consumer)
	if st.ExitCode != 0 || !strings.Contains(clogs, "consumer stopped cleanly") {
		t.Errorf("consumer container exited %d after SIGTERM (want 0 and a clean stop); its log:\n%s", st.ExitCode, tail(clogs, 30))
	}
	e.checkRows(lc)
	if len(lc.rejected)+len(lc.late) != 0 {
		t.Errorf("want no side records, got %d rejected and %d late", len(lc.rejected), len(lc.late))
	}
	t.Logf("images %s and %s ran as uid %s on network %s; the consumer wrote %d window files to the GCS container", image, pimage, imageUID, nw, len(lc.files))
}

// imageRun is one container of a case.
type imageRun struct {
	name, image, network string
	args                 []string
	env                  map[string]string
	binds                []string
	// publish, when not empty, is "CONTAINERPORT:HOSTPORT": the container
	// port published on 127.0.0.1.
	publish string
	wait    wait.Strategy
}

// runImage starts a container from the image as the image says (its
// entrypoint and its user), on the network under the alias r.name, and
// removes it at the end of the test, showing its log when the test failed.
func runImage(t *testing.T, ctx context.Context, r imageRun) testcontainers.Container {
	t.Helper()
	var exposed []string
	var bindings network.PortMap
	if r.publish != "" {
		cport, hport, _ := strings.Cut(r.publish, ":")
		exposed = []string{cport + "/tcp"}
		bindings = network.PortMap{
			network.MustParsePort(cport + "/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: hport}},
		}
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:          r.image,
			Cmd:            r.args,
			Env:            r.env,
			ExposedPorts:   exposed,
			Networks:       []string{r.network},
			NetworkAliases: map[string][]string{r.network: {r.name}},
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.Binds = append(hc.Binds, r.binds...)
				if bindings != nil {
					hc.PortBindings = bindings
				}
			},
			WaitingFor: r.wait,
		},
		Started: true,
	})
	if ctr != nil {
		t.Cleanup(func() {
			if t.Failed() {
				if logs, err := containerLogs(context.Background(), ctr); err == nil {
					t.Logf("--- log of the %s container (%s):\n%s", r.name, r.image, tail(logs, 40))
				}
			}
			if err := testcontainers.TerminateContainer(ctr); err != nil {
				t.Logf("remove the %s container: %v", r.name, err)
			}
		})
	}
	if err != nil {
		logs := ""
		if ctr != nil {
			logs, _ = containerLogs(ctx, ctr)
		}
		t.Fatalf("run the %s image %s: %v\n%s", r.name, r.image, err, tail(logs, 30))
	}
	return ctr
}

func mustLogs(t *testing.T, ctx context.Context, ctr testcontainers.Container) string {
	t.Helper()
	logs, err := containerLogs(ctx, ctr)
	if err != nil {
		t.Fatal(err)
	}
	return logs
}

// checkNonRoot checks that the container's process runs as the image's
// non-root user: its real and effective uid, read from /proc on this host
// (the engine runs containers as host processes).
func checkNonRoot(t *testing.T, ctx context.Context, ctr testcontainers.Container, what string) {
	t.Helper()
	info, err := ctr.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State == nil || info.State.Pid == 0 {
		t.Fatalf("%s: the engine reports no process id (state %+v)", what, info.State)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", info.State.Pid))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if uids, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			fields := strings.Fields(uids) // real, effective, saved, filesystem
			if len(fields) < 2 || fields[0] != imageUID || fields[1] != imageUID {
				t.Fatalf("%s runs as uid %v, want the image's non-root user %s (image user %q)", what, fields, imageUID, info.Config.User)
			}
			t.Logf("%s: pid %d on the host runs as uid %s (image user %q)", what, info.State.Pid, fields[0], info.Config.User)
			return
		}
	}
	t.Fatalf("%s: no Uid line in /proc/%d/status", what, info.State.Pid)
}

// checkReadOnlyMount checks that the container has a read-only mount at
// target.
func checkReadOnlyMount(t *testing.T, ctx context.Context, ctr testcontainers.Container, target string) {
	t.Helper()
	info, err := ctr.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range info.Mounts {
		if m.Destination == target {
			if m.RW {
				t.Errorf("%s is mounted read-write from %s, want read-only", target, m.Source)
			}
			return
		}
	}
	t.Errorf("no mount at %s: %+v", target, info.Mounts)
}

func writeProps(t *testing.T, path string, props map[string]string) {
	t.Helper()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// --- the GCS emulator in a container -----------------------------------------

// containerLake reads a GCS emulator container over its JSON API on a
// loopback port.
type containerLake struct {
	base   string // http://127.0.0.1:PORT
	bucket string
	client *http.Client
}

// startGCSContainer runs the GCS emulator image on the network, its port
// published on 127.0.0.1, and returns the lake and the emulator's address on
// the network (IP:4443). Its external URL names it gcs:4443; the consumer's
// single-request uploads never follow it.
func startGCSContainer(t *testing.T, ctx context.Context, image, nw string) (*containerLake, string) {
	t.Helper()
	port := freePort(t)
	const bucket = "turnstile-lake"
	ctr := runImage(t, ctx, imageRun{
		name: "gcs", image: image, network: nw,
		args:    []string{"--buckets", bucket, "--external-url", "http://gcs:4443"},
		publish: "4443:" + strconv.Itoa(port),
		wait:    wait.ForLog("GCS emulator on").WithStartupTimeout(time.Minute),
	})
	info, err := ctr.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ep *network.EndpointSettings
	if info.NetworkSettings != nil {
		ep = info.NetworkSettings.Networks[nw]
	}
	if ep == nil || !ep.IPAddress.IsValid() {
		t.Fatalf("the engine reports no address of the GCS emulator on network %s", nw)
	}
	ip := ep.IPAddress.String()
	return &containerLake{base: "http://127.0.0.1:" + strconv.Itoa(port), bucket: bucket, client: &http.Client{Timeout: 30 * time.Second}},
		net.JoinHostPort(ip, "4443")
}

func (l *containerLake) Bucket() string { return l.bucket }

func (l *containerLake) Objects(bucket, prefix string) ([]string, error) {
	var names []string
	token := ""
	for {
		q := url.Values{"prefix": {prefix}}
		if token != "" {
			q.Set("pageToken", token)
		}
		resp, err := l.client.Get(l.base + "/storage/v1/b/" + url.PathEscape(bucket) + "/o?" + q.Encode())
		if err != nil {
			return nil, err
		}
		var page struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
			NextPageToken string `json:"nextPageToken"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("list gs://%s/%s: %s", bucket, prefix, resp.Status)
		}
		if err != nil {
			return nil, fmt.Errorf("list gs://%s/%s: %w", bucket, prefix, err)
		}
		for _, it := range page.Items {
			names = append(names, it.Name)
		}
		if token = page.NextPageToken; token == "" {
			return names, nil
		}
	}
}

func (l *containerLake) Object(bucket, name string) ([]byte, error) {
	resp, err := l.client.Get(l.base + "/download/storage/v1/b/" + url.PathEscape(bucket) + "/o/" + url.PathEscape(name) + "?alt=media")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read gs://%s/%s: %s", bucket, name, resp.Status)
	}
	return io.ReadAll(resp.Body)
}
