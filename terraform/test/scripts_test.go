//go:build tftest

package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stubDocker stands in for docker on a Kafka VM: the broker container is
// healthy, topic-init's container state is $STUB_INIT_STATE, and describing
// a topic exits $STUB_DESCRIBE_RC. `up` and `pull` append to $STUB_LOG.
const stubDocker = `#!/bin/bash
echo "docker $*" >>"$STUB_LOG"
args=" $* "
case "$args" in
*" inspect --format {{.State.Health.Status}} kafka-id "*) echo healthy ;;
*" inspect --format {{.State.Status}} {{.State.ExitCode}} init-id "*) echo "$STUB_INIT_STATE" ;;
*" exec kafka-id "*"--describe"*) exit "${STUB_DESCRIBE_RC:-0}" ;;
*" compose "*" ps -q kafka "*) echo kafka-id ;;
*" compose "*" ps -a -q topic-init "*) [ -n "$STUB_INIT_STATE" ] && echo init-id ;;
*" compose "*" up "*) sleep "${STUB_UP_SECONDS:-0}" ;;
esac
exit 0
`

// turnstileUp prepares an app dir for role and returns a command running
// terraform/templates/turnstile-up.sh with a stub docker on PATH.
func turnstileUp(t *testing.T, role string, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{filepath.Join(app, "seed"), bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(app, "role.env"):                   "ROLE=" + role + "\nCOMPOSE_FILE=compose.kafka.yaml\nCOMPOSE_PROFILE=\nREGISTRY_HOST=\n",
		filepath.Join(app, "vm.env"):                     "KAFKA_TOPIC=mta-turnstile\nEMIT_TOPIC=mta-turnstile-windows\n",
		filepath.Join(app, "seed", "compose.kafka.yaml"): "services: {}\n",
		filepath.Join(bin, "docker"):                     stubDocker,
	}
	for name, body := range files {
		if err := os.WriteFile(name, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(repoRoot(t), "terraform", "templates", "turnstile-up.sh")
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Env = []string{
		"PATH=" + bin + ":/usr/bin:/bin",
		"TURNSTILE_APP_DIR=" + app,
		"TURNSTILE_LOCK_FILE=" + filepath.Join(dir, "lock"),
		"STUB_LOG=" + filepath.Join(dir, "docker.log"),
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// The Kafka deploy's health check: healthy only when topic-init exited 0
// and the topics can be described; a failed topic-init fails it at once.
func TestTurnstileUpKafkaHealth(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Fatal("flock (util-linux) is needed")
	}
	tests := []struct {
		name, initState, describeRC, timeout string
		wantOK                               bool
		wantOut                              string
	}{
		{name: "topic-init exited 0, topics exist", initState: "exited 0", describeRC: "0", timeout: "0", wantOK: true, wantOut: "kafka is healthy"},
		// No wait can fix a failed topic-init: fail at once despite 10 minutes left.
		{name: "topic-init failed", initState: "exited 1", describeRC: "0", timeout: "600", wantOut: "topic-init failed (exited 1)"},
		{name: "topic missing", initState: "exited 0", describeRC: "1", timeout: "0", wantOut: "kafka not healthy"},
		{name: "topic-init never ran", initState: "", describeRC: "0", timeout: "0", wantOut: "kafka not healthy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := turnstileUp(t, "kafka", map[string]string{"STUB_INIT_STATE": tc.initState, "STUB_DESCRIBE_RC": tc.describeRC}, "health", tc.timeout)
			start := time.Now()
			// A health check that waits out its timeout is killed after 20 s.
			timer := time.AfterFunc(20*time.Second, func() {
				if cmd.Process != nil {
					_ = cmd.Process.Kill()
				}
			})
			defer timer.Stop()
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.wantOK {
				t.Fatalf("health: err = %v, want ok %v\n%s", err, tc.wantOK, out)
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("health output lacks %q:\n%s", tc.wantOut, out)
			}
			if d := time.Since(start); d >= 20*time.Second {
				t.Errorf("health took %v; it must answer at once here", d)
			}
		})
	}
}

// Two turnstile-up runs never overlap: while one holds the lock, the second
// waits, and gives up after TURNSTILE_LOCK_TIMEOUT.
func TestTurnstileUpLock(t *testing.T) {
	first := turnstileUp(t, "kafka", map[string]string{"STUB_UP_SECONDS": "3"}, "up")
	// The second run shares the first one's app dir and lock file.
	second := exec.Command(first.Args[0], first.Args[1:]...)
	second.Env = append(append([]string{}, first.Env...), "TURNSTILE_LOCK_TIMEOUT=1")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1 * time.Second) // the first is inside `up` (the stub sleeps 3 s)
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "waiting for another turnstile-up") || !strings.Contains(string(out), "could not get") {
		t.Errorf("second turnstile-up while the first held the lock: err = %v, want a timeout on the lock\n%s", err, out)
	}
	if err := first.Wait(); err != nil {
		t.Errorf("first turnstile-up: %v", err)
	}
	// Once the lock is free, a run goes through.
	third := exec.Command(first.Args[0], first.Args[1:]...)
	third.Env = second.Env
	if out, err := third.CombinedOutput(); err != nil {
		t.Errorf("turnstile-up after the lock was released: %v\n%s", err, out)
	}
}

