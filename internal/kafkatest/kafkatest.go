// Package kafkatest starts an in-process Kafka-compatible broker (franz-go's
// kfake) for tests and for the local pipeline, and holds the librdkafka
// settings that make confluent-kafka-go behave well against it.
package kafkatest

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// ClientDefaults are librdkafka properties for clients of an embedded broker:
// no metrics push (kfake does not implement it) and a short fetch queue
// backoff, without which an idle consumer waits a second between fetches.
var ClientDefaults = map[string]any{
	"enable.metrics.push":    false,
	"fetch.queue.backoff.ms": 10,
}

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
}

// Option configures Start.
type Option func(*options)

type options struct {
	port       int
	dataDir    string
	partitions int32
	topics     []string
	minSession time.Duration
	host       string
	advertise  string
	tls        *tls.Config
	sasl       []saslUser
}

type saslUser struct{ mechanism, user, password string }

// TLS makes the broker accept TLS connections only, with cfg (see
// SelfSignedTLS): clients need security.protocol SSL or SASL_SSL.
func TLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// SASL makes the broker require SASL authentication and accept user with
// password through mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; kfake
// has no OAUTHBEARER). The user may do everything. Give it several times for
// several users.
func SASL(mechanism, user, password string) Option {
	return func(o *options) { o.sasl = append(o.sasl, saslUser{mechanism, user, password}) }
}

// MinSessionTimeout lets clients use session timeouts down to d, so that a
// test that kills a consumer sees it leave the group quickly.
func MinSessionTimeout(d time.Duration) Option { return func(o *options) { o.minSession = d } }

// Port makes the broker listen on 127.0.0.1:port (0 picks a free port).
func Port(port int) Option { return func(o *options) { o.port = port } }

// DataDir persists the broker's log under dir, so that a broker restarted on
// the same dir and port keeps its topics, records and committed offsets.
func DataDir(dir string) Option { return func(o *options) { o.dataDir = dir } }

// Topics creates topics with the given partition count at start.
func Topics(partitions int32, topics ...string) Option {
	return func(o *options) { o.partitions, o.topics = partitions, append(o.topics, topics...) }
}

// Listen makes the broker listen on host instead of 127.0.0.1 (e.g. 0.0.0.0
// in a container) and, when advertise is not empty, tell clients to connect
// to advertise (a host name or address, the port staying the listener's)
// instead of the address it listens on. The broker image uses it.
func Listen(host, advertise string) Option {
	return func(o *options) { o.host, o.advertise = host, advertise }
}

// advertisedListener reports the advertised address as its own: kfake puts
// its listener's address in the metadata it gives clients.
type advertisedListener struct {
	net.Listener
	addr advertisedAddr
}

func (l advertisedListener) Addr() net.Addr { return l.addr }

type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// Start starts a single-node embedded broker on loopback (or where Listen
// says).
func Start(opts ...Option) (*Broker, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
	}
	if o.port != 0 {
		kopts = append(kopts, kfake.Ports(o.port))
	}
	if len(o.topics) > 0 {
		kopts = append(kopts, kfake.SeedTopics(o.partitions, o.topics...))
	}
	if o.minSession > 0 {
		kopts = append(kopts, kfake.GroupMinSessionTimeout(o.minSession))
	}
	if o.host != "" || o.advertise != "" {
		kopts = append(kopts, kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, port, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			host := o.host
			if host == "" {
				host = "127.0.0.1"
			}
			ln, err := net.Listen(network, net.JoinHostPort(host, port))
			if err != nil || o.advertise == "" {
				return ln, err
			}
			_, port, _ = net.SplitHostPort(ln.Addr().String())
			return advertisedListener{ln, advertisedAddr(net.JoinHostPort(o.advertise, port))}, nil
		}))
	}
	if o.dataDir != "" {
		kopts = append(kopts, kfake.DataDir(o.dataDir), kfake.SyncWrites())
	}
	if o.tls != nil {
		kopts = append(kopts, kfake.TLS(o.tls))
	}
	if len(o.sasl) > 0 {
		kopts = append(kopts, kfake.EnableSASL())
		for _, u := range o.sasl {
			kopts = append(kopts, kfake.Superuser(u.mechanism, u.user, u.password))
		}
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka broker: %w", err)
	}
	return &Broker{cluster: c}, nil
}

// Addr returns the broker's bootstrap address, host:port.
func (b *Broker) Addr() string { return b.cluster.ListenAddrs()[0] }

// Cluster returns the underlying kfake cluster, for fault injection.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker.
func (b *Broker) Close() { b.cluster.Close() }
