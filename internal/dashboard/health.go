package dashboard

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
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
		Bad:    d.bad, LastMessageAge: -1, ReaderLag: -1, Clients: d.hub.Len(),
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
// partition label.
func ParseConsumerMetrics(r io.Reader) (lag, watermark map[string]int64, err error) {
	lag, watermark = map[string]int64{}, map[string]int64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		var into map[string]int64
		switch {
		case strings.HasPrefix(line, "turnstile_consumer_lag{"):
			into = lag
		case strings.HasPrefix(line, "turnstile_consumer_watermark_seconds{"):
			into = watermark
		default:
			continue
		}
		labels, value, ok := strings.Cut(line[strings.IndexByte(line, '{')+1:], "} ")
		if !ok {
			return nil, nil, fmt.Errorf("consumer metrics: bad line %q", line)
		}
		part := labelValue(labels, "partition")
		fields := strings.Fields(value)
		if len(fields) == 0 {
			return nil, nil, fmt.Errorf("consumer metrics: no value in %q", line)
		}
		f, err := strconv.ParseFloat(fields[0], 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, nil, fmt.Errorf("consumer metrics: bad value in %q", line)
		}
		into[part] = int64(f)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("consumer metrics: %w", err)
	}
	return lag, watermark, nil
}

// labelValue returns the value of label name in a Prometheus label set
// such as `partition="3",topic="x"`.
func labelValue(labels, name string) string {
	for labels != "" {
		k, rest, ok := strings.Cut(labels, `="`)
		if !ok {
			return ""
		}
		end := strings.IndexByte(rest, '"')
		for end > 0 && rest[end-1] == '\\' {
			next := strings.IndexByte(rest[end+1:], '"')
			if next < 0 {
				return ""
			}
			end += next + 1
		}
		if end < 0 {
			return ""
		}
		if strings.TrimSpace(k) == name {
			return rest[:end]
		}
		labels = strings.TrimPrefix(rest[end+1:], ",")
	}
	return ""
}
