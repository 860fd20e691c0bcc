package composecheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stubKafkaTopics is a kafka-topics.sh stand-in: it keeps each topic's
// partition count in a file under $STUB_STATE, logs every call to
// $STUB_STATE/calls, and fails an operation when $STUB_STATE/fail-OP exists.
const stubKafkaTopics = `#!/bin/bash
op= topic= parts=
while [ $# -gt 0 ]; do
  case $1 in
  --create) op=create ;; --describe) op=describe ;; --alter) op=alter ;;
  --topic) topic=$2; shift ;; --partitions) parts=$2; shift ;;
  --bootstrap-server|--replication-factor) shift ;;
  esac
  shift
done
echo "$op $topic $parts" >>"$STUB_STATE/calls"
[ -f "$STUB_STATE/fail-$op" ] && exit 1
case $op in
create) [ -f "$STUB_STATE/$topic" ] || echo "$parts" >"$STUB_STATE/$topic" ;;
alter) echo "$parts" >"$STUB_STATE/$topic" ;;
describe)
  [ -f "$STUB_STATE/$topic" ] || exit 1
  printf 'Topic: %s\tTopicId: abc\tPartitionCount: %s\tReplicationFactor: 1\tConfigs: \n' "$topic" "$(cat "$STUB_STATE/$topic")"
  ;;
esac
`

// TestTopicInitScript runs topic-init's script, as compose resolves it,
// against the stub: it creates missing topics, never grows a live topic
// (it says how to), leaves a higher count alone, and fails when Kafka does.
func TestTopicInitScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed to run the topic-init script")
	}
	env := map[string]string{"KAFKA_ADVERTISED_HOST": "10.10.0.10", "KAFKA_PARTITIONS": "4", "EMIT_TOPIC": "windows"}
	ti := service(t, mustLoad(t, env, nil, "compose.kafka.yaml"), "topic-init")
	if len(ti.Entrypoint) != 2 || ti.Entrypoint[0] != "/bin/bash" || ti.Entrypoint[1] != "-c" || len(ti.Command) != 1 {
		t.Fatalf("topic-init entrypoint %v command %v: want /bin/bash -c SCRIPT", ti.Entrypoint, ti.Command)
	}
	script := ti.Command[0]

	tests := []struct {
		name     string
		existing map[string]string // topic -> partitions before the run
		fail     string            // operation the stub fails
		wantErr  bool
		want     map[string]string // topic -> partitions after the run
		wantCall string            // a call the script must make
		noAlter  bool              // the script must not alter any topic
		wantOut  string
	}{
		{name: "creates both topics", want: map[string]string{"mta-turnstile": "4", "windows": "1"}, wantCall: "create mta-turnstile 4"},
		{name: "never grows a live topic", existing: map[string]string{"mta-turnstile": "2", "windows": "1"},
			want: map[string]string{"mta-turnstile": "2", "windows": "1"}, noAlter: true,
			wantOut: "mta-turnstile has 2 partitions, fewer than the 4 asked for; not growing it: follow docs/consumer.md, \"Growing the topic\""},
		{name: "leaves a higher count alone", existing: map[string]string{"mta-turnstile": "8", "windows": "1"},
			want: map[string]string{"mta-turnstile": "8", "windows": "1"}, wantOut: "WARNING mta-turnstile has 8 partitions"},
		{name: "fails when creation fails", fail: "create", wantErr: true},
		{name: "fails when the topic cannot be described", fail: "describe", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "state")
			if err := os.Mkdir(state, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "kafka-topics.sh"), []byte(stubKafkaTopics), 0o755); err != nil {
				t.Fatal(err)
			}
			for topic, n := range tc.existing {
				if err := os.WriteFile(filepath.Join(state, topic), []byte(n+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.fail != "" {
				if err := os.WriteFile(filepath.Join(state, "fail-"+tc.fail), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(bash, "-c", script)
			cmd.Env = []string{"PATH=/usr/bin:/bin", "STUB_STATE=" + state, "KAFKA_BIN=" + dir}
			for k, v := range ti.Environment {
				if k != "KAFKA_BIN" && v != nil {
					cmd.Env = append(cmd.Env, k+"="+*v)
				}
			}
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v; output:\n%s", err, tc.wantErr, out)
			}
			for topic, n := range tc.want {
				got, err := os.ReadFile(filepath.Join(state, topic))
				if err != nil || strings.TrimSpace(string(got)) != n {
					t.Errorf("%s has %q partitions (err %v), want %s", topic, got, err, n)
				}
			}
			calls, _ := os.ReadFile(filepath.Join(state, "calls"))
			if tc.wantCall != "" && !strings.Contains(string(calls), tc.wantCall+"\n") {
				t.Errorf("calls:\n%s\nwant %q", calls, tc.wantCall)
			}
			if tc.noAlter && strings.Contains(string(calls), "alter ") {
				t.Errorf("calls:\n%s\nwant no alter (topic-init never grows a live topic)", calls)
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("output:\n%s\nwant %q", out, tc.wantOut)
			}
		})
	}
}
