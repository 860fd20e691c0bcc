// Package composecheck tests docker/compose*.yaml without a Docker engine:
// compose-go loads each file the way `docker compose` does (schema
// validation, ${VAR} interpolation, profiles, multi-file merging) and the
// tests assert on the resolved project.
package composecheck

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

var dockerDir = filepath.Join("..", "..", "docker")

// load resolves a project from compose files in docker/ with exactly the
// given environment (the process environment is not consulted).
func load(t *testing.T, env map[string]string, profiles []string, files ...string) (*types.Project, error) {
	t.Helper()
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(dockerDir, f)
	}
	envList := make([]string, 0, len(env))
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(paths,
		cli.WithName("turnstile"),
		cli.WithWorkingDirectory(dockerDir),
		cli.WithEnv(envList),
		cli.WithProfiles(profiles),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatalf("project options: %v", err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoad(t *testing.T, env map[string]string, profiles []string, files ...string) *types.Project {
	t.Helper()
	p, err := load(t, env, profiles, files...)
	if err != nil {
		t.Fatalf("load %v: %v", files, err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("service %q not in the project (have %v)", name, p.ServiceNames())
	}
	return s
}

func hasArg(s types.ServiceConfig, arg string) bool { return slices.Contains([]string(s.Command), arg) }

func TestKafkaCompose(t *testing.T) {
	p := mustLoad(t, map[string]string{"KAFKA_ADVERTISED_HOST": "10.10.0.10", "KAFKA_PARTITIONS": "6"}, nil, "compose.kafka.yaml")
	k := service(t, p, "kafka")

	if !strings.HasPrefix(k.Image, "apache/kafka:") || strings.HasSuffix(k.Image, ":latest") || !strings.Contains(k.Image, ":4.") {
		t.Errorf("kafka image %q: want the official apache/kafka image at a pinned tag", k.Image)
	}
	if k.Restart != "unless-stopped" {
		t.Errorf("kafka restart = %q", k.Restart)
	}
	if k.HealthCheck == nil || !strings.Contains(strings.Join(k.HealthCheck.Test, " "), "kafka-broker-api-versions.sh") {
		t.Errorf("kafka healthcheck = %+v, want kafka-broker-api-versions.sh", k.HealthCheck)
	}
	if got := k.Environment["KAFKA_PROCESS_ROLES"]; got == nil || *got != "broker,controller" {
		t.Errorf("KAFKA_PROCESS_ROLES = %v, want KRaft broker,controller", got)
	}
	adv := k.Environment["KAFKA_ADVERTISED_LISTENERS"]
	if adv == nil || !strings.Contains(*adv, "VM://10.10.0.10:9092") || !strings.Contains(*adv, "LOCAL://localhost:29092") {
		t.Errorf("advertised listeners = %v, want a VM-network listener and a localhost one", adv)
	}
	var vmPort, localPort bool
	for _, pt := range k.Ports {
		switch pt.Target {
		case 9092:
			vmPort = pt.Published == "9092"
		case 29092:
			localPort = pt.HostIP == "127.0.0.1"
		}
	}
	if !vmPort || !localPort {
		t.Errorf("ports %+v: want 9092 for the VM network and 29092 on 127.0.0.1", k.Ports)
	}
	var dataVolume bool
	for _, v := range k.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source == "kafka-data" && v.Target == "/var/lib/kafka/data" {
			dataVolume = true
		}
	}
	if !dataVolume {
		t.Errorf("volumes %+v: want the named volume kafka-data at /var/lib/kafka/data", k.Volumes)
	}

	ti := service(t, p, "topic-init")
	for k, want := range map[string]string{"TOPIC": "mta-turnstile", "PARTITIONS": "6", "EMIT_TOPIC": "mta-turnstile-windows"} {
		if got := ti.Environment[k]; got == nil || *got != want {
			t.Errorf("topic-init %s = %v, want %s", k, got, want)
		}
	}
	// The script itself is run against a stub kafka-topics.sh in topic_init_test.go.
	// It creates missing topics and never grows a live one (docs/consumer.md,
	// "Growing the topic").
	if script := strings.Join(ti.Command, " "); !strings.Contains(script, "--create --if-not-exists") || strings.Contains(script, "--alter") {
		t.Errorf("topic-init command %q: want --create --if-not-exists and no --alter", script)
	}
	if dep, ok := ti.DependsOn["kafka"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("topic-init must wait for a healthy kafka: %+v", ti.DependsOn)
	}
}

// On the Kafka VM, KAFKA_DATA_DIR (a folder of the data disk) replaces the
// named volume with a bind mount.
func TestKafkaComposeDataDir(t *testing.T) {
	p := mustLoad(t, map[string]string{"KAFKA_ADVERTISED_HOST": "10.10.0.10", "KAFKA_DATA_DIR": "/mnt/disks/kafka-data/kafka"}, nil, "compose.kafka.yaml")
	k := service(t, p, "kafka")
	var bind bool
	for _, v := range k.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == "/mnt/disks/kafka-data/kafka" && v.Target == "/var/lib/kafka/data" {
			bind = true
		}
	}
	if !bind {
		t.Errorf("volumes %+v: want a bind mount of /mnt/disks/kafka-data/kafka at /var/lib/kafka/data", k.Volumes)
	}
}

func TestKafkaComposeRequiresAdvertisedHost(t *testing.T) {
	if _, err := load(t, map[string]string{}, nil, "compose.kafka.yaml"); err == nil || !strings.Contains(err.Error(), "KAFKA_ADVERTISED_HOST") {
		t.Fatalf("loading without KAFKA_ADVERTISED_HOST: err = %v, want a required-variable error", err)
	}
}

// vmEnv mirrors what Terraform writes to /opt/turnstile/vm.env plus the
// images.env that deploy-apps writes.
var vmEnv = map[string]string{
	"KAFKA_BOOTSTRAP":     "10.10.0.10:9092",
	"KAFKA_TOPIC":         "mta-turnstile",
	"LAKE_SINK":           "gs://demo-lake/turnstile",
	"CONSUMER_GROUP":      "turnstile-consumer",
	"WINDOW_DURATION":     "5",
	"WINDOW_SLIDE":        "5",
	"PRODUCER_TURNSTILES": "500",
	"PRODUCER_RATE":       "50",
	"PRODUCER_IMAGE":      "us-central1-docker.pkg.dev/p/turnstile/producer:abc123",
	"CONSUMER_IMAGE":      "us-central1-docker.pkg.dev/p/turnstile/consumer:abc123",
}

func TestAppsComposeConsumerProfile(t *testing.T) {
	p := mustLoad(t, vmEnv, []string{"consumer"}, "compose.apps.yaml")
	if _, ok := p.Services["producer"]; ok {
		t.Error("the consumer profile must not start the producer")
	}
	c := service(t, p, "consumer")
	if c.Image != vmEnv["CONSUMER_IMAGE"] {
		t.Errorf("consumer image %q", c.Image)
	}
	for _, arg := range []string{"--config=/config/client.properties", "--sink=gs://demo-lake/turnstile", "--group=turnstile-consumer", "--duration=5", "--slide=5", "--metrics-addr=:9090", "--log-format=json", "--emit-topic=mta-turnstile-windows", "--instance-id=turnstile-consumer-0"} {
		if !hasArg(c, arg) {
			t.Errorf("consumer command %v lacks %s", c.Command, arg)
		}
	}
	checkApp(t, p, c)

	// The dashboard comes with the consumer: it reads the emit topic.
	d := service(t, p, "dashboard")
	if d.Image != "turnstile-dashboard:local" {
		t.Errorf("dashboard image %q, want the DASHBOARD_IMAGE default turnstile-dashboard:local", d.Image)
	}
	for _, arg := range []string{"--config=/config/client.properties", "--topic=mta-turnstile-windows", "--addr=:8080", "--consumer-metrics=http://consumer:9090/metrics", "--log-format=json"} {
		if !hasArg(d, arg) {
			t.Errorf("dashboard command %v lacks %s", d.Command, arg)
		}
	}
	if len(d.Ports) != 1 || d.Ports[0].HostIP != "127.0.0.1" || d.Ports[0].Published != "8080" || d.Ports[0].Target != 8080 {
		t.Errorf("dashboard ports %+v, want 127.0.0.1:8080:8080 by default", d.Ports)
	}
	checkApp(t, p, d)
}

// TestAppsComposeEnvContract checks the variables the VM startup script sets
// (docs: HELPERS contract between the containers and infra streams).
func TestAppsComposeEnvContract(t *testing.T) {
	env := map[string]string{}
	for k, v := range vmEnv {
		env[k] = v
	}
	env["EMIT_TOPIC"] = "windows-x"
	env["CONSUMER_INSTANCE_ID"] = "turnstile-consumer-vm"
	env["DASHBOARD_BIND"] = "10.10.0.20"
	env["DASHBOARD_PORT"] = "8081"
	env["DASHBOARD_IMAGE"] = "us-central1-docker.pkg.dev/p/turnstile/dashboard:abc123"
	p := mustLoad(t, env, []string{"consumer"}, "compose.apps.yaml")
	c := service(t, p, "consumer")
	if !hasArg(c, "--emit-topic=windows-x") {
		t.Errorf("consumer command %v: want --emit-topic from EMIT_TOPIC", c.Command)
	}
	if !hasArg(c, "--instance-id=turnstile-consumer-vm") {
		t.Errorf("consumer command %v: want --instance-id from CONSUMER_INSTANCE_ID", c.Command)
	}
	d := service(t, p, "dashboard")
	if !hasArg(d, "--topic=windows-x") {
		t.Errorf("dashboard command %v: want --topic from EMIT_TOPIC", d.Command)
	}
	if d.Image != env["DASHBOARD_IMAGE"] {
		t.Errorf("dashboard image %q, want DASHBOARD_IMAGE", d.Image)
	}
	if len(d.Ports) != 1 || d.Ports[0].HostIP != "10.10.0.20" || d.Ports[0].Published != "8081" || d.Ports[0].Target != 8080 {
		t.Errorf("dashboard ports %+v, want DASHBOARD_BIND:DASHBOARD_PORT:8080", d.Ports)
	}
}

// TestAppsComposeNoHealthCheck: distroless has no shell, so the apps carry
// no health check on the VMs (deploy-apps polls /readyz); it is test NONE
// rather than disable: true so that docker/compose.podman.yaml can set one
// (docker-compose 1.x rejects disable: true merged with a test).
func TestAppsComposeNoHealthCheck(t *testing.T) {
	p := mustLoad(t, vmEnv, []string{"producer", "consumer"}, "compose.apps.yaml")
	for _, name := range []string{"producer", "consumer", "dashboard"} {
		hc := service(t, p, name).HealthCheck
		if hc == nil || len(hc.Test) != 1 || hc.Test[0] != "NONE" {
			t.Errorf("%s healthcheck %+v, want test NONE", name, hc)
		}
	}
}

func TestAppsComposeProducerProfile(t *testing.T) {
	p := mustLoad(t, vmEnv, []string{"producer"}, "compose.apps.yaml")
	for _, name := range []string{"consumer", "dashboard"} {
		if _, ok := p.Services[name]; ok {
			t.Errorf("the producer profile must not start the %s", name)
		}
	}
	pr := service(t, p, "producer")
	for _, arg := range []string{"--config=/config/client.properties", "--synthetic", "--turnstiles=500", "--rate=50", "--topic=mta-turnstile"} {
		if !hasArg(pr, arg) {
			t.Errorf("producer command %v lacks %s", pr.Command, arg)
		}
	}
	checkApp(t, p, pr)
}

// checkApp asserts what both apps share: restart policy, non-root, the
// properties file from KAFKA_BOOTSTRAP mounted read-only at /config, and a
// metrics port published on loopback only.
func checkApp(t *testing.T, p *types.Project, s types.ServiceConfig) {
	t.Helper()
	if s.Restart != "unless-stopped" {
		t.Errorf("%s restart = %q", s.Name, s.Restart)
	}
	if s.User == "" || strings.HasPrefix(s.User, "0") || s.User == "root" {
		t.Errorf("%s user = %q, want non-root", s.Name, s.User)
	}
	var config bool
	for _, v := range s.Volumes {
		if v.Target == "/config" && v.ReadOnly {
			config = true
		}
	}
	if !config {
		t.Errorf("%s must mount /config read-only: %+v", s.Name, s.Volumes)
	}
	for _, pt := range s.Ports {
		if pt.HostIP != "127.0.0.1" {
			t.Errorf("%s publishes %+v beyond loopback", s.Name, pt)
		}
	}
	init := service(t, p, "client-config")
	if dep, ok := s.DependsOn["client-config"]; !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("%s must wait for client-config: %+v", s.Name, s.DependsOn)
	}
	if v := init.Environment["KAFKA_BOOTSTRAP"]; v == nil || *v != vmEnv["KAFKA_BOOTSTRAP"] {
		t.Errorf("client-config KAFKA_BOOTSTRAP = %v", v)
	}
}

