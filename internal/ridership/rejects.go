package ridership

import (
	"io"
	"log/slog"
	"strings"
)

// LogRejects returns a Config.Rejects writer that logs each bad row on log
// at WARN, as the turnstile replay logs its bad rows: the message "skipping
// bad row" and the reject line (where, why, and the row) as the attribute
// "reject". Run writes whole lines, one or more per Write; empty lines are
// dropped.
func LogRejects(log *slog.Logger) io.Writer {
	return rejectLog{log}
}

type rejectLog struct{ log *slog.Logger }

func (w rejectLog) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(string(p), "\n") {
		if line = strings.TrimSuffix(line, "\r"); line != "" {
			w.log.Warn("skipping bad row", "reject", line)
		}
	}
	return len(p), nil
}
