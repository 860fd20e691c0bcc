// Package kafka is the one adapter between the pipeline and Kafka: the only
// package (with internal/kafkatest) that imports confluent-kafka-go. It holds
//   - the librdkafka properties file and the configuration rules and
//     defaults of every client (config.go);
//   - the bridge that routes librdkafka's log lines into slog, for every
//     client (log.go);
//   - the producer's sink (producer.go), the consumer group as a stream.Source
//     (group.go, offsets.go, poller.go), its transactional emitter (emit.go) and
//     dead-letter writer (deadletter.go), and the dashboard's reader
//     (reader.go).
//
// The core packages (stream, window, lake, turnstile, dashboard) know nothing
// of Kafka; this package feeds them and writes what they produce.
//
// # Properties files
//
// Load reads librdkafka client properties from a key=value file, like the
// Spark job's docker-kafka.properties: one key=value per line; blank lines
// and lines starting with # are ignored; spaces around keys and values are
// trimmed; a value may hold '='. A value of the form ${NAME} is read from the
// environment variable NAME, so that secrets need not live in the file.
// Secret values are never logged: use Properties.Redacted to print a
// configuration.
//
// Keys under turnstile. are turnstile-stream's own, never passed to
// librdkafka: turnstile.oauthbearer.provider=gcp (OAuthProviderKey) makes the
// clients authenticate with SASL/OAUTHBEARER and the Application Default
// Credentials (oauth.go).
package kafka

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Properties are librdkafka configuration properties.
type Properties map[string]string

// Load reads a properties file. A missing or unreadable file, a line without
// '=', an empty key or an unset ${VAR} is an error that names the file and
// line; OAUTHBEARER settings that conflict (CheckAuth) are an error that
// names the file.
func Load(path string) (Properties, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kafka properties: %w", err)
	}
	props, err := Parse(path, data, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	if err := props.CheckAuth(); err != nil {
		return nil, fmt.Errorf("kafka properties %s: %w", path, err)
	}
	return props, nil
}

// Parse parses properties from data; name is used in error messages and
// lookupEnv resolves ${VAR} values.
func Parse(name string, data []byte, lookupEnv func(string) (string, bool)) (Properties, error) {
	props := Properties{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" {
			return nil, fmt.Errorf("kafka properties %s:%d: want key=value, got %q", name, line, redactLine(key, text))
		}
		if strings.HasPrefix(value, "${") && strings.HasSuffix(value, "}") {
			env := value[2 : len(value)-1]
			v, ok := lookupEnv(env)
			if !ok {
				return nil, fmt.Errorf("kafka properties %s:%d: %s refers to environment variable %s, which is not set", name, line, key, env)
			}
			value = v
		}
		props[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kafka properties %s: %w", name, err)
	}
	return props, nil
}

// IsSecret reports whether the value of key must not be logged.
func IsSecret(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") ||
		strings.Contains(k, "sasl.oauthbearer.config") || strings.HasSuffix(k, ".key") ||
		strings.Contains(k, "key.pem") || strings.Contains(k, "token")
}

func redactLine(key, text string) string {
	if IsSecret(key) || IsSecret(text) {
		return "<redacted>"
	}
	return text
}

