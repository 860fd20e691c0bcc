package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/stream/metricname"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

const windowTopic = "mta-turnstile-windows"

// findChromium returns Debian's chromium. A missing browser fails the test:
// the browser test is part of make test, and .ci/run installs it.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: the dashboard browser test needs Debian's chromium; install it with `apt-get install -y chromium` (.ci/run does), or set CHROMIUM=/path/to/chromium")
	return ""
}

// lockedBuffer collects the dashboard's log while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDashboard runs the dashboard app against the broker at addr and
// returns the page's URL. It stops at the end of the test.
func startDashboard(t *testing.T, addr string, extra ...string) string {
	t.Helper()
	props := filepath.Join(t.TempDir(), "kafka.properties")
	var conf bytes.Buffer
	for k, v := range kafkatest.ClientDefaults {
		fmt.Fprintf(&conf, "%s=%v\n", k, v)
	}
	if err := os.WriteFile(props, conf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan int, 1)
	logs := &lockedBuffer{}
	go func() {
		done <- run(ctx, append([]string{"--config", props, "--bootstrap", addr, "--topic", windowTopic,
			"--addr", "127.0.0.1:0", "--history", "24h"}, extra...), logs, listening)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("dashboard exited %d; log:\n%s", code, logs)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("dashboard did not stop within 30s; log:\n%s", logs)
		}
	})
	select {
	case u := <-listening:
		return u
	case code := <-done:
		t.Fatalf("dashboard exited %d before listening; log:\n%s", code, logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("dashboard not listening within 60s; log:\n%s", logs)
	}
	return ""
}

// produceWindows writes window rows to the topic as the consumer's
// --emit-topic does (key, CSV value, window_start/window_end headers) and
// waits until all are delivered.
func produceWindows(t *testing.T, addr string, rows []turnstile.WindowCount) {
	t.Helper()
	cm := kafka.ConfigMap{"bootstrap.servers": addr, "enable.idempotence": true, "acks": "all", "linger.ms": 1}
	for k, v := range kafkatest.ClientDefaults {
		cm[k] = v
	}
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	deliveries := make(chan kafka.Event, len(rows))
	topic := windowTopic
	for i := range rows {
		key, value, hs := turnstile.EncodeWindowMessage(&rows[i], 5*time.Minute)
		headers := make([]kafka.Header, len(hs))
		for j, h := range hs {
			headers[j] = kafka.Header{Key: h.Key, Value: h.Value}
		}
		msg := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Key: key, Value: value, Headers: headers}
		if err := p.Produce(msg, deliveries); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	timeout := time.After(30 * time.Second)
	for range rows {
		select {
		case ev := <-deliveries:
			if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil {
				t.Fatalf("delivery: %v", m.TopicPartition.Error)
			}
		case <-timeout:
			t.Fatal("deliveries not reported within 30s")
		}
	}
}

type station struct{ name, lines, ca, unit, div string }

var stations = []station{
	{"59 ST", "NQR456W", "A002", "R051", "BMT"},
	{"34 ST-PENN STA", "ACE", "N067", "R012", "IND"},
	{"GRD CNTRL-42 ST", "4567S", "R240", "R047", "IRT"},
	{"TIMES SQ-42 ST", "1237ACENQRSW", "R145", "R032", "IRT"},
	{"14 ST-UNION SQ", "LNQR456W", "A033", "R170", "BMT"},
	{"FULTON ST", "2345ACJZ", "N094", "R029", "IND"},
}

func windowRow(s station, scp string, end time.Time, entries, exits int64) turnstile.WindowCount {
	return turnstile.WindowCount{
		Key: turnstile.Key{CA: s.ca, Unit: s.unit, SCP: scp, Station: s.name, LineName: s.lines, Division: s.div, Desc: "REGULAR"},
		End: end.Unix(), Entries: entries, Exits: exits,
	}
}

// waitJS polls a JavaScript predicate until it is true or within runs out.
func waitJS(ctx context.Context, expr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s: %w", expr, err)
			}
			return fmt.Errorf("not true within %s: %s", within, expr)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func cellsJS(station, entries, exits string) string {
	return fmt.Sprintf(`(() => { const r = document.querySelector('tr[data-station=%q]');
		return !!r && r.querySelector('.entries').textContent === %q && r.querySelector('.exits').textContent === %q; })()`,
		station, entries, exits)
}

func savePNG(t *testing.T, data []byte, name string) string {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s is not a PNG (starts %q)", name, data[:min(8, len(data))])
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s does not decode: %v", name, err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 300 {
		t.Errorf("%s is %dx%d, too small to show the page", name, b.Dx(), b.Dy())
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != int64(len(data)) {
		t.Fatalf("screenshot %s not written: %v", path, err)
	}
	t.Logf("screenshot: %s", path)
	if dir := os.Getenv("DASHBOARD_SCREENSHOT_DIR"); dir != "" { // keep a copy past the test
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot copied to %s", filepath.Join(dir, name))
	}
	return path
}