func TestAppsComposeRequiresBootstrap(t *testing.T) {
	env := map[string]string{}
	for k, v := range vmEnv {
		if k != "KAFKA_BOOTSTRAP" {
			env[k] = v
		}
	}
	if _, err := load(t, env, []string{"consumer"}, "compose.apps.yaml"); err == nil || !strings.Contains(err.Error(), "KAFKA_BOOTSTRAP") {
		t.Fatalf("loading without KAFKA_BOOTSTRAP: err = %v, want a required-variable error", err)
	}
}

// localEnv reads docker/local.env.
func localEnv(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	data, err := os.ReadFile(filepath.Join(dockerDir, "local.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("local.env: bad line %q", line)
		}
		env[k] = v
	}
	return env
}

// TestLocalStack loads what `make run-docker` runs: three files merged, both
// profiles, docker/local.env.
func TestLocalStack(t *testing.T) {
	env := localEnv(t)
	p := mustLoad(t, env, []string{"producer", "consumer"}, "compose.kafka.yaml", "compose.apps.yaml", "compose.local.yaml")
	for _, name := range []string{"kafka", "topic-init", "client-config", "producer", "consumer", "dashboard"} {
		service(t, p, name)
	}
	c := service(t, p, "consumer")
	if c.Build == nil || !strings.HasSuffix(c.Build.Dockerfile, "consumer.Dockerfile") {
		t.Errorf("local consumer must be built from docker/consumer.Dockerfile: %+v", c.Build)
	}
	if dep, ok := c.DependsOn["topic-init"]; !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("local consumer must wait for the topic: %+v", c.DependsOn)
	}
	if !hasArg(c, "--sink=file:///lake/turnstile") {
		t.Errorf("local consumer command %v: want the file sink from local.env", c.Command)
	}
	var lake bool
	for _, v := range c.Volumes {
		lake = lake || (v.Type == types.VolumeTypeBind && v.Target == "/lake" && strings.HasSuffix(v.Source, filepath.Join("lake", "docker")))
	}
	if !lake {
		t.Errorf("local consumer volumes %+v: want LAKE_DIR (default lake/docker) bind-mounted at /lake", c.Volumes)
	}
	for _, name := range []string{"producer", "dashboard"} {
		s := service(t, p, name)
		if s.Build == nil || !strings.HasSuffix(s.Build.Dockerfile, name+".Dockerfile") {
			t.Errorf("local %s must be built from docker/%s.Dockerfile: %+v", name, name, s.Build)
		}
		if dep, ok := s.DependsOn["topic-init"]; !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("local %s must wait for the topic: %+v", name, s.DependsOn)
		}
	}
	ports := map[string]bool{}
	for _, name := range []string{"producer", "consumer", "dashboard"} {
		for _, pt := range service(t, p, name).Ports {
			if ports[pt.Published] {
				t.Errorf("host port %s is published twice", pt.Published)
			}
			ports[pt.Published] = true
		}
	}
	k := service(t, p, "kafka")
	for _, pt := range k.Ports {
		if pt.HostIP != "127.0.0.1" {
			t.Errorf("local kafka publishes %+v beyond loopback", pt)
		}
	}
}

