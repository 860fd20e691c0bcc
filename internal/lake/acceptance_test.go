package lake_test

import (
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/lake/laketest"
)

// TestBucketAcceptance runs the acceptance suite on every backend of the
// package: memory, folder, and GCS against the fake server.
func TestBucketAcceptance(t *testing.T) {
	for name, newBucket := range lake.NewBackends() {
		t.Run(name, func(t *testing.T) { laketest.Run(t, newBucket) })
	}
}
