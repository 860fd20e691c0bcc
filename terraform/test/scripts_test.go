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

// waitForCI runs .github/scripts/wait-for-ci.sh SHA in dir (a git clone or
// not) with a stub gh that answers the runs listed in runs, one
// "STATUS CONCLUSION EVENT BRANCH HEAD_REPOSITORY URL" a line.
func waitForCI(t *testing.T, dir, sha, runs string, env ...string) (string, error) {
	t.Helper()
	stub := t.TempDir()
	runsFile := filepath.Join(stub, "runs")
	gh := "#!/bin/bash\n[[ \"$*\" == *\"actions/workflows/ci.yml/runs?head_sha=" + sha + "\"* ]] || exit 9\ncat \"$STUB_RUNS\"\n"
	if err := os.WriteFile(filepath.Join(stub, "gh"), []byte(gh), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(runsFile, []byte(runs), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), ".github", "scripts", "wait-for-ci.sh"), sha)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + stub + ":/usr/bin:/bin", "HOME=" + stub, "STUB_RUNS=" + runsFile, "GITHUB_REPOSITORY=acme/turnstile",
		"CI_START_GRACE=0", "CI_WAIT_TIMEOUT=0", "CI_POLL_INTERVAL=1"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// wait-for-ci.sh passes only a commit that has a successful push run of
