package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/mta"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// TestSASLSSL replays a file to an embedded broker that takes only TLS
// connections authenticated with SASL/SCRAM-SHA-256, with the TLS and SASL
// settings in the properties file (the CA from ssl.ca.location, the password
// from the environment): the records arrive. The same file with a wrong
// password fails with the authentication error in the log, and the password
// is never logged. (kfake has no OAUTHBEARER: the managed service's tokens
// are tested in internal/kafka, not against a broker.)
func TestSASLSSL(t *testing.T) {
	const user, password, topic = "turnstile-producer", "s3cret-scram-password", "mta-turnstile"
	serverTLS, caPath, err := kafkatest.SelfSignedTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := kafkatest.Start(kafkatest.TLS(serverTLS), kafkatest.SASL("SCRAM-SHA-256", user, password))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	props := func(pass string) string {
		t.Setenv("TURNSTILE_TEST_SASL_PASSWORD", pass)
		return writeConfig(t, b.Addr(), "security.protocol=SASL_SSL", "sasl.mechanisms=SCRAM-SHA-256",
			"sasl.username="+user, "sasl.password=${TURNSTILE_TEST_SASL_PASSWORD}", "ssl.ca.location="+caPath,
			"message.timeout.ms=3000")
	}

	t.Run("right password", func(t *testing.T) {
		args := append(append([]string{"--input"}, sample...), "--config", props(password), "--topic", topic, "--create-topic", "--partitions", "2")
		code, _, stderr := runProducer(context.Background(), args...)
		if code != exitOK {
			t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
		}
		for _, want := range []string{"security.protocol=SASL_SSL", "sasl.password=<redacted>", "sent=208 failed=0"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if strings.Contains(stderr, password) {
			t.Error("the SASL password was logged")
		}
		rp, err := mta.Load(context.Background(), sample)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for rec := range rp.Records() {
			want[rec.ID] = string(turnstile.AppendCSV(nil, rec))
		}
		pem, err := os.ReadFile(caPath)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		checkRecords(t, consumeAll(t, b.Addr(), topic, len(want),
			kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}),
			kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha256Mechanism())), want)
	})

	t.Run("wrong password", func(t *testing.T) {
		code, _, stderr := runProducer(context.Background(), "--input", sample[0], "--config", props("wrong-password"), "--topic", topic, "--flush-timeout", "10s")
		if code != exitFailure {
			t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitFailure, stderr)
		}
		// kfake drops the connection on a failed SCRAM exchange; librdkafka
		// logs that as a SASL authentication error.
		for _, want := range []string{"SASL authentication error", "sent=0 failed=136"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if strings.Contains(stderr, "wrong-password") {
			t.Error("the SASL password was logged")
		}
	})
}
