package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestBadFlagsExitBeforeConnecting(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.properties")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"slide larger than duration", []string{"--input", "-", "--duration", "5", "--slide", "10"}, "larger than the window duration"},
		{"non-positive size", []string{"--input", "-", "--duration", "0"}, "duration must be positive"},
		{"negative size", []string{"--input", "-", "--duration", "-5"}, "duration must be positive"},
		{"bad duration", []string{"--input", "-", "--duration", "five"}, "--duration"},
		{"bad watermark", []string{"--input", "-", "--watermark", "5"}, "--watermark"},
		{"unreadable properties file", []string{"--config", missing}, "missing.properties"},
		{"no cluster", []string{}, "no Kafka cluster"},
		{"unknown sink scheme", []string{"--input", "-", "--sink", "s3://bucket/turnstile"}, "unknown scheme"},
		{"bad layout", []string{"--input", "-", "--layout", "nested"}, "--layout"},
		{"bad log format", []string{"--input", "-", "--log-format", "xml"}, "--log-format"},
		{"stray argument", []string{"--input", "-", "extra"}, "unexpected arguments"},
		{"unknown flag", []string{"--no-such-flag"}, "no-such-flag"},
		{"negative max-future", []string{"--input", "-", "--max-future", "-1h"}, "--max-future"},
		{"zero gc-percent", []string{"--input", "-", "--gc-percent", "0"}, "--gc-percent must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(""), &stderr)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("stderr does not mention %q:\n%s", tt.want, stderr.String())
			}
		})
	}
}

// TestFileModeGolden runs the consumer on testdata/input.txt in file mode and
// compares every object it writes, decompressed, with testdata/golden/.
// Regenerate with: go test ./apps/consumer -run TestFileModeGolden -update
// (then review the diff by hand).
func TestFileModeGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"tumbling", []string{"--duration", "5"}},
		{"sliding", []string{"--duration", "10", "--slide", "5", "--layout", "hive"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var stderr bytes.Buffer
			args := append([]string{"--input", "testdata/input.txt", "--sink", "file://" + dir + "/turnstile"}, tc.args...)
			if code := run(args, nil, &stderr); code != exitOK {
				t.Fatalf("exit %d:\n%s", code, stderr.String())
			}
			got := lakeText(t, dir)
			golden := filepath.Join("testdata", "golden", tc.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Fatalf("lake differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// lakeText lists every object under dir with its decompressed content.
func lakeText(t *testing.T, dir string) string {
	t.Helper()
	b, err := lake.NewFileBucket(dir)
	if err != nil {
		t.Fatal(err)
	}
	names, err := b.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	var out strings.Builder
	for _, name := range names {
		data, err := b.Get(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "== %s\n", name)
		if strings.HasSuffix(name, ".csv.gz") {
			// Check the header and index column, then print the raw CSV.
			if _, err := lake.DecodeWindows(data); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if !strings.HasSuffix(name, ".gz") { // the shape marker
			out.Write(data)
			continue
		}
		text, err := gunzip(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out.WriteString(text)
	}
	return out.String()
}

func gunzip(data []byte) (string, error) {
	cmd := exec.Command("gzip", "-dc")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	return string(out), err
}

func TestDefaultTransactionalID(t *testing.T) {
	host := func() (string, error) { return "vm-7", nil }
	for _, tc := range []struct{ instance, want string }{
		{"", "turnstile-consumer.turnstile-consumer.vm-7"},
		{"consumer-2", "turnstile-consumer.consumer-2"},
	} {
		if got := defaultTransactionalID("turnstile-consumer", "turnstile-consumer", tc.instance, host); got != tc.want {
			t.Errorf("instance %q: %q, want %q", tc.instance, got, tc.want)
		}
	}
}
