// Package metrics exposes a producer's counters as Prometheus metrics, in a
// private registry that internal/ops serves with /healthz and /readyz.
package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/turnstile-stream/turnstile-stream/internal/ops"
	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// The names of the producer's counters, all turnstile_producer_*.
const (
	Read       = "turnstile_producer_read_total"
	Sent       = "turnstile_producer_sent_total"
	Failed     = "turnstile_producer_failed_total"
	Skipped    = "turnstile_producer_skipped_total"
	Resets     = "turnstile_producer_resets_total"
	Duplicates = "turnstile_producer_duplicates_total"
	Queued     = "turnstile_producer_queued_total"
)

// NewRegistry returns a registry with the producer's counters, read straight
// from c at scrape time, and the Go runtime and process collectors.
func NewRegistry(c *publish.Counters) *prometheus.Registry {
	reg := ops.NewRegistry()
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: name, Help: help,
		}, func() float64 { return float64(v.Load()) })
	}
	reg.MustRegister(
		counter(Read, "Input rows read (replay) or records generated (synthetic).", &c.Read),
		counter(Sent, "Messages delivered (acknowledged by the broker, or written with --out).", &c.Sent),
		counter(Failed, "Messages whose delivery failed.", &c.Failed),
		counter(Skipped, "Bad input rows skipped.", &c.Skipped),
		counter(Resets, "Readings skipped as counter resets or bad readings (delta negative or above --max-delta).", &c.Resets),
		counter(Duplicates, "Readings ignored as repeats of a turnstile and time.", &c.Duplicates),
		counter(Queued, "Messages handed to the sink.", &c.Queued),
	)
	return reg
}
