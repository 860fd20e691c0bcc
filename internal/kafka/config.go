// Package kafkaconf loads librdkafka client properties from a key=value file,
// like the Spark job's docker-kafka.properties, and turns them into
// confluent-kafka-go configuration.
//
// The file format: one key=value per line; blank lines and lines starting with
// # are ignored; spaces around keys and values are trimmed; a value may hold
// '='. A value of the form ${NAME} is read from the environment variable NAME,
// so that secrets need not live in the file. Secret values are never logged:
// use Properties.Redacted to print a configuration.
package kafkaconf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Properties are librdkafka configuration properties.
type Properties map[string]string

// Load reads a properties file. A missing or unreadable file, a line without
// '=', an empty key or an unset ${VAR} is an error that names the file and line.
func Load(path string) (Properties, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kafka properties: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
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
// (such as enable.auto.commit for the consumer) belong in overrides.
func (p Properties) ConfigMap(defaults, overrides map[string]any) kafka.ConfigMap {
	cm := kafka.ConfigMap{}
	for k, v := range defaults {
		cm[k] = v
	}
	for k, v := range p {
		cm[k] = v
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
