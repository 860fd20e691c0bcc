package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the expected files of the cases that run from what the pipeline produced (review them by hand: see testdata/README.md)")

// The run's binaries and backend, set up once by TestMain.
var (
	producerBin, consumerBin string
	kafkaBackend             backend
	setupErr                 error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		dir, err := os.MkdirTemp("", "e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		var wg sync.WaitGroup
		var backendErr error
		wg.Add(1)
		go func() { // the backend starts while the binaries build
			defer wg.Done()
			kafkaBackend, backendErr = selectBackend()
		}()
		began := time.Now()
		producerBin, consumerBin, setupErr = buildApps(dir)
		wg.Wait()
		if setupErr == nil && backendErr != nil {
			setupErr = backendErr
		}
		if setupErr == nil {
			fmt.Fprintf(os.Stderr, "e2e: apps built in %s; Kafka backend: %s\n", time.Since(began).Round(time.Millisecond), kafkaBackend.Name())
		}
		if kafkaBackend != nil {
			defer kafkaBackend.Close()
		}
		// Tests report setupErr themselves, so that a broken setup fails
		// every case by name rather than skipping them.
		return m.Run()
	}()
	os.Exit(code)
}

// buildApps builds the producer and consumer once per run, in parallel. An
// override through E2E_PRODUCER_BIN or E2E_CONSUMER_BIN runs a binary built
// elsewhere (for example a deliberately broken consumer, to see a case fail).
func buildApps(dir string) (producer, consumer string, err error) {
	root, err := repoRoot()
	if err != nil {
		return "", "", err
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	paths := make([]string, 2)
	for i, app := range []string{"producer", "consumer"} {
		if bin := os.Getenv("E2E_" + strings.ToUpper(app) + "_BIN"); bin != "" {
			paths[i] = bin
			fmt.Fprintf(os.Stderr, "e2e: using %s binary %s (E2E_%s_BIN)\n", app, bin, strings.ToUpper(app))
			continue
		}
		paths[i] = filepath.Join(dir, app)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("go", "build", "-o", paths[i], "./apps/"+app)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go build ./apps/%s: %v\n%s", app, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return "", "", err
		}
	}
	return paths[0], paths[1], nil
}

func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the test source")
	}
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
}

// setup fails the test when the run could not build the apps or start a
// backend, and logs the backend the case runs on.
func setup(t *testing.T) {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("e2e setup failed: %v", setupErr)
	}
	t.Logf("Kafka backend: %s", kafkaBackend.Name())
}
