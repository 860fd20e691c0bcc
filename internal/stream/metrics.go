package stream

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/turnstile-stream/turnstile-stream/internal/stream/metricname"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Metrics are the consumer's Prometheus metrics, all named turnstile_consumer_*.
// Those that other programs read are named by the constants of package
// metricname.
type Metrics struct {
	recordsIn, valid, duplicates, late, replayed prometheus.Counter
	rejected                                     *prometheus.CounterVec
	splitKeys                                    prometheus.Counter
	windowsOpen, cellsOpen, keys                 prometheus.Gauge
	windowsEmitted, rowsWritten                  prometheus.Counter
	files, bytes                                 *prometheus.CounterVec
	watermarkSeconds, lag                        *prometheus.GaugeVec
	sinkRetries                                  prometheus.Counter
	commits, commitErrors                        prometheus.Counter
	txnAborts, windowsKept                       prometheus.Counter
	paused                                       prometheus.Gauge
	fenced                                       prometheus.Counter
	partitionCountChanged                        prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, as in tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "turnstile_consumer_" + name, Help: help})
	}
	named := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &Metrics{
		recordsIn:  named(metricname.RecordsIn, "Message values read (Kafka records or input lines)."),
		valid:      named(metricname.RecordsValid, "Records that parsed as valid."),
		duplicates: named(metricname.RecordsDuplicate, "Valid records dropped because their (ID, STATION, TIMESTAMP) was already seen."),
		late:       c("records_late_total", "Valid records that missed at least one closed window; written to the late output."),
		replayed:   c("records_replayed_total", "Records replayed after a restart or rebalance, up to the last processed offset."),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricname.RecordsRejected, Help: "Invalid records, by reason; written to the dead-letter output.",
		}, []string{"reason"}),
		splitKeys:      c("split_keys_total", "Turnstile keys seen on more than one partition (the topic needs a single partition or CA|UNIT|SCP keys)."),
		windowsOpen:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "turnstile_consumer_windows_open", Help: "Open windows over all assigned partitions."}),
		cellsOpen:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "turnstile_consumer_window_keys_open", Help: "Open (window, key) pairs over all assigned partitions."}),
		keys:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "turnstile_consumer_keys", Help: "Turnstile keys in memory: held by an open window, or idle and not yet forgotten."}),
		windowsEmitted: named(metricname.WindowsEmitted, "Closed windows written to the lake."),
		rowsWritten:    c("rows_written_total", "(window, key) rows written to the lake."),
		files: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnstile_consumer_files_written_total", Help: "Objects written, by kind (window, rejected, late).",
		}, []string{"kind"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnstile_consumer_bytes_written_total", Help: "Compressed bytes written, by kind (window, rejected, late).",
		}, []string{"kind"}),
		watermarkSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricname.WatermarkSeconds, Help: "Event-time watermark per partition, Unix seconds.",
		}, []string{metricname.Partition}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricname.Lag, Help: "Consumer lag per partition: high watermark minus next offset to read.",
		}, []string{metricname.Partition}),
		sinkRetries:  named(metricname.SinkRetries, "Lake writes retried after a transient error."),
		commits:      c("commits_total", "Offset commits."),
		commitErrors: c("commit_errors_total", "Offset commits that failed (retried at the next checkpoint)."),
		txnAborts:    c("transactions_aborted_total", "Emit-topic transactions aborted; their partitions were rewound to the last commit."),
		windowsKept:  c("windows_kept_total", "Window files left as they were because a partition without commit metadata rebuilt them (see docs/consumer.md)."),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "turnstile_consumer_partitions_paused", Help: "Partitions paused because a lake or dead-letter write keeps failing.",
		}),
		fenced: c("partitions_fenced_total", "Partitions dropped because a newer owner had claimed them (a window file of a higher epoch, a lost claim, or a transaction aborted after the partition was lost)."),
		partitionCountChanged: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "turnstile_consumer_partition_count_changed",
			Help: "1 when the topic's partition count differs from the one its partitions were consumed under: the consumer takes no more records (docs/consumer.md, \"Growing the topic\").",
		}),
	}
	for _, r := range turnstile.Reasons {
		m.rejected.WithLabelValues(string(r))
	}
	for _, k := range []string{"window", "rejected", "late"} {
		m.files.WithLabelValues(k)
		m.bytes.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(m.recordsIn, m.valid, m.duplicates, m.late, m.replayed, m.rejected, m.splitKeys,
			m.windowsOpen, m.cellsOpen, m.keys, m.windowsEmitted, m.rowsWritten, m.files, m.bytes,
			m.watermarkSeconds, m.lag, m.sinkRetries, m.commits, m.commitErrors, m.txnAborts, m.windowsKept, m.paused,
			m.fenced, m.partitionCountChanged)
	}
	return m
}

// SinkRetry counts one retried lake write.
func (m *Metrics) SinkRetry() { m.sinkRetries.Inc() }

func (m *Metrics) watermarkGauge(partition int32) prometheus.Gauge {
	return m.watermarkSeconds.WithLabelValues(strconv.Itoa(int(partition)))
}

// The Kafka source (internal/kafka) reports through these.

// SetLag sets a partition's lag: its high watermark minus the next offset to
// read.
func (m *Metrics) SetLag(partition int32, lag int64) {
	m.lag.WithLabelValues(strconv.Itoa(int(partition))).Set(float64(lag))
}

// Commit counts one offset commit.
func (m *Metrics) Commit() { m.commits.Inc() }

// CommitError counts one failed offset commit.
func (m *Metrics) CommitError() { m.commitErrors.Inc() }

// TxnAbort counts one aborted emit-topic transaction.
func (m *Metrics) TxnAbort() { m.txnAborts.Inc() }

// PartitionFenced counts a partition dropped for a newer owner.
func (m *Metrics) PartitionFenced() { m.fenced.Inc() }

// PartitionCountChanged sets the partition-count-changed gauge.
func (m *Metrics) PartitionCountChanged(changed bool) {
	v := 0.0
	if changed {
		v = 1
	}
	m.partitionCountChanged.Set(v)
}

// PartitionPaused counts one more paused partition.
func (m *Metrics) PartitionPaused() { m.paused.Inc() }

// PartitionResumed counts one fewer paused partition.
func (m *Metrics) PartitionResumed() { m.paused.Dec() }

func (m *Metrics) forget(partition int32) {
	p := strconv.Itoa(int(partition))
	m.watermarkSeconds.DeleteLabelValues(p)
	m.lag.DeleteLabelValues(p)
}

// RecordsIn returns the number of message values read so far. It is safe to
// call from any goroutine.
func (m *Metrics) RecordsIn() float64 {
	var out dto.Metric
	if err := m.recordsIn.Write(&out); err != nil {
		return 0
	}
	return out.GetCounter().GetValue()
}