// wait-for-ci.sh passes only a commit that has a successful ci.yml run.
func TestWaitForCI(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name, runs string
		wantOK     bool
		wantOut    string
	}{
		{name: "a successful run", runs: "completed failure u1\ncompleted success u2\n", wantOK: true, wantOut: "CI passed on " + sha + ": u2"},
		{name: "only failures", runs: "completed failure u1\ncompleted cancelled u2\n", wantOut: "finished without success"},
		{name: "no run at all", runs: "", wantOut: "no CI run of " + sha},
		{name: "still running at the timeout", runs: "in_progress none u1\n", wantOut: "has not finished"},
	}
	script := filepath.Join(repoRoot(t), ".github", "scripts", "wait-for-ci.sh")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			runs := filepath.Join(dir, "runs")
			gh := "#!/bin/bash\n[[ \"$*\" == *\"actions/workflows/ci.yml/runs?head_sha=" + sha + "\"* ]] || exit 9\ncat \"$STUB_RUNS\"\n"
			if err := os.WriteFile(filepath.Join(dir, "gh"), []byte(gh), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(runs, []byte(tc.runs), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", script, sha)
			cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin", "STUB_RUNS=" + runs, "GITHUB_REPOSITORY=acme/turnstile",
				"CI_START_GRACE=0", "CI_WAIT_TIMEOUT=0", "CI_POLL_INTERVAL=1"}
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.wantOK {
				t.Fatalf("err = %v, want ok %v\n%s", err, tc.wantOK, out)
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
	if out, err := exec.Command("bash", script, "abc123").CombinedOutput(); err == nil {
		t.Errorf("a short SHA was accepted:\n%s", out)
	}
}

// On the Kafka VM (KAFKA_DATA_DIR in vm.env), `up` refuses a compose file
// that does not mount the data disk, instead of starting Kafka on an empty
// Docker volume.
func TestTurnstileUpRefusesComposeWithoutDataDir(t *testing.T) {
	for _, tc := range []struct {
		name, compose string
		wantOK        bool
	}{
		{name: "old compose file, named volume only", compose: "services:\n  kafka:\n    volumes: [kafka-data:/var/lib/kafka/data]\n"},
		{name: "compose file that mounts KAFKA_DATA_DIR", compose: "services:\n  kafka:\n    volumes: [\"${KAFKA_DATA_DIR:-kafka-data}:/var/lib/kafka/data\"]\n", wantOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := turnstileUp(t, "kafka", nil, "up")
			var app string
			for _, e := range cmd.Env {
				if v, ok := strings.CutPrefix(e, "TURNSTILE_APP_DIR="); ok {
					app = v
				}
			}
			vmEnv := "KAFKA_TOPIC=mta-turnstile\nKAFKA_DATA_DIR=/mnt/disks/kafka-data/kafka\n"
			if err := os.WriteFile(filepath.Join(app, "vm.env"), []byte(vmEnv), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(app, "seed", "compose.kafka.yaml"), []byte(tc.compose), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.wantOK {
				t.Fatalf("up: err = %v, want ok %v\n%s", err, tc.wantOK, out)
			}
			if !tc.wantOK && !strings.Contains(string(out), "does not mount KAFKA_DATA_DIR") {
				t.Errorf("up output lacks the reason:\n%s", out)
			}
		})
	}
}
