package kafkatest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// TestListenAdvertise checks that a broker started with Listen tells clients
// the advertised name (with its real port) while it listens where asked: the
// broker image listens on 0.0.0.0 and advertises its name on the network
// (here: other loopback addresses, so that the test listens on loopback only).
func TestListenAdvertise(t *testing.T) {
	tests := []struct {
		name, host, advertise, wantHost string
	}{
		{"default", "", "", "127.0.0.1"},
		{"advertise a name", "127.0.0.1", "kafka.example", "kafka.example"},
		{"listen on another loopback address", "127.0.0.2", "", "127.0.0.2"},
		{"listen elsewhere, advertise a name", "127.0.0.2", "localhost", "localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []Option{Topics(2, "t")}
			if tt.host != "" || tt.advertise != "" {
				opts = append(opts, Listen(tt.host, tt.advertise))
			}
			b, err := Start(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			host, port, err := net.SplitHostPort(b.Addr())
			if err != nil {
				t.Fatal(err)
			}
			if host != tt.wantHost || port == "0" {
				t.Fatalf("Addr() = %s, want host %s and a real port", b.Addr(), tt.wantHost)
			}
			// A client reaches the listener where it listens and is told the
			// advertised address in the metadata.
			listen := tt.host
			if listen == "" {
				listen = "127.0.0.1"
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(net.JoinHostPort(listen, port)))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Brokers) != 1 || resp.Brokers[0].Host != tt.wantHost || int(resp.Brokers[0].Port) == 0 || net.JoinHostPort(resp.Brokers[0].Host, port) != b.Addr() {
				t.Fatalf("metadata brokers %+v, want one at %s", resp.Brokers, b.Addr())
			}
		})
	}
}

// TestTLSAndSASL checks that a broker started with TLS and SASL takes a
// client that trusts the CA and knows the password, and refuses a client
// without TLS or with a wrong password.
func TestTLSAndSASL(t *testing.T) {
	serverTLS, caPath, err := SelfSignedTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Start(TLS(serverTLS), SASL("SCRAM-SHA-256", "u", "right"), SASL("PLAIN", "p", "plain-right"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caPath)
	}
	withTLS := kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	for _, tt := range []struct {
		name   string
		opts   []kgo.Opt
		wantOK bool
	}{
		{"TLS and SCRAM", []kgo.Opt{withTLS, kgo.SASL(scram.Auth{User: "u", Pass: "right"}.AsSha256Mechanism())}, true},
		{"TLS and PLAIN", []kgo.Opt{withTLS, kgo.SASL(plain.Auth{User: "p", Pass: "plain-right"}.AsMechanism())}, true},
		{"wrong password", []kgo.Opt{withTLS, kgo.SASL(scram.Auth{User: "u", Pass: "wrong"}.AsSha256Mechanism())}, false},
		{"no SASL", []kgo.Opt{withTLS}, false},
		{"no TLS", []kgo.Opt{kgo.SASL(scram.Auth{User: "u", Pass: "right"}.AsSha256Mechanism())}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr()), kgo.RequestRetries(0)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			if (err == nil) != tt.wantOK {
				t.Errorf("metadata request err = %v, want success %v", err, tt.wantOK)
			}
		})
	}
}