// ci.yml on main or a deploy branch of this repository: pull_request runs
// (a fork's included) and runs on other branches never count.
func TestWaitForCI(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name, runs string
		wantOK     bool
		wantOut    string
	}{
		{name: "a successful push run on main", runs: "completed failure push main acme/turnstile u1\ncompleted success push main acme/turnstile u2\n", wantOK: true, wantOut: "CI passed on " + sha + ": u2"},
		{name: "a successful push run on deploy-apps", runs: "completed success push deploy-apps acme/turnstile u3\n", wantOK: true, wantOut: "CI passed on " + sha + ": u3"},
		{name: "only failures", runs: "completed failure push main acme/turnstile u1\ncompleted cancelled push main acme/turnstile u2\n", wantOut: "finished without success"},
		{name: "no run at all", runs: "", wantOut: "no push run of ci.yml"},
		{name: "still running at the timeout", runs: "in_progress none push main acme/turnstile u1\n", wantOut: "has not finished"},
		// The hole of issue 21: a pull_request run, from a fork or not, passes
		// CI on a commit nobody merged.
		{name: "only a pull_request run passed (a fork's)", runs: "completed success pull_request main evil/turnstile u4\n", wantOut: "no push run of ci.yml"},
		{name: "only a pull_request run passed (this repository's)", runs: "completed success pull_request feature acme/turnstile u5\n", wantOut: "no push run of ci.yml"},
		{name: "a push run on another branch", runs: "completed success push feature acme/turnstile u6\n", wantOut: "no push run of ci.yml"},
		{name: "a pull_request success does not hide a push failure", runs: "completed success pull_request main evil/turnstile u7\ncompleted failure push main acme/turnstile u8\n", wantOut: "finished without success"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := waitForCI(t, t.TempDir(), sha, tc.runs)
			if (err == nil) != tc.wantOK {
				t.Fatalf("err = %v, want ok %v\n%s", err, tc.wantOK, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
	if out, err := exec.Command("bash", filepath.Join(repoRoot(t), ".github", "scripts", "wait-for-ci.sh"), "abc123").CombinedOutput(); err == nil {
		t.Errorf("a short SHA was accepted:\n%s", out)
	}
}

// With DEPLOY_REF, a dispatched or rolled-back SHA must be on the deploy
// branch, whatever CI says about it. A scratch history: main -> deploy-apps
// (two commits), and a side branch whose commit passed CI too.
func TestWaitForCIAncestorOfTheDeployBranch(t *testing.T) {
	repo := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("commit", "-q", "--allow-empty", "-m", "one")
	old := git("rev-parse", "HEAD")
	git("checkout", "-q", "-b", "deploy-apps")
	git("commit", "-q", "--allow-empty", "-m", "two")
	tip := git("rev-parse", "HEAD")
	git("checkout", "-q", "-b", "side", old)
	git("commit", "-q", "--allow-empty", "-m", "side")
	side := git("rev-parse", "HEAD")
	git("checkout", "-q", "deploy-apps")

	passed := "completed success push main acme/turnstile u1\n"
	for _, tc := range []struct {
		name, sha string
		wantOK    bool
		wantOut   string
	}{
		{name: "the branch tip", sha: tip, wantOK: true, wantOut: "is on deploy-apps"},
		{name: "an older commit of the branch (a rollback)", sha: old, wantOK: true, wantOut: "CI passed on " + old},
		{name: "a commit of another branch", sha: side, wantOut: "is not an ancestor of deploy-apps"},
		{name: "a commit this repository does not have", sha: "fedcba9876543210fedcba9876543210fedcba98", wantOut: "is not a commit of this repository"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := waitForCI(t, repo, tc.sha, passed, "DEPLOY_REF=deploy-apps")
			if (err == nil) != tc.wantOK {
				t.Fatalf("err = %v, want ok %v\n%s", err, tc.wantOK, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
	if out, err := waitForCI(t, repo, tip, passed, "DEPLOY_REF=origin/nowhere"); err == nil || !strings.Contains(out, "is not in this clone") {
		t.Errorf("a missing DEPLOY_REF: err = %v\n%s", err, out)
	}
}

// The deploy workflows' gate: both check the deploy branch (DEPLOY_REF) from
// a full clone.
func TestDeployWorkflowsCheckTheBranch(t *testing.T) {
	for wf, ref := range map[string]string{"deploy-apps.yml": "origin/deploy-apps", "deploy-bitnami.yml": "origin/deploy-bitnami"} {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "workflows", wf))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"DEPLOY_REF: " + ref, "fetch-depth: 0", "bash .github/scripts/wait-for-ci.sh"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("%s lacks %q", wf, want)
			}
		}
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

// deploy-bitnami's first job: with kafka_backend managed or external there
// is no Kafka VM, and the run says so (a notice and the job summary) and
// deploys nothing; vm, or no KAFKA_BACKEND variable (a deployment from
// before it), deploys; anything else fails.
func TestKafkaBackendGate(t *testing.T) {
	script := filepath.Join(repoRoot(t), ".github", "scripts", "kafka-backend.sh")
	for _, tc := range []struct {
		backend    string
		wantDeploy string
		wantErr    bool
		wantOut    string
	}{
		{backend: "", wantDeploy: "deploy=true\n"},
		{backend: "vm", wantDeploy: "deploy=true\n"},
		{backend: "managed", wantDeploy: "deploy=false\n", wantOut: "::notice title=deploy-bitnami: nothing to deploy::Nothing to deploy: kafka_backend is managed."},
		{backend: "external", wantDeploy: "deploy=false\n", wantOut: "Nothing to deploy: kafka_backend is external."},
		{backend: "msk", wantErr: true, wantOut: "::error::repository variable KAFKA_BACKEND is 'msk'"},
	} {
		t.Run("backend="+tc.backend, func(t *testing.T) {
			dir := t.TempDir()
			output, summary := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
			cmd := exec.Command("bash", script)
			cmd.Env = []string{"PATH=/usr/bin:/bin", "KAFKA_BACKEND=" + tc.backend, "GITHUB_OUTPUT=" + output, "GITHUB_STEP_SUMMARY=" + summary}
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v\n%s", err, tc.wantErr, out)
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
			got, _ := os.ReadFile(output)
			if string(got) != tc.wantDeploy {
				t.Errorf("GITHUB_OUTPUT = %q, want %q", got, tc.wantDeploy)
			}
			if sum, _ := os.ReadFile(summary); tc.wantDeploy == "deploy=false\n" && !strings.Contains(string(sum), "Nothing to deploy") {
				t.Errorf("job summary = %q, want it to say there is nothing to deploy", sum)
			}
		})
	}
	// The workflow runs the gate first, and deploys only on deploy=true.
	data, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "workflows", "deploy-bitnami.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"KAFKA_BACKEND: ${{ vars.KAFKA_BACKEND }}", "run: bash .github/scripts/kafka-backend.sh", "needs: backend", "if: needs.backend.outputs.deploy == 'true'"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("deploy-bitnami.yml lacks %q", want)
		}
	}
}
