package composecheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientConfigScript runs client-config's script, as compose resolves it
// from each Kafka backend's vm.env (terraform/kafka.tf), with /config moved
// to a scratch directory: the properties the apps read, and a log that never
// shows the password.
func TestClientConfigScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal("sh is needed to run the client-config script")
	}
	tests := []struct {
		name string
		env  map[string]string // added to vmEnv (KAFKA_BOOTSTRAP=10.10.0.10:9092)
		run  map[string]string // the environment of the container run (turnstile-up's export)
		want string
	}{
		{
			name: "vm",
			want: "bootstrap.servers=10.10.0.10:9092\nsecurity.protocol=PLAINTEXT\n",
		},
		{
			name: "managed",
			env: map[string]string{
				"KAFKA_BOOTSTRAP":            "bootstrap.turnstile-kafka.us-central1.managedkafka.demo-project-123.cloud.goog:9092",
				"KAFKA_SECURITY_PROTOCOL":    "SASL_SSL",
				"KAFKA_SASL_MECHANISM":       "OAUTHBEARER",
				"KAFKA_OAUTHBEARER_PROVIDER": "gcp",
			},
			want: "bootstrap.servers=bootstrap.turnstile-kafka.us-central1.managedkafka.demo-project-123.cloud.goog:9092\n" +
				"security.protocol=SASL_SSL\nsasl.mechanisms=OAUTHBEARER\nturnstile.oauthbearer.provider=gcp\n",
		},
		{
			name: "external with SCRAM",
			env: map[string]string{
				"KAFKA_BOOTSTRAP":            "b1.example.com:9092,b2.example.com:9092",
				"KAFKA_SECURITY_PROTOCOL":    "SASL_SSL",
				"KAFKA_SASL_MECHANISM":       "SCRAM-SHA-512",
				"KAFKA_SASL_USERNAME":        "turnstile",
				"KAFKA_SASL_PASSWORD_SECRET": "projects/p/secrets/kafka-pw/versions/latest",
			},
			run: map[string]string{"KAFKA_SASL_PASSWORD": "s3cret-Pa55"},
			want: "bootstrap.servers=b1.example.com:9092,b2.example.com:9092\nsecurity.protocol=SASL_SSL\n" +
				"sasl.mechanisms=SCRAM-SHA-512\nsasl.username=turnstile\nsasl.password=s3cret-Pa55\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range vmEnv {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			for k, v := range tc.run {
				env[k] = v
			}
			cc := service(t, mustLoad(t, env, []string{"consumer"}, "compose.apps.yaml"), "client-config")
			if len(cc.Command) != 3 || cc.Command[0] != "sh" || cc.Command[1] != "-c" {
				t.Fatalf("client-config command %v: want sh -c SCRIPT", cc.Command)
			}
			dir := t.TempDir()
			script := strings.ReplaceAll(cc.Command[2], "/config/", dir+"/")
			cmd := exec.Command(sh, "-c", script)
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			for k, v := range cc.Environment {
				if v != nil {
					cmd.Env = append(cmd.Env, k+"="+*v)
				}
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("client-config: %v\n%s", err, out)
			}
			got, err := os.ReadFile(filepath.Join(dir, "client.properties"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("client.properties =\n%s\nwant\n%s", got, tc.want)
			}
			if strings.Contains(string(out), "s3cret") {
				t.Errorf("client-config logged the password:\n%s", out)
			}
			if tc.run["KAFKA_SASL_PASSWORD"] != "" && !strings.Contains(string(out), "sasl.password=(hidden)") {
				t.Errorf("client-config's log does not show the hidden password line:\n%s", out)
			}
		})
	}
}
