package kafka

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

func TestLogLevel(t *testing.T) {
	for _, tt := range []struct {
		syslog int
		want   slog.Level
	}{
		{0, slog.LevelError}, {2, slog.LevelError}, {3, slog.LevelError},
		{4, slog.LevelWarn}, {5, slog.LevelInfo}, {6, slog.LevelDebug}, {7, slog.LevelDebug},
	} {
		if got := logLevel(tt.syslog); got != tt.want {
			t.Errorf("logLevel(%d) = %v, want %v", tt.syslog, got, tt.want)
		}
	}
}

func TestForwardLogs(t *testing.T) {
	var buf bytes.Buffer
	logs := make(chan ckafka.LogEvent, 2)
	logs <- ckafka.LogEvent{Name: "rdkafka#producer-1", Tag: "FAIL", Message: "Connect to ipv4#127.0.0.1:1 failed", Level: 3}
	logs <- ckafka.LogEvent{Name: "rdkafka#producer-1", Tag: "BROKER", Message: "chatter", Level: 7}
	close(logs)
	<-forwardLogs(logs, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	got := buf.String()
	want := `level=ERROR msg="Connect to ipv4#127.0.0.1:1 failed" source=librdkafka client=rdkafka#producer-1 tag=FAIL`
	if !strings.Contains(got, want) {
		t.Errorf("log %q lacks %q", got, want)
	}
	if strings.Contains(got, "chatter") {
		t.Errorf("a debug line passed an info logger: %q", got)
	}
}

// TestEveryClientLogsThroughSlog checks that each client the package makes
// hands librdkafka's log lines to its slog.Logger (here the debug lines that
// the debug property turns on).
func TestEveryClientLogsThroughSlog(t *testing.T) {
	props := func() Properties {
		return Properties{"bootstrap.servers": "127.0.0.1:1", "debug": "generic", "enable.metrics.push": "false"}
	}
	for _, tc := range []struct {
		name string
		open func(log *slog.Logger) (close func(), err error)
	}{
		{"producer", func(log *slog.Logger) (func(), error) {
			var c publish.Counters
			p, err := NewProducer(ProducerConfig{Props: props(), Topic: "t", Counters: &c, Logger: log})
			if err != nil {
				return nil, err
			}
			return func() { _ = p.Close(t.Context()) }, nil
		}},
		{"group consumer", func(log *slog.Logger) (func(), error) {
			g, err := OpenGroup(t.Context(), GroupConfig{Props: props(), Group: "g", Client: "c", Topic: "t", Logger: log})
			if err != nil {
				return nil, err
			}
			return func() { _ = g.Close() }, nil
		}},
		{"dead-letter producer", func(log *slog.Logger) (func(), error) {
			dl, err := OpenDeadLetter(props(), "c", "t", log)
			if err != nil {
				return nil, err
			}
			return dl.Close, nil
		}},
		{"emit producer", func(log *slog.Logger) (func(), error) {
			b, err := kafkatest.Start()
			if err != nil {
				return nil, err
			}
			pr := props()
			pr["bootstrap.servers"] = b.Addr()
			e, err := NewEmitter(t.Context(), emitConfig(pr, "c", "txn"), "t", log)
			if err != nil {
				b.Close()
				return nil, err
			}
			return func() { e.Close(); b.Close() }, nil
		}},
		{"dashboard reader", func(log *slog.Logger) (func(), error) {
			r, err := OpenReader(ReaderConfig{Props: props(), Topic: "t", Logger: log})
			if err != nil {
				return nil, err
			}
			return func() { _ = r.Close() }, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncBuffer
			closeClient, err := tc.open(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatal(err)
			}
			defer closeClient()
			// Lines still in librdkafka's queue when a client closes may be
			// dropped: wait for one before closing.
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(buf.String(), "source=librdkafka") {
				if time.Now().After(deadline) {
					t.Fatalf("no librdkafka line reached the logger within 10s:\n%s", buf.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
