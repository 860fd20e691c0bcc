package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// consumerMetrics is a scrape of the consumer's /metrics.
const consumerMetrics = `# HELP turnstile_consumer_lag Consumer lag per partition: high watermark minus next offset to read.
# TYPE turnstile_consumer_lag gauge
turnstile_consumer_lag{partition="0"} 12
turnstile_consumer_lag{partition="1"} 0
turnstile_consumer_lag{partition="2"} 30
# HELP turnstile_consumer_watermark_seconds Event-time watermark per partition, Unix seconds.
# TYPE turnstile_consumer_watermark_seconds gauge
turnstile_consumer_watermark_seconds{partition="0"} 1.5569715e+09
turnstile_consumer_watermark_seconds{partition="1"} 1.5569712e+09
turnstile_consumer_watermark_seconds{partition="2"} 0
turnstile_consumer_windows_emitted_total 7
`

func TestParseConsumerMetrics(t *testing.T) {
	lag, wm, err := ParseConsumerMetrics(strings.NewReader(consumerMetrics))
	if err != nil {
		t.Fatal(err)
	}
	if len(lag) != 3 || lag["0"] != 12 || lag["2"] != 30 {
		t.Errorf("lag = %v", lag)
	}
	if len(wm) != 3 || wm["0"] != 1556971500 || wm["1"] != 1556971200 {
		t.Errorf("watermarks = %v", wm)
	}
	if _, _, err := ParseConsumerMetrics(strings.NewReader(`turnstile_consumer_lag{partition="0"} lots`)); err == nil {
		t.Error("a non-numeric value was accepted")
	}
}

func TestParseConsumerMetricsLabels(t *testing.T) {
	tests := []struct {
		name, text string
		want       map[string]int64
	}{
		{"partition alone", `turnstile_consumer_lag{partition="3"} 5`, map[string]int64{"3": 5}},
		{"a comma in another label", `turnstile_consumer_lag{topic="a,b",partition="7"} 1`, map[string]int64{"7": 1}},
		{"escaped quotes", `turnstile_consumer_lag{topic="say \"hi\"", partition="12"} 2`, map[string]int64{"12": 2}},
		{"no partition label", `turnstile_consumer_lag{topic="x"} 4`, map[string]int64{"": 4}},
		{"typed gauge with a timestamp", "# TYPE turnstile_consumer_lag gauge\nturnstile_consumer_lag{partition=\"1\"} 9 1700000000000", map[string]int64{"1": 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lag, _, err := ParseConsumerMetrics(strings.NewReader(tt.text + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if len(lag) != len(tt.want) {
				t.Fatalf("lag = %v, want %v", lag, tt.want)
			}
			for k, v := range tt.want {
				if lag[k] != v {
					t.Errorf("lag = %v, want %v", lag, tt.want)
				}
			}
		})
	}
	for _, bad := range []string{
		`turnstile_consumer_lag{partition="0"} NaN`,
		`turnstile_consumer_watermark_seconds{partition="0"} +Inf`,
		`turnstile_consumer_lag{partition="0" 1`,
	} {
		if _, _, err := ParseConsumerMetrics(strings.NewReader(bad + "\n")); err == nil {
			t.Errorf("%q parsed without error", bad)
		}
	}
}

func TestScrapeConsumer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(consumerMetrics))
	}))
	defer srv.Close()
	now := time.Unix(1556971200+90, 0)
	c := ScrapeConsumer(context.Background(), srv.Client(), srv.URL+"/metrics", now)
	if !c.OK || c.Lag != 42 || c.Partitions != 3 || c.Watermark != 1556971200 || c.WatermarkDelay != 90 {
		t.Errorf("scrape = %+v, want lag 42 over 3 partitions, lowest watermark 1556971200, delay 90s", c)
	}
	c = ScrapeConsumer(context.Background(), srv.Client(), srv.URL+"/nothing", now)
	if c.OK || !strings.Contains(c.Error, "404") {
		t.Errorf("scrape of a 404 = %+v", c)
	}

	d := New(Config{Now: func() time.Time { return now }})
	d.SetConsumerHealth(ScrapeConsumer(context.Background(), srv.Client(), srv.URL+"/metrics", now))
	d.SetReaderLag(func() int64 { return 5 })
	if h := d.Health(); h.Consumer == nil || h.Consumer.Lag != 42 || h.ReaderLag != 5 || h.LastMessageAge != -1 {
		t.Errorf("health = %+v", h)
	}
}