// Redacted returns the properties as sorted key=value pairs with secret values
// replaced by "<redacted>", safe to log.
func (p Properties) Redacted() []string {
	out := make([]string, 0, len(p))
	for k, v := range p {
		if IsSecret(k) {
			v = "<redacted>"
		}
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// ConfigMap returns a confluent-kafka-go ConfigMap of defaults, overlaid with
// the properties p, overlaid with overrides. Keys the application must own
// (such as enable.auto.commit for the consumer) belong in overrides. With
// OAuthProviderKey set, security.protocol=SASL_SSL and
// sasl.mechanisms=OAUTHBEARER are added where p sets neither (conflicting
// values are left for newProducer and newConsumer to refuse, see CheckAuth).
// The map may hold OAuthProviderKey: make clients from it with newProducer or
// newConsumer, which remove it.
func (p Properties) ConfigMap(defaults, overrides map[string]any) ckafka.ConfigMap {
	cm := ckafka.ConfigMap{}
	for k, v := range defaults {
		cm[k] = v
	}
	for k, v := range p {
		cm[k] = v
	}
	if p[OAuthProviderKey] != "" {
		if p["security.protocol"] == "" {
			cm["security.protocol"] = "SASL_SSL"
		}
		if p["sasl.mechanisms"] == "" && p["sasl.mechanism"] == "" {
			cm["sasl.mechanisms"] = "OAUTHBEARER"
		}
	}
	for k, v := range overrides {
		cm[k] = v
	}
	return cm
}

// Resolve returns the properties of an app's --config file (none when
// configPath is empty) with bootstrap.servers overridden by --bootstrap when
// it is set. It is an error when neither names a cluster.
func Resolve(configPath, bootstrap string) (Properties, error) {
	if configPath == "" && bootstrap == "" {
		return nil, fmt.Errorf("no Kafka cluster: give --config FILE (librdkafka properties) or --bootstrap HOST:PORT")
	}
	props := Properties{}
	if configPath != "" {
		var err error
		if props, err = Load(configPath); err != nil {
			return nil, err
		}
	}
	if bootstrap != "" {
		props["bootstrap.servers"] = bootstrap
	}
	if props["bootstrap.servers"] == "" {
		return nil, fmt.Errorf("no bootstrap.servers in %s and no --bootstrap", configPath)
	}
	return props, nil
}

// The configuration rules. Each client's ConfigMap is built by one function
// below, from the properties file and these definitions, each written once.

// consumerDefaults are the librdkafka properties every consumer (the group
// consumer and the dashboard reader) starts from; the properties file may
// override them.
//
// fetch.queue.backoff.ms: librdkafka's default of 1000 ms makes a consumer
// that has drained its prefetch queue sit idle for up to a second; 20 ms keeps
// it busy without spinning (see BENCHMARKS.md).
var consumerDefaults = map[string]any{
	"fetch.queue.backoff.ms": 20,
	"session.timeout.ms":     10000,
	"heartbeat.interval.ms":  1000,
}

// idempotent are the properties every producer forces over the properties
// file: idempotent delivery (no duplicates or reordering on retries) and acks
// from all in-sync replicas.
var idempotent = map[string]any{
	"enable.idempotence": true,
	"acks":               "all",
}

// LingerMS is the linger.ms the producer and the emit producer force:
// messages wait up to 20 ms to fill a batch. That is invisible next to the
// consumer's 5-minute windows and lets a replay batch thousands of messages
// per request.
const LingerMS = 20

// groupConfig is the configuration of the consumer's group member. The
// properties file may override consumerDefaults and auto.offset.reset
// (earliest); the consumer owns the commit settings (its commit protocol
// stores offsets itself), group.id, client.id and group.instance.id (static
// membership, when instanceID is set).
func groupConfig(props Properties, group, client, instanceID string) ckafka.ConfigMap {
	owned := map[string]any{
		"enable.auto.commit":       false,
		"enable.auto.offset.store": false,
		"enable.partition.eof":     false,
		"group.id":                 group,
		"client.id":                client,
	}
	if instanceID != "" {
		owned["group.instance.id"] = instanceID
	}
	return props.ConfigMap(merge(consumerDefaults, map[string]any{"auto.offset.reset": "earliest"}), merge(owned, logSettings))
}

// readerConfig is the configuration of the dashboard's reader: it reads from
// the beginning of the retained messages and commits nothing, under group.id
// group (confluent-kafka-go requires one even when no group is joined).
func readerConfig(props Properties, group string) ckafka.ConfigMap {
	return props.ConfigMap(consumerDefaults, merge(map[string]any{
		"auto.offset.reset":    "earliest",
		"enable.auto.commit":   false,
		"enable.partition.eof": false,
		"group.id":             group,
		"client.id":            "turnstile-dashboard",
	}, logSettings))
}

// deadLetterConfig is the configuration of the consumer's dead-letter
// producer: idempotent, client.id CLIENT-dead-letter.
func deadLetterConfig(props Properties, client string) ckafka.ConfigMap {
	return props.ConfigMap(nil, merge(map[string]any{"client.id": client + "-dead-letter"}, idempotent, logSettings))
}

// emitConfig is the configuration of the consumer's transactional emit
// producer: idempotent, batching through linger.ms, client.id CLIENT-emit
// and the given transactional.id.
func emitConfig(props Properties, client, transactionalID string) ckafka.ConfigMap {
	return props.ConfigMap(nil, merge(map[string]any{
		"client.id": client + "-emit", "transactional.id": transactionalID, "linger.ms": LingerMS,
	}, idempotent, logSettings))
}

// WriteTimeoutFor returns the write timeout for a consumer whose
// max.poll.interval.ms is the given value (librdkafka's default, 300000, when
// it is empty): a third of it, so that a failing write leaves time to poll.
func WriteTimeoutFor(maxPollIntervalMs string) (time.Duration, error) {
	ms := 300000
	if maxPollIntervalMs != "" {
		var err error
		if ms, err = strconv.Atoi(maxPollIntervalMs); err != nil || ms <= 0 {
			return 0, fmt.Errorf("max.poll.interval.ms %q: want a positive number of milliseconds", maxPollIntervalMs)
		}
	}
	return time.Duration(ms) * time.Millisecond / 3, nil
}

// ConfigError is the error of a client that librdkafka refused to create
// with its configuration (an unknown or invalid property): a usage error, not
// a runtime one.
type ConfigError struct {
	What string // the client: "kafka" for the group consumer
	Err  error
}

func (e *ConfigError) Error() string { return e.What + ": " + e.Err.Error() }

func (e *ConfigError) Unwrap() error { return e.Err }

// merge returns the union of ms; a later map wins on a shared key.
func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
