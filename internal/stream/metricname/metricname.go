// Package metricname names the consumer's Prometheus metrics that other
// programs read. internal/stream registers its metrics under these names; the
// dashboard's health reader, runlocal check, scripts' documentation and the
// tests read them by these names. It is a package of its own so that a reader
// can name a metric without linking the consumer (internal/stream brings the
// lake's GCS client with it).
package metricname

// The consumer's metrics that other programs read. All are named
// turnstile_consumer_*.
const (
	// RecordsIn counts the message values read (Kafka records or input lines).
	RecordsIn = "turnstile_consumer_records_in_total"
	// RecordsValid counts the records that parsed as valid.
	RecordsValid = "turnstile_consumer_records_valid_total"
	// RecordsDuplicate counts the valid records dropped as already seen.
	RecordsDuplicate = "turnstile_consumer_records_duplicate_total"
	// RecordsRejected counts the invalid records, by label "reason".
	RecordsRejected = "turnstile_consumer_records_rejected_total"
	// WindowsEmitted counts the closed windows written to the lake.
	WindowsEmitted = "turnstile_consumer_windows_emitted_total"
	// SinkRetries counts the lake writes retried after a transient error.
	SinkRetries = "turnstile_consumer_sink_retries_total"
	// WatermarkSeconds is the event-time watermark of each partition (label
	// Partition), Unix seconds.
	WatermarkSeconds = "turnstile_consumer_watermark_seconds"
	// Lag is the consumer lag of each partition (label Partition): the high
	// watermark minus the next offset to read.
	Lag = "turnstile_consumer_lag"
)

// Partition is the label that holds the partition number of Lag and
// WatermarkSeconds.
const Partition = "partition"
