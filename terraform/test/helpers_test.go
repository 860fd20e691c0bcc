//go:build tftest || gcp

// Package test drives terraform/ from Go with terratest.
//
// Offline tests (build tag tftest, run by scripts/tf-test.sh) use the OpenTofu
// binary and the hashicorp/google TEST DOUBLE that scripts/tools.sh builds
// into .cache/tools; they never reach GCP. The real-GCP test (build tag gcp,
// plus TURNSTILE_GCP_PROJECT) is documented in docs/deploy.md and never runs in CI.
package test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// repoRoot is the repository root, found from this file's location.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// stageConfig copies terraform/ (without local state or .terraform) and the
// docker/ compose files its startup scripts embed into a fresh temporary
// directory, so that every test gets its own working directory and state.
// It returns the path of the copied terraform/ folder.
func stageConfig(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	dst := t.TempDir()
	for _, dir := range []string{"terraform", "docker"} {
		copyTree(t, filepath.Join(root, dir), filepath.Join(dst, dir))
	}
	return filepath.Join(dst, "terraform")
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == ".terraform" || (rel != "." && name == "test") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(name, ".tfstate") || strings.Contains(name, ".tfstate.") || name == ".terraform.lock.hcl" || name == "backend.tf" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}
