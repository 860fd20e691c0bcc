package kafka

import (
	"context"
	"log/slog"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// logSettings make a client hand librdkafka's log lines to its Logs channel
// instead of printing them on stderr. Every client this package makes has
// them and forwards the lines to its slog.Logger with forwardLogs: the
// channel must be read, or librdkafka's log queue grows.
var logSettings = map[string]any{"go.logs.channel.enable": true}

// forwardLogs logs each line that arrives on logs (a client's Logs channel)
// with log, at the slog level of its syslog level (logLevel), with the
// attributes source=librdkafka, client (the client instance's name) and tag.
// It returns at once; the returned channel is closed once logs is closed,
// which confluent-kafka-go does when the client is closed (at once when logs
// is nil: the client was made without logSettings).
func forwardLogs(logs <-chan ckafka.LogEvent, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	if logs == nil { // a client made without logSettings
		close(done)
		return done
	}
	go func() {
		defer close(done)
		for l := range logs {
			log.Log(context.Background(), logLevel(l.Level), l.Message, "source", "librdkafka", "client", l.Name, "tag", l.Tag)
		}
	}()
	return done
}

// logLevel maps a librdkafka (syslog) level to slog: 3 (error) and below to
// Error, 4 (warning) to Warn, 5 (notice) to Info, 6 (info) and 7 (debug) to
// Debug.
func logLevel(syslog int) slog.Level {
	switch {
	case syslog <= 3:
		return slog.LevelError
	case syslog == 4:
		return slog.LevelWarn
	case syslog == 5:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}
