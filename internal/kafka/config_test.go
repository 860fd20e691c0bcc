package kafka

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		env     map[string]string
		want    Properties
		wantErr string
	}{
		{
			name: "comments blanks and spaces",
			in:   "# a comment\n\n  bootstrap.servers = broker:9092  \n\t# indented comment\nsecurity.protocol=SASL_SSL\n",
			want: Properties{"bootstrap.servers": "broker:9092", "security.protocol": "SASL_SSL"},
		},
		{
			name: "equals inside the value",
			in:   "sasl.jaas.config=org.Module required username=\"a\" password=\"b==\";\n",
			want: Properties{"sasl.jaas.config": "org.Module required username=\"a\" password=\"b==\";"},
		},
		{
			name: "value from the environment",
			in:   "sasl.username=svc\nsasl.password=${KAFKA_PASSWORD}\n",
			env:  map[string]string{"KAFKA_PASSWORD": "s3cret"},
			want: Properties{"sasl.username": "svc", "sasl.password": "s3cret"},
		},
		{name: "unset environment variable", in: "sasl.password=${NOPE}\n", wantErr: "environment variable NOPE, which is not set"},
		{name: "line without equals", in: "bootstrap.servers\n", wantErr: "f.properties:1: want key=value"},
		{name: "empty key", in: "ok=1\n=value\n", wantErr: "f.properties:2: want key=value"},
		{name: "empty value is allowed", in: "client.id=\n", want: Properties{"client.id": ""}},
		{name: "empty file", in: "", want: Properties{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("f.properties", []byte(tt.in), env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.properties"))
	if err == nil || !strings.Contains(err.Error(), "missing.properties") {
		t.Fatalf("err = %v, want an error naming the file", err)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.properties")
	if err := os.WriteFile(path, []byte("bootstrap.servers=localhost:9092\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p["bootstrap.servers"] != "localhost:9092" {
		t.Fatalf("got %v", p)
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	p := Properties{"sasl.password": "hunter2", "sasl.username": "svc", "ssl.key.password": "k"}
	got := strings.Join(p.Redacted(), " ")
	if strings.Contains(got, "hunter2") || strings.Contains(got, "=k") {
		t.Fatalf("secret leaked: %s", got)
	}
	if !strings.Contains(got, "sasl.username=svc") {
		t.Fatalf("non-secret missing: %s", got)
	}
}

func TestParseErrorDoesNotLeakSecret(t *testing.T) {
	_, err := Parse("f", []byte("sasl.password hunter2\n"), env(nil))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v: want an error without the secret", err)
	}
}

func TestConfigMapPrecedence(t *testing.T) {
	p := Properties{"a": "file", "b": "file"}
	cm := p.ConfigMap(map[string]any{"a": "default", "c": "default"}, map[string]any{"b": "override"})
	if cm["a"] != "file" || cm["b"] != "override" || cm["c"] != "default" {
		t.Fatalf("got %v", cm)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	withServers := filepath.Join(dir, "a.properties")
	without := filepath.Join(dir, "b.properties")
	if err := os.WriteFile(withServers, []byte("bootstrap.servers=file:9092\nclient.id=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(without, []byte("client.id=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		config, bootstrap, want, wantErr string
	}{
		{withServers, "", "file:9092", ""},
		{withServers, "flag:9092", "flag:9092", ""},
		{"", "flag:9092", "flag:9092", ""},
		{"", "", "", "no Kafka cluster"},
		{without, "", "", "no bootstrap.servers"},
		{filepath.Join(dir, "missing"), "flag:9092", "", "missing"},
	}
	for _, tt := range tests {
		p, err := Resolve(tt.config, tt.bootstrap)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve(%q, %q) err = %v, want %q", tt.config, tt.bootstrap, err, tt.wantErr)
			}
			continue
		}
		if err != nil || p["bootstrap.servers"] != tt.want {
			t.Errorf("Resolve(%q, %q) = %v, %v; want bootstrap.servers %s", tt.config, tt.bootstrap, p, err, tt.want)
		}
	}
}

// TestClientConfigs checks what the properties file may change in each
// client's configuration and what the client owns.
func TestClientConfigs(t *testing.T) {
	// A file that tries to change everything.
	file := Properties{
		"bootstrap.servers":      "b:9092",
		"fetch.queue.backoff.ms": "5",
		"session.timeout.ms":     "6000",
		"auto.offset.reset":      "latest",
		"enable.auto.commit":     "true",
		"enable.partition.eof":   "true",
		"enable.idempotence":     "false",
		"acks":                   "1",
		"linger.ms":              "0",
		"group.id":               "file",
		"client.id":              "file",
		"transactional.id":       "file",
		"go.logs.channel.enable": "false",
	}
	tests := []struct {
		name string
		cm   ckafka.ConfigMap
		want map[string]any
	}{
		{"group consumer", groupConfig(file, "g", "c", "i"), map[string]any{
			"bootstrap.servers": "b:9092", "fetch.queue.backoff.ms": "5", "session.timeout.ms": "6000",
			"heartbeat.interval.ms": 1000, "auto.offset.reset": "latest",
			"enable.auto.commit": false, "enable.auto.offset.store": false, "enable.partition.eof": false,
			"group.id": "g", "client.id": "c", "group.instance.id": "i", "go.logs.channel.enable": true,
		}},
		{"group consumer defaults", groupConfig(Properties{"bootstrap.servers": "b:9092"}, "g", "c", ""), map[string]any{
			"fetch.queue.backoff.ms": 20, "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
			"auto.offset.reset": "earliest", "group.instance.id": nil,
		}},
		{"dashboard reader", readerConfig(file, "g"), map[string]any{
			"fetch.queue.backoff.ms": "5", "session.timeout.ms": "6000", "heartbeat.interval.ms": 1000,
			"auto.offset.reset": "earliest", "enable.auto.commit": false, "enable.partition.eof": false,
			"group.id": "g", "client.id": "turnstile-dashboard", "go.logs.channel.enable": true,
		}},
		{"dead-letter producer", deadLetterConfig(file, "c"), map[string]any{
			"enable.idempotence": true, "acks": "all", "linger.ms": "0", "client.id": "c-dead-letter",
			"go.logs.channel.enable": true,
		}},
		{"emit producer", emitConfig(file, "c", "txn"), map[string]any{
			"enable.idempotence": true, "acks": "all", "linger.ms": LingerMS, "client.id": "c-emit",
			"transactional.id": "txn", "go.logs.channel.enable": true,
		}},
		{"producer", producerConfig(file), map[string]any{
			"enable.idempotence": true, "acks": "all", "linger.ms": LingerMS, "client.id": "file",
			"go.logs.channel.enable": true, "go.delivery.report.fields": "key",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, want := range tt.want {
				if got, ok := tt.cm[k]; (want == nil && ok) || (want != nil && got != want) {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
		})
	}
}