// TestBrowserShowsLiveWindows drives the real page in headless chromium:
// rows produced into the embedded broker show up within 2 seconds, a reload
// shows the history again, and the page fits a phone screen.
func TestBrowserShowsLiveWindows(t *testing.T) {
	chromium := findChromium(t)
	broker, err := kafkatest.Start(kafkatest.Topics(4, windowTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close) // after the dashboard stops (cleanups run last first)

	// Three hours of history for six stations, two turnstiles each, before
	// the page opens.
	last := time.Now().UTC().Truncate(5 * time.Minute).Add(-5 * time.Minute)
	var history []turnstile.WindowCount
	for w := 36; w >= 1; w-- {
		end := last.Add(-time.Duration(w) * 5 * time.Minute)
		for i, s := range stations {
			base := int64(40*(len(stations)-i) + 3*(36-w))
			history = append(history, windowRow(s, "00-00-00", end, base, base/2), windowRow(s, "00-00-01", end, base/3, base/4))
		}
	}
	// The consumer's metrics endpoint, as the consumer's --metrics-addr serves it.
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		lag, wm := metricname.Lag, metricname.WatermarkSeconds
		fmt.Fprintf(w, "%s{partition=\"0\"} 40\n%s{partition=\"1\"} 2\n%s{partition=\"0\"} %d\n%s{partition=\"1\"} %d\n",
			lag, lag, wm, last.Unix(), wm, last.Add(-5*time.Minute).Unix())
	}))
	t.Cleanup(metrics.Close)
	pageURL := startDashboard(t, broker.Addr(), "--consumer-metrics", metrics.URL+"/metrics")
	produceWindows(t, broker.Addr(), history)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000))...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v (the browser test needs chromium: apt-get install -y chromium)", chromium, err)
	}
	var mu sync.Mutex
	var jsErrors []string
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			mu.Lock()
			jsErrors = append(jsErrors, msg)
			mu.Unlock()
		}
	}()

	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, `document.getElementById('status').dataset.state === 'live'`, 10*time.Second); err != nil {
		t.Fatalf("the page did not connect: %v", err)
	}
	first := stations[0]
	// The history: the last window produced so far, 59 ST = two turnstiles.
	wantE := int64(40*6+3*35) + int64(40*6+3*35)/3
	wantX := int64(40*6+3*35)/2 + int64(40*6+3*35)/4
	if err := waitJS(ctx, cellsJS(first.name, fmt.Sprint(wantE), fmt.Sprint(wantX)), 10*time.Second); err != nil {
		t.Fatalf("history not shown: %v", err)
	}

	// Live: a new window closes. Its numbers must be on the page within 2s.
	live := []turnstile.WindowCount{
		windowRow(first, "00-00-00", last, 4000, 800),
		windowRow(first, "00-00-01", last, 567, 90),
		windowRow(first, "00-00-00", last, 4000, 800), // a repeat after a consumer restart: dropped
	}
	for _, s := range stations[1:] {
		live = append(live, windowRow(s, "00-00-00", last, 100, 50))
	}
	produceWindows(t, broker.Addr(), live)
	produced := time.Now()
	if err := waitJS(ctx, cellsJS(first.name, "4,567", "890"), 2*time.Second); err != nil {
		t.Fatalf("live window not on the page within 2s of producing: %v", err)
	}
	t.Logf("live window on the page %s after it was produced", time.Since(produced).Round(time.Millisecond))
	if err := waitJS(ctx, `document.querySelector('#busiest li[data-key]').textContent.includes('59 ST')`, 2*time.Second); err != nil {
		t.Errorf("busiest stations: %v", err)
	}
	if err := waitJS(ctx, `+document.getElementById('chart').dataset.points === 37`, 2*time.Second); err != nil {
		t.Errorf("chart: %v", err)
	}
	if err := waitJS(ctx, `document.getElementById('h-newest').textContent.startsWith(`+
		fmt.Sprintf("%q", last.Format("2006-01-02 15:04"))+`)`, 5*time.Second); err != nil {
		t.Errorf("health panel: %v", err)
	}

	if err := waitJS(ctx, `document.getElementById('h-lag').textContent === '42 records over 2 partitions' && `+
		`document.getElementById('h-watermark').textContent.includes(`+fmt.Sprintf("%q", last.Add(-5*time.Minute).Format("15:04"))+`)`,
		5*time.Second); err != nil {
		t.Errorf("consumer lag and watermark: %v", err)
	}

	// Reload: the page comes back with the history from the dashboard.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, cellsJS(first.name, "4,567", "890")+
		` && +document.getElementById('chart').dataset.points === 37 && document.querySelectorAll('#stations tbody tr').length === 6`,
		5*time.Second); err != nil {
		t.Fatalf("history not shown after a reload: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	savePNG(t, shot, "dashboard.png")

	// A phone: the page fits the screen's width, and the numbers are there.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2))); err != nil {
		t.Fatal(err)
	}
	fits := `document.documentElement.scrollWidth <= window.innerWidth && ` +
		`Math.abs(document.getElementById('chart').viewBox.baseVal.width - document.getElementById('chart').clientWidth) < 2 && ` +
		`document.querySelector('#stations tbody tr .exits').getBoundingClientRect().right <= window.innerWidth && `
	if err := waitJS(ctx, fits+cellsJS(first.name, "4,567", "890"), 5*time.Second); err != nil {
		w, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.scrollWidth + " > " + window.innerWidth`))
		t.Errorf("phone layout (%s): %v", w, err)
	}
	shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	savePNG(t, shot, "dashboard-phone.png")

	mu.Lock()
	defer mu.Unlock()
	for _, e := range jsErrors {
		t.Errorf("JavaScript exception on the page: %s", e)
	}
}
