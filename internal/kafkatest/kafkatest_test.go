package kafkatest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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