// TestPodmanStack loads what `make run-docker` and `make compose-check` run
// on a machine without an image registry: compose.podman.yaml last. Every
// image is one that `make images` builds, every long-running service has a
// health check, and the broker creates both topics.
func TestPodmanStack(t *testing.T) {
	env := localEnv(t)
	env["KAFKA_PARTITIONS"] = "5"
	p := mustLoad(t, env, []string{"producer", "consumer"}, "compose.kafka.yaml", "compose.apps.yaml", "compose.local.yaml", "compose.podman.yaml")
	k := service(t, p, "kafka")
	if k.Image != "turnstile-kafka-local:local" || len(k.Entrypoint) != 1 || k.Entrypoint[0] != "/usr/local/bin/kafka-local" {
		t.Errorf("kafka image %q entrypoint %v, want the broker image turnstile-kafka-local:local", k.Image, k.Entrypoint)
	}
	for _, arg := range []string{"--host=0.0.0.0", "--port=19092", "--advertise=kafka", "--topics=mta-turnstile,mta-turnstile-windows", "--partitions=5"} {
		if !hasArg(k, arg) {
			t.Errorf("kafka command %v lacks %s", k.Command, arg)
		}
	}
	ti := service(t, p, "topic-init")
	if ti.Image != k.Image || !hasArg(ti, "--probe=kafka:19092") || !hasArg(ti, "--topics=mta-turnstile,mta-turnstile-windows") {
		t.Errorf("topic-init %q %v: want the broker image probing kafka:19092 for both topics", ti.Image, ti.Command)
	}
	if dep, ok := ti.DependsOn["kafka"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("topic-init must still wait for a healthy kafka: %+v", ti.DependsOn)
	}
	cc := service(t, p, "client-config")
	if !strings.Contains(cc.Image, "turnstile-runtime") || cc.User != "0:0" {
		t.Errorf("client-config image %q user %q: want the local runtime image as root", cc.Image, cc.User)
	}
	for _, name := range []string{"kafka", "producer", "consumer", "dashboard"} {
		hc := service(t, p, name).HealthCheck
		if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" || hc.Disable {
			t.Errorf("%s healthcheck %+v: want a CMD test", name, hc)
			continue
		}
		want := "/readyz"
		if name == "kafka" {
			want = "--probe=127.0.0.1:19092"
		}
		if !strings.Contains(strings.Join(hc.Test, " "), want) {
			t.Errorf("%s healthcheck %v lacks %s", name, hc.Test, want)
		}
	}
	images := map[string]bool{}
	for _, s := range p.Services {
		images[s.Image] = true
	}
	for img := range images {
		if !strings.HasPrefix(img, "turnstile-") && !strings.HasPrefix(img, "localhost/turnstile-") {
			t.Errorf("image %q is not built by make images / scripts/podman-setup.sh", img)
		}
	}
}
