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
	"regexp"
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

// stageForDouble stages the configuration (stageConfig) and swaps the exact
// hashicorp/google pin of versions.tf for the version the provider TEST
// DOUBLE announces, as scripts/tf-test.sh does: the offline mirror holds only
// the double.
func stageForDouble(t *testing.T) string {
	t.Helper()
	dir := stageConfig(t)
	versions := filepath.Join(dir, "versions.tf")
	data, err := os.ReadFile(versions)
	if err != nil {
		t.Fatal(err)
	}
	if !providerPin.Match(data) {
		t.Fatalf("terraform/versions.tf does not pin hashicorp/google exactly (version = \"7.x.y\")")
	}
	swapped := providerPin.ReplaceAll(data, []byte(`${1}"`+doubleVersion(t)+`"`))
	if err := os.WriteFile(versions, swapped, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// providerPin matches the exact version constraint of hashicorp/google in
// terraform/versions.tf, e.g. `version = "7.15.0"`.
var providerPin = regexp.MustCompile(`(?m)^(\s*version\s*=\s*)"7\.\d+\.\d+"`)

// doubleVersion is the version the google provider TEST DOUBLE announces.
func doubleVersion(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "tools", "google-provider-double", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^const Version = "([^"]+)"$`).FindSubmatch(src)
	if m == nil {
		t.Fatal("cannot read Version from tools/google-provider-double/main.go")
	}
	return string(m[1])
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
