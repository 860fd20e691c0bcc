//go:build tftest

package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mountStubs stand in for the block-device tools: the "disk" is blank until
// mkfs.ext4 writes $STATE/formatted (its UUID), and mounted once mount has
// created $STATE/mounted. Every call is appended to $STATE/calls.
var mountStubs = map[string]string{
	"blkid": `echo "blkid $*" >>"$STATE/calls"
if [ "$1" = -s ]; then cat "$STATE/formatted" 2>/dev/null; exit 0; fi
[ -f "$STATE/formatted" ] || exit 2`,
	"mkfs.ext4":  `echo "mkfs.ext4 $*" >>"$STATE/calls"; echo 1111-2222 >"$STATE/formatted"`,
	"mount":      `echo "mount $*" >>"$STATE/calls"; touch "$STATE/mounted"`,
	"mountpoint": `[ -f "$STATE/mounted" ]`,
	"systemctl":  `echo "systemctl $*" >>"$STATE/calls"`,
	"resize2fs":  `echo "resize2fs $*" >>"$STATE/calls"`,
	"df":         `printf 'Size\n 50G\n'`,
	// Ownership needs root; the test checks everything else.
	"install": `args=(); while [ $# -gt 0 ]; do case $1 in -o|-g) shift 2 ;; *) args+=("$1"); shift ;; esac; done
exec /usr/bin/install "${args[@]}"`,
}

// testMountDataDisk runs mount_data_disk, cut out of the rendered Kafka
// startup script, against stubs: a blank disk is formatted once and mounted
// through one fstab line by UUID; a second run changes nothing; a disk that
// already holds a filesystem is never formatted; a missing disk fails.
func testMountDataDisk(t *testing.T, script string) {
	fn := regexp.MustCompile(`(?ms)^mount_data_disk\(\) \{\n.*?^\}\n`).FindString(script)
	if fn == "" {
		t.Fatal("no mount_data_disk function in the Kafka startup script")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range mountStubs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	driver := filepath.Join(dir, "run.sh")
	body := "set -euo pipefail\nlog() { echo \"log: $*\"; }\n" +
		"DATA_DEVICE=kafka-data DATA_MOUNT=\"$ROOT/mnt\" DATA_DIR=\"$ROOT/mnt/kafka\"\n" + fn + "mount_data_disk\n"
	if err := os.WriteFile(driver, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}

	type env struct{ root, state, fstab string }
	setup := func(t *testing.T, device bool, fstab string) env {
		e := env{root: t.TempDir()}
		e.state = filepath.Join(e.root, "state")
		e.fstab = filepath.Join(e.root, "fstab")
		must(t, os.MkdirAll(e.state, 0o755))
		must(t, os.WriteFile(e.fstab, []byte(fstab), 0o644))
		if device {
			must(t, os.WriteFile(filepath.Join(e.root, "dev-kafka-data"), nil, 0o644))
		}
		return e
	}
	run := func(t *testing.T, e env, wantOK bool) string {
		cmd := exec.Command("bash", driver)
		cmd.Env = []string{
			"PATH=" + bin + ":/usr/bin:/bin", "ROOT=" + e.root, "STATE=" + e.state,
			"TURNSTILE_DATA_DEV=" + filepath.Join(e.root, "dev-kafka-data"),
			"TURNSTILE_FSTAB=" + e.fstab,
			"TURNSTILE_SYSTEMD_DIR=" + filepath.Join(e.root, "systemd"),
			"TURNSTILE_DEVICE_WAIT=0",
		}
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("mount_data_disk: err = %v, want ok %v\n%s", err, wantOK, out)
		}
		return string(out)
	}
	read := func(t *testing.T, path string) string {
		data, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return string(data)
	}
	const other = "UUID=aaaa / ext4 defaults 0 1\n"

	t.Run("blank disk: formatted once, mounted by UUID, twice in a row", func(t *testing.T) {
		e := setup(t, true, other)
		run(t, e, true)
		run(t, e, true) // idempotent
		calls := read(t, filepath.Join(e.state, "calls"))
		if n := strings.Count(calls, "mkfs.ext4 "); n != 1 {
			t.Errorf("mkfs.ext4 ran %d times, want once:\n%s", n, calls)
		}
		if n := strings.Count(calls, "mount "); n != 1 {
			t.Errorf("mount ran %d times, want once (the second run finds it mounted):\n%s", n, calls)
		}
		want := other + "UUID=1111-2222 " + filepath.Join(e.root, "mnt") + " ext4 discard,defaults,nofail 0 2\n"
		if got := read(t, e.fstab); got != want {
			t.Errorf("fstab =\n%s\nwant\n%s", got, want)
		}
		dropin := read(t, filepath.Join(e.root, "systemd", "docker.service.d", "kafka-data.conf"))
		if !strings.Contains(dropin, "RequiresMountsFor="+filepath.Join(e.root, "mnt")) {
			t.Errorf("docker drop-in = %q, want RequiresMountsFor the mount", dropin)
		}
		if fi, err := os.Stat(filepath.Join(e.root, "mnt", "kafka")); err != nil || !fi.IsDir() {
			t.Errorf("Kafka's data directory was not created: %v", err)
		}
	})

	t.Run("disk with a filesystem: never formatted; a stale fstab line is replaced", func(t *testing.T) {
		e := setup(t, true, other)
		must(t, os.WriteFile(filepath.Join(e.state, "formatted"), []byte("3333-4444\n"), 0o644))
		mnt := filepath.Join(e.root, "mnt")
		must(t, os.WriteFile(e.fstab, []byte(other+"UUID=old-disk "+mnt+" ext4 discard,defaults,nofail 0 2\n"), 0o644))
		run(t, e, true)
		if calls := read(t, filepath.Join(e.state, "calls")); strings.Contains(calls, "mkfs") {
			t.Errorf("a disk holding a filesystem was formatted:\n%s", calls)
		}
		want := other + "UUID=3333-4444 " + mnt + " ext4 discard,defaults,nofail 0 2\n"
		if got := read(t, e.fstab); got != want {
			t.Errorf("fstab =\n%s\nwant\n%s", got, want)
		}
	})

	t.Run("missing disk: fails, formats nothing", func(t *testing.T) {
		e := setup(t, false, other)
		out := run(t, e, false)
		if !strings.Contains(out, "did not appear") {
			t.Errorf("output lacks the reason:\n%s", out)
		}
		if calls := read(t, filepath.Join(e.state, "calls")); strings.Contains(calls, "mkfs") {
			t.Errorf("formatted without a disk:\n%s", calls)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
