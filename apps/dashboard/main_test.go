package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadFlagsExit2(t *testing.T) {
	props := filepath.Join(t.TempDir(), "empty.properties")
	if err := os.WriteFile(props, []byte("# no bootstrap.servers\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "no Kafka cluster"},
		{[]string{"--config", props}, "no bootstrap.servers"},
		{[]string{"--config", "/nonexistent/kafka.properties"}, "kafka properties"},
		{[]string{"--bootstrap", "b:9092", "--history", "10s"}, "--history"},
		{[]string{"--bootstrap", "b:9092", "--history", "day"}, "invalid value"},
		{[]string{"--bootstrap", "b:9092", "--history-rows", "0"}, "--history-rows"},
		{[]string{"--bootstrap", "b:9092", "--max-future", "-1h"}, "--max-future"},
		{[]string{"--bootstrap", "b:9092", "--addr", "8080"}, "--addr"},
		{[]string{"--bootstrap", "b:9092", "--topic", ""}, "--topic must not be empty unless --ridership-topic"},
		{[]string{"--bootstrap", "b:9092", "--ridership-topic", "mta-turnstile-windows"}, "their own topics"},
		{[]string{"--bootstrap", "b:9092", "--consumer-metrics", "localhost:9091/metrics"}, "--consumer-metrics"},
		{[]string{"--bootstrap", "b:9092", "--log-format", "xml"}, "--log-format"},
		{[]string{"--bootstrap", "b:9092", "--log-level", "loud"}, "--log-level"},
		{[]string{"--bootstrap", "b:9092", "extra"}, "unexpected arguments"},
		{[]string{"--no-such-flag"}, "not defined"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), tc.args, &stderr, nil); code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr: %s", tc.args, code, exitUsage, stderr.String())
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr %q, want it to mention %q", tc.args, stderr.String(), tc.want)
		}
	}
}

func TestHelpExits0(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &stderr, nil); code != exitOK {
		t.Errorf("--help: exit %d", code)
	}
	for _, flag := range []string{"--config", "--bootstrap", "--topic", "--ridership-topic", "--group", "--history", "--max-future", "--addr", "--consumer-metrics", "--metrics-addr", "--log-format", "--log-level"} {
		if !strings.Contains(stderr.String(), strings.TrimPrefix(flag, "-")) {
			t.Errorf("--help does not list %s", flag)
		}
	}
}
