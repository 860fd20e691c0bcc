// Package e2e is the end-to-end suite of turnstile-stream: it builds the real
// producer and consumer binaries, runs them as processes against a Kafka
// protocol broker (an external cluster, Kafka in Docker through
// testcontainers, or franz-go's in-process kfake) and an in-process GCS
// emulator, and compares the window files in the lake row for row with the
// expected CSV files under testdata/. See README.md.
//
// The package holds only tests; run them with
//
//	go test -race -count=1 ./tests/e2e/...
package e2e
