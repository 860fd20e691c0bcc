package dashboard

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/turnstile-stream/turnstile-stream/internal/stream/metricname"
)

// Health is the pipeline health the page shows.
type Health struct {
	Now            int64 `json:"now"`        // wall clock, Unix seconds
	NewestEnd      int64 `json:"newest_end"` // newest window end seen, event time
	OldestEnd      int64 `json:"oldest_end"`
	WindowSeconds  int64 `json:"window"`
	HistorySeconds int64 `json:"history"`
	Rows           int   `json:"rows"`
	Buckets        int   `json:"buckets"`
	Evicted        int64 `json:"evicted"`
	Added          int64 `json:"added"`
	Duplicates     int64 `json:"duplicates"`
	TooOld         int64 `json:"too_old"`
	Future         int64 `json:"future"`
	Bad            int64 `json:"bad"`
	// LastMessageAge is the wall-clock time since the last window message,
	// seconds; -1 before the first.
	LastMessageAge float64 `json:"last_message_age"`
	// ReaderLag is how many window messages the dashboard has yet to read;
	// -1 when unknown.
	ReaderLag int64           `json:"reader_lag"`
	Clients   int             `json:"clients"`
	Consumer  *ConsumerHealth `json:"consumer,omitempty"`
	// Turnstile says whether a turnstile window topic is read; the page
	// hides the turnstile panels when it is not (Config.NoTurnstile).
	Turnstile bool `json:"turnstile"`
}

// ConsumerHealth is what the consumer's metrics endpoint said.
type ConsumerHealth struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// ScrapedAt is when the metrics were read, Unix seconds.
	ScrapedAt int64 `json:"scraped_at"`
	// Lag is turnstile_consumer_lag summed over partitions.
	Lag        int64 `json:"lag"`
	Partitions int   `json:"partitions"`
	// Watermark is the lowest turnstile_consumer_watermark_seconds over the
	// partitions that have one: no window ending after it has closed on every
	// partition. 0 when none has one.
	Watermark int64 `json:"watermark"`
	// WatermarkDelay is the wall clock at the scrape minus Watermark, seconds.
	WatermarkDelay float64 `json:"watermark_delay"`
}

// SetReaderLag sets the function that reports how far the dashboard's own
// Kafka reader is behind (-1: unknown).
func (d *Dashboard) SetReaderLag(f func() int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.readerLag = f
}

// SetConsumerHealth records the latest scrape of the consumer's metrics.
func (d *Dashboard) SetConsumerHealth(c ConsumerHealth) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.consumer = &c
}

// Health returns the current health.
func (d *Dashboard) Health() Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.healthLocked()
}

func (d *Dashboard) healthLocked() Health {
	now := d.now()
	h := Health{
		Now: now.Unix(), NewestEnd: d.hist.Newest(), OldestEnd: d.hist.Oldest(), WindowSeconds: d.hist.WindowSeconds(),
		HistorySeconds: int64(d.hist.Limit() / time.Second), Rows: d.hist.Len(), Buckets: d.hist.Buckets(),
		Evicted: d.hist.Evicted(), Added: d.counts[Added], Duplicates: d.counts[Duplicate], TooOld: d.counts[TooOld],
		Future: d.counts[Future],
		Bad:    d.bad, LastMessageAge: -1, ReaderLag: -1, Clients: d.hub.Len(), Turnstile: d.turnstile,
	}
	if !d.lastMessage.IsZero() {
		h.LastMessageAge = now.Sub(d.lastMessage).Seconds()
	}
	if d.readerLag != nil {
		h.ReaderLag = d.readerLag()
	}
	if d.consumer != nil {
		c := *d.consumer
		h.Consumer = &c
	}
	return h
}

// BroadcastHealth sends a "health" event to every browser.
func (d *Dashboard) BroadcastHealth() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hub.Broadcast(d.event("health", false, d.healthLocked()))
}

// ScrapeConsumer reads the consumer's Prometheus metrics at url and sums up
// turnstile_consumer_lag and turnstile_consumer_watermark_seconds.
func ScrapeConsumer(ctx context.Context, client *http.Client, url string, now time.Time) ConsumerHealth {
	c := ConsumerHealth{ScrapedAt: now.Unix()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	resp, err := client.Do(req)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.Error = "consumer metrics: " + resp.Status
		return c
	}
	lag, watermarks, err := ParseConsumerMetrics(resp.Body)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	c.OK = true
	c.Partitions = max(len(lag), len(watermarks))
	for _, v := range lag {
		c.Lag += v
	}
	for _, w := range watermarks {
		if w > 0 && (c.Watermark == 0 || w < c.Watermark) {
			c.Watermark = w
		}
	}
	if c.Watermark > 0 {
		c.WatermarkDelay = float64(now.Unix() - c.Watermark)
	}
	return c
}

// ParseConsumerMetrics reads Prometheus text exposition and returns
// turnstile_consumer_lag and turnstile_consumer_watermark_seconds by
// partition label. A value that is not a finite number is an error.
func ParseConsumerMetrics(r io.Reader) (lag, watermark map[string]int64, err error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, nil, fmt.Errorf("consumer metrics: %w", err)
	}
	if lag, err = byPartition(fams[metricname.Lag]); err != nil {
		return nil, nil, err
	}
	if watermark, err = byPartition(fams[metricname.WatermarkSeconds]); err != nil {
		return nil, nil, err
	}
	return lag, watermark, nil
}

// byPartition returns the samples of a gauge (or untyped) family by their
// partition label, truncated to integers.
func byPartition(f *dto.MetricFamily) (map[string]int64, error) {
	out := map[string]int64{}
	for _, m := range f.GetMetric() {
		v := m.GetGauge().GetValue()
		if m.GetGauge() == nil {
			v = m.GetUntyped().GetValue()
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("consumer metrics: %s: value %v", f.GetName(), v)
		}
		part := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == metricname.Partition {
				part = l.GetValue()
			}
		}
		out[part] = int64(v)
	}
	return out, nil
}
