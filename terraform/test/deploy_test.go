//go:build tftest

package test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// stubDeployVM stands in for scripts/deploy-vm.sh: it appends "CMD VM" to
// $STUB_LOG and fails the first time "CMD VM" is one of the space-separated
// comma-joined entries of $STUB_FAIL (e.g. "health,c1"); a rolled-back VM
// is healthy again.
const stubDeployVM = `#!/bin/bash
seen=$(grep -cx "$1 $2" "$STUB_LOG" 2>/dev/null)
echo "$1 $2" >>"$STUB_LOG"
for f in $STUB_FAIL; do
  if [ "${f/,/ }" = "$1 $2" ] && [ "${seen:-0}" -eq 0 ]; then
    echo "stub: $1 $2 fails" >&2
    exit 1
  fi
done
exit 0
`

// rollingDeploy runs .github/scripts/rolling-deploy.sh against the stub
// with three consumer VMs (c0 c1 c2) and the producer p, and returns its
// output and the calls the stub saw.
func rollingDeploy(t *testing.T, fail string) (string, []string, error) {
	t.Helper()
	dir := t.TempDir()
	stub := filepath.Join(dir, "deploy-vm.sh")
	if err := os.WriteFile(stub, []byte(stubDeployVM), 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "calls")
	images := filepath.Join(dir, "images.env")
	if err := os.WriteFile(images, []byte("CONSUMER_IMAGE=r/consumer:bbb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), ".github", "scripts", "rolling-deploy.sh"), "compose.apps.yaml", images)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "DEPLOY_VM=" + stub, "STUB_LOG=" + logFile, "STUB_FAIL=" + fail,
		"CONSUMER_VM_NAMES=c0 c1 c2", "PRODUCER_VM_NAME=p", "HEALTH_TIMEOUT=5", "LAG_WINDOW=1"}
	out, err := cmd.CombinedOutput()
	data, _ := os.ReadFile(logFile)
	return string(out), strings.Split(strings.TrimSpace(string(data)), "\n"), err
}

// The rollout goes one VM at a time, each checked before the next; a
// failure rolls back every VM it touched, newest first, and fails the run.
func TestRollingDeploy(t *testing.T) {
	tests := []struct {
		name, fail string
		wantOK     bool
		want       []string
		wantOut    string
	}{
		{
			name:   "every VM healthy",
			wantOK: true,
			want: []string{
				"deploy c0", "health c0", "lag c0",
				"deploy c1", "health c1", "lag c1",
				"deploy c2", "health c2", "lag c2",
				"deploy p", "health p",
			},
			wantOut: "deployed to every VM",
		},
		{
			// The second VM fails its health check: it and the first are
			// rolled back (newest first), the rest are never touched.
			name: "the second consumer VM is not healthy",
			fail: "health,c1",
			want: []string{
				"deploy c0", "health c0", "lag c0",
				"deploy c1", "health c1",
				"rollback c1", "health c1", "rollback c0", "health c0",
			},
			wantOut: "c1 is not healthy after the deploy; rolling back c0 c1",
		},
		{
			name: "the second consumer VM's lag does not fall",
			fail: "lag,c1",
			want: []string{
				"deploy c0", "health c0", "lag c0",
				"deploy c1", "health c1", "lag c1",
				"rollback c1", "health c1", "rollback c0", "health c0",
			},
			wantOut: "c1's consumer lag is not falling",
		},
		{
			name: "the deploy to the first VM fails",
			fail: "deploy,c0",
			want: []string{"deploy c0", "rollback c0", "health c0"},
		},
		{
			name: "the producer fails: every VM goes back",
			fail: "health,p",
			want: []string{
				"deploy c0", "health c0", "lag c0",
				"deploy c1", "health c1", "lag c1",
				"deploy c2", "health c2", "lag c2",
				"deploy p", "health p",
				"rollback p", "health p", "rollback c2", "health c2", "rollback c1", "health c1", "rollback c0", "health c0",
			},
			wantOut: "rolled back: c0 c1 c2 p",
		},
		{
			// A rollback that fails is reported, and the others still run.
			name: "a rollback fails too",
			fail: "health,c1 rollback,c1",
			want: []string{
				"deploy c0", "health c0", "lag c0",
				"deploy c1", "health c1",
				"rollback c1", "rollback c0", "health c0",
			},
			wantOut: "not rolled back cleanly: c1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, calls, err := rollingDeploy(t, tc.fail)
			if (err == nil) != tc.wantOK {
				t.Fatalf("err = %v, want ok %v\n%s", err, tc.wantOK, out)
			}
			if strings.Join(calls, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("calls:\n  %s\nwant:\n  %s\noutput:\n%s", strings.Join(calls, "\n  "), strings.Join(tc.want, "\n  "), out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
}

// deploy-apps runs the rollout through rolling-deploy.sh, not a loop of its
// own that checks health only at the end.
func TestDeployAppsUsesTheRollingDeploy(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "workflows", "deploy-apps.yml"))
	if err != nil {
		t.Fatal(err)
	}
	wf := string(data)
	if !strings.Contains(wf, "bash .github/scripts/rolling-deploy.sh target/docker/compose.apps.yaml images.env") {
		t.Error("deploy-apps.yml does not run .github/scripts/rolling-deploy.sh")
	}
	if strings.Contains(wf, "scripts/deploy-vm.sh deploy") {
		t.Error("deploy-apps.yml still deploys VMs outside the rolling deploy")
	}
}

// appVM prepares an app dir for a consumer VM with a stub docker and curl
// and returns a function that runs terraform/templates/turnstile-up.sh.
// curl answers /readyz with exit $STUB_READYZ_RC, and /metrics with the
// lines of $STUB_METRICS_DIR/N (N counts the scrapes).
func appVM(t *testing.T) (app string, run func(env map[string]string, args ...string) (string, error)) {
	t.Helper()
	dir := t.TempDir()
	app = filepath.Join(dir, "app")
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{filepath.Join(app, "seed"), filepath.Join(app, "current"), bin} {
		must(t, os.MkdirAll(d, 0o755))
	}
	curl := `#!/bin/bash
case "$*" in
*/readyz*) exit "${STUB_READYZ_RC:-0}" ;;
*/metrics*)
  n=$(( $(cat "$STUB_METRICS_DIR/count" 2>/dev/null || echo 0) + 1 ))
  echo "$n" >"$STUB_METRICS_DIR/count"
  cat "$STUB_METRICS_DIR/$n"
  ;;
esac
`
	files := map[string]string{
		filepath.Join(app, "role.env"):                  "ROLE=consumer\nCOMPOSE_FILE=compose.apps.yaml\nCOMPOSE_PROFILE=consumer\nREGISTRY_HOST=\n",
		filepath.Join(app, "vm.env"):                    "KAFKA_BOOTSTRAP=10.10.0.10:9092\n",
		filepath.Join(app, "seed", "compose.apps.yaml"): "seed\n",
		filepath.Join(bin, "docker"):                    stubDocker,
		filepath.Join(bin, "curl"):                      curl,
	}
	for name, body := range files {
		must(t, os.WriteFile(name, []byte(body), 0o755))
	}
	script := filepath.Join(repoRoot(t), "terraform", "templates", "turnstile-up.sh")
	run = func(env map[string]string, args ...string) (string, error) {
		cmd := exec.Command("bash", append([]string{script}, args...)...)
		cmd.Env = []string{
			"PATH=" + bin + ":/usr/bin:/bin",
			"TURNSTILE_APP_DIR=" + app,
			"TURNSTILE_LOCK_FILE=" + filepath.Join(dir, "lock"),
			"STUB_LOG=" + filepath.Join(dir, "docker.log"),
			"STUB_METRICS_DIR=" + dir,
		}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	return app, run
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// A rollback puts back the compose file and the images of the release
// before, even after the same deploy ran twice; with no release before, it
// stops the apps.
func TestTurnstileUpRollback(t *testing.T) {
	app, run := appVM(t)
	src := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(src, name)
		must(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	composeA, imagesA := write("a.yaml", "compose A\n"), write("a.env", "CONSUMER_IMAGE=r/consumer:aaa\n")
	composeB, imagesB := write("b.yaml", "compose B\n"), write("b.env", "CONSUMER_IMAGE=r/consumer:bbb\n")
	current := filepath.Join(app, "current", "compose.apps.yaml")

	// A first deploy that fails is rolled back to nothing deployed.
	if out, err := run(nil, "deploy", composeA, imagesA); err != nil {
		t.Fatalf("deploy A: %v\n%s", err, out)
	}
	out, err := run(nil, "rollback")
	if err != nil || !strings.Contains(out, "no previous deployment on this VM: stopping the apps") {
		t.Fatalf("rollback of a first deploy: err = %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(app, "images.env")); !os.IsNotExist(err) {
		t.Errorf("images.env still there after rolling back a first deploy (%v)", err)
	}
	if !strings.Contains(readFile(t, filepath.Join(filepath.Dir(app), "docker.log")), " down --remove-orphans") {
		t.Error("rolling back a first deploy did not stop the apps (docker compose down)")
	}
	// The rolling deploy checks a rolled-back VM: one that runs nothing passes.
	if out, err := run(nil, "health", "0"); err != nil || !strings.Contains(out, "no app deployed on this VM") {
		t.Errorf("health after rolling back a first deploy: err = %v\n%s", err, out)
	}

	for _, step := range [][]string{{composeA, imagesA}, {composeB, imagesB}, {composeB, imagesB}} {
		if out, err := run(nil, "deploy", step[0], step[1]); err != nil {
			t.Fatalf("deploy %v: %v\n%s", step, err, out)
		}
	}
	// A rollback of another release (this VM's deploy of it failed before
	// it changed anything) leaves the VM alone.
	if out, err := run(nil, "rollback", strings.Repeat("0", 64)); err != nil || !strings.Contains(out, "does not run the release being rolled back") {
		t.Fatalf("rollback of another release: err = %v\n%s", err, out)
	}
	if got := readFile(t, filepath.Join(app, "images.env")); got != "CONSUMER_IMAGE=r/consumer:bbb\n" {
		t.Fatalf("a rollback of another release changed images.env to %q", got)
	}
	sum := sha256.Sum256([]byte("CONSUMER_IMAGE=r/consumer:bbb\n"))
	if out, err := run(nil, "rollback", hex.EncodeToString(sum[:])); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	if got := readFile(t, filepath.Join(app, "images.env")); got != "CONSUMER_IMAGE=r/consumer:aaa\n" {
		t.Errorf("images.env after the rollback = %q, want release A's", got)
	}
	if got := readFile(t, current); got != "compose A\n" {
		t.Errorf("compose file after the rollback = %q, want release A's", got)
	}
}

// lag: passes when the consumer's total lag falls or is small, fails when it
// stays high or grows.
func TestTurnstileUpLag(t *testing.T) {
	series := func(a, b int) string {
		return "# TYPE turnstile_consumer_lag gauge\n" +
			"turnstile_consumer_lag{partition=\"0\",topic=\"t\"} " + strconv.Itoa(a) + "\n" +
			"turnstile_consumer_lag{partition=\"1\",topic=\"t\"} " + strconv.Itoa(b) + "\n" +
			"turnstile_consumer_lag_other 99999\n"
	}
	for _, tc := range []struct {
		name          string
		before, after string
		wantOK        bool
		wantOut       string
	}{
		{name: "falling", before: series(50000, 50000), after: series(20000, 10000), wantOK: true, wantOut: "100000 -> 30000"},
		{name: "caught up", before: series(10, 0), after: series(20, 5), wantOK: true, wantOut: "falling or caught up"},
		{name: "growing", before: series(5000, 5000), after: series(6000, 5000), wantOut: "10000 -> 11000 records over 0s: not falling"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, run := appVM(t)
			dir := filepath.Dir(app)
			must(t, os.WriteFile(filepath.Join(dir, "1"), []byte(tc.before), 0o644))
			must(t, os.WriteFile(filepath.Join(dir, "2"), []byte(tc.after), 0o644))
			out, err := run(nil, "lag", "0")
			if (err == nil) != tc.wantOK {
				t.Fatalf("lag: err = %v, want ok %v\n%s", err, tc.wantOK, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("lag output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
}

// probe: nothing before the first deploy (no images.env), then one line per
// run: ready or not-ready, the line the not_ready log metric counts.
func TestTurnstileUpProbe(t *testing.T) {
	app, run := appVM(t)
	log := filepath.Join(filepath.Dir(app), "probe", "readyz.log")
	env := map[string]string{"TURNSTILE_PROBE_LOG": log, "STUB_READYZ_RC": "7"}
	if out, err := run(env, "probe"); err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	if _, err := os.Stat(log); !os.IsNotExist(err) {
		t.Fatalf("the probe wrote %s before any deploy (%v)", log, err)
	}
	must(t, os.WriteFile(filepath.Join(app, "images.env"), []byte("CONSUMER_IMAGE=r/consumer:aaa\n"), 0o644))
	if out, err := run(env, "probe"); err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	env["STUB_READYZ_RC"] = "0"
	if out, err := run(env, "probe"); err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, log)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], " turnstile-readyz not-ready vm=") || !strings.Contains(lines[1], " turnstile-readyz ready vm=") {
		t.Errorf("probe log:\n%s\nwant a not-ready line, then a ready line", strings.Join(lines, "\n"))
	}
}

// opsAgentStubs: the Ops Agent's download fails, as it does when
// dl.google.com or the package mirror is unreachable at first boot.
var opsAgentStubs = map[string]string{
	"dpkg":      `exit 1`,
	"curl":      `echo "curl: (6) Could not resolve host: dl.google.com" >&2; exit 6`,
	"systemctl": `echo "systemctl $*" >>"$STATE/calls"`,
	"sleep":     `exit 0`,
}

// A failed Ops Agent install is logged (the line the log-based metric
// counts), counted on the VM, and does not stop the startup script: the
// steps after it (write_files, turnstile-up up, the ready marker) run.
func testOpsAgentFailure(t *testing.T, script string) {
	var fns []string
	for _, name := range []string{"retry", "install_ops_agent", "ops_agent"} {
		fn := regexp.MustCompile(`(?ms)^` + name + `\(\) \{\n.*?^\}\n`).FindString(script)
		if fn == "" {
			t.Fatalf("no %s function in the startup script", name)
		}
		fns = append(fns, fn)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	for name, body := range opsAgentStubs {
		must(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755))
	}
	// The order of the script's main part, with the later steps as markers.
	body := "set -euo pipefail\nlog() { echo \"log: $*\"; }\nROLE=consumer METRICS_PORT=9090 OPS_AGENT_VERSION='2.*.*' VM_NAME=vm PROBE_LOG=/tmp/x\n" +
		strings.Join(fns, "") + "ops_agent\necho after-ops-agent\n"
	driver := filepath.Join(dir, "run.sh")
	must(t, os.WriteFile(driver, []byte(body), 0o644))
	state := t.TempDir()
	for i := 1; i <= 2; i++ {
		cmd := exec.Command("bash", driver)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "STATE=" + state, "TURNSTILE_STATE_DIR=" + state}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: the startup script stopped at the failed Ops Agent install: %v\n%s", i, err, out)
		}
		for _, want := range []string{"log: turnstile-ops-agent-install-failed", "failure " + strconv.Itoa(i) + " on this VM", "after-ops-agent"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("run %d: output lacks %q:\n%s", i, want, out)
			}
		}
	}
	if got := strings.TrimSpace(readFile(t, filepath.Join(state, "ops-agent-install-failures"))); got != "2" {
		t.Errorf("failure counter = %q after two failed boots, want 2", got)
	}
}

// The Kafka VM's image (var.kafka_image, through the remote repository) is
// the one CI's e2e job tests: the KAFKA_IMAGE default of compose.kafka.yaml.
func TestKafkaImageMatchesCompose(t *testing.T) {
	vars := readFile(t, filepath.Join(repoRoot(t), "terraform", "variables.tf"))
	m := regexp.MustCompile(`(?s)variable "kafka_image" \{.*?default\s*=\s*"([^"]+)"`).FindStringSubmatch(vars)
	if m == nil {
		t.Fatal("no default for variable kafka_image in terraform/variables.tf")
	}
	compose := readFile(t, filepath.Join(repoRoot(t), "docker", "compose.kafka.yaml"))
	for _, c := range regexp.MustCompile(`\$\{KAFKA_IMAGE:-([^}]+)\}`).FindAllStringSubmatch(compose, -1) {
		if c[1] != m[1] {
			t.Errorf("compose.kafka.yaml defaults KAFKA_IMAGE to %s, terraform's kafka_image is %s: keep them equal", c[1], m[1])
		}
	}
}

// A first apply: an app VM boots before any image exists. `up` starts and
// pulls nothing, and succeeds, so the startup script writes its ready marker.
func TestTurnstileUpAppVMBeforeFirstDeploy(t *testing.T) {
	app, run := appVM(t)
	out, err := run(nil, "up")
	if err != nil || !strings.Contains(out, "no app images deployed to this VM yet") {
		t.Fatalf("up before the first deploy: err = %v\n%s", err, out)
	}
	if data, _ := os.ReadFile(filepath.Join(filepath.Dir(app), "docker.log")); strings.Contains(string(data), "pull") || strings.Contains(string(data), " up ") {
		t.Errorf("up before the first deploy ran docker:\n%s", data)
	}
}

// An app VM of an external cluster with SASL: `up` reads the password's
// Secret Manager version as the VM's service account (the token on curl's
// stdin, not its command line) and hands it to `docker compose up` in the
// environment only: it is not written to vm.env, not printed, and a secret
// that cannot be read fails `up` with a message that names the grant.
func TestTurnstileUpReadsTheKafkaPasswordFromSecretManager(t *testing.T) {
	app, run := appVM(t)
	dir := filepath.Dir(app)
	const secret = "projects/demo-project-123/secrets/kafka-pw/versions/latest"
	const password = "s3cret-Pa55"
	must(t, os.WriteFile(filepath.Join(app, "vm.env"), []byte("KAFKA_BOOTSTRAP=b1.example.com:9092\nKAFKA_SASL_PASSWORD_SECRET="+secret+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(app, "images.env"), []byte("CONSUMER_IMAGE=r/consumer:aaa\n"), 0o644))
	// curl: the metadata server's token, and Secret Manager's answer to
	// .../versions/latest:access when the bearer token arrives on stdin.
	curl := `#!/bin/bash
echo "curl $*" >>"$STUB_CURL_LOG"
case "$*" in
*computeMetadata*/token*) echo '{"access_token": "tok-123", "expires_in": 3599}' ;;
*"/v1/` + secret + `:access"*)
  [ -n "$STUB_SECRET_FAIL" ] && { echo "curl: (22) The requested URL returned error: 403" >&2; exit 22; }
  grep -qx 'Authorization: Bearer tok-123' || { echo "no token on stdin" >&2; exit 22; }
  printf '{"name": "x", "payload": {"data": "%s"}}\n' "$(printf '%s\n' '` + password + `' | base64)"
  ;;
*) exit 7 ;;
esac
`
	must(t, os.WriteFile(filepath.Join(dir, "bin", "curl"), []byte(curl), 0o755))
	// docker records the password it sees in its environment at `compose up`.
	docker := `#!/bin/bash
echo "docker $*" >>"$STUB_LOG"
case " $* " in *" up "*) echo "up with KAFKA_SASL_PASSWORD=${KAFKA_SASL_PASSWORD-unset}" >>"$STUB_LOG" ;; esac
exit 0
`
	must(t, os.WriteFile(filepath.Join(dir, "bin", "docker"), []byte(docker), 0o755))
	env := map[string]string{"STUB_CURL_LOG": filepath.Join(dir, "curl.log"), "TURNSTILE_SECRETMANAGER_URL": "https://secretmanager.test"}

	out, err := run(env, "up")
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	log := readFile(t, filepath.Join(dir, "docker.log"))
	if !strings.Contains(log, "up with KAFKA_SASL_PASSWORD="+password+"\n") {
		t.Errorf("docker compose up did not get the password (trailing newline dropped) in its environment:\n%s", log)
	}
	if strings.Contains(out, password) {
		t.Errorf("up printed the password:\n%s", out)
	}
	if !strings.Contains(out, "read the Kafka password from "+secret) {
		t.Errorf("up does not say where the password came from:\n%s", out)
	}
	if vmEnv := readFile(t, filepath.Join(app, "vm.env")); strings.Contains(vmEnv, password) {
		t.Errorf("the password landed in vm.env:\n%s", vmEnv)
	}
	if calls := readFile(t, filepath.Join(dir, "curl.log")); strings.Contains(calls, "tok-123") {
		t.Errorf("the access token was on curl's command line:\n%s", calls)
	}

	env["STUB_SECRET_FAIL"] = "1"
	out, err = run(env, "up")
	if err == nil || !strings.Contains(out, "cannot read the Kafka password from Secret Manager ("+secret+")") || !strings.Contains(out, "roles/secretmanager.secretAccessor") {
		t.Errorf("up with an unreadable secret: err = %v, want a failure naming the secret and the role\n%s", err, out)
	}
}
