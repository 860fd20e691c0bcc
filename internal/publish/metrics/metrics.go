// Package metrics exposes a producer's counters as Prometheus metrics, in a
// private registry that internal/ops serves with /healthz and /readyz.
package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/turnstile-stream/turnstile-stream/internal/ops"
	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// NewRegistry returns a registry with the producer's counters, read straight
// from c at scrape time, and the Go runtime and process collectors.
func NewRegistry(c *publish.Counters) *prometheus.Registry {
	reg := ops.NewRegistry()
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "turnstile", Subsystem: "producer", Name: name, Help: help,
		}, func() float64 { return float64(v.Load()) })
	}
	reg.MustRegister(
		counter("read_total", "Input rows read (replay) or records generated (synthetic).", &c.Read),
		counter("sent_total", "Messages delivered (acknowledged by the broker, or written with --out).", &c.Sent),
		counter("failed_total", "Messages whose delivery failed.", &c.Failed),
		counter("skipped_total", "Bad input rows skipped.", &c.Skipped),
		counter("resets_total", "Readings skipped as counter resets or bad readings (delta negative or above --max-delta).", &c.Resets),
		counter("duplicates_total", "Readings ignored as repeats of a turnstile and time.", &c.Duplicates),
		counter("queued_total", "Messages handed to the sink.", &c.Queued),
	)
	return reg
}
