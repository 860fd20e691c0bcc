package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/dashboard"
	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
)

const ridershipTopic = "mta-ridership-windows"

// produceMessages writes raw messages to a topic and waits until all are
// delivered.
func produceMessages(t *testing.T, addr, topic string, msgs []*kafka.Message) {
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
	deliveries := make(chan kafka.Event, len(msgs))
	for _, m := range msgs {
		m.TopicPartition = kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny}
		if err := p.Produce(m, deliveries); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	timeout := time.After(30 * time.Second)
	for range msgs {
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

// ridershipMessage encodes a row as the ridership consumer's --emit-topic
// does.
func ridershipMessage(r ridership.WindowRow) *kafka.Message {
	key, value, hs := ridership.EncodeWindowMessage(&r)
	headers := make([]kafka.Header, len(hs))
	for i, h := range hs {
		headers[i] = kafka.Header{Key: h.Key, Value: h.Value}
	}
	return &kafka.Message{Key: key, Value: value, Headers: headers}
}

// TestRidershipPanel runs the dashboard with --ridership-topic and no
// turnstile topic against the embedded broker: the ridership windows
// produced (three complexes, two fare classes, six hours, a repeat and a
// message that is not a ridership row) are summed on /api/state and shown
// on the page, whose turnstile panels are hidden and whose pipeline panel
// describes the ridership windows.
func TestRidershipPanel(t *testing.T) {
	chromium := findChromium(t)
	broker, err := kafkatest.Start(kafkatest.Topics(2, ridershipTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	pageURL := startDashboard(t, broker.Addr(), "--topic", "", "--ridership-topic", ridershipTopic)

	complexes := []ridership.Key{
		{StationComplexID: "611", StationComplex: "Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)", Borough: "Manhattan"},
		{StationComplexID: "610", StationComplex: "Grand Central-42 St (S,4,5,6,7)", Borough: "Manhattan"},
		{StationComplexID: "TRAM1", StationComplex: "RIT-Manhattan (R042)", Borough: "Manhattan"},
	}
	end0 := time.Date(2025, 1, 14, 1, 0, 0, 0, time.UTC).Unix()
	var msgs []*kafka.Message
	wantHours := map[int64]int64{}
	wantTotal := map[string]int64{}
	for h := range int64(6) {
		end := end0 + h*3600
		for i, k := range complexes {
			for j, fare := range []string{"OMNY - Full Fare", "Metrocard - Unlimited 30-Day"} {
				k := k
				k.PaymentMethod, k.FareClassCategory = []string{"omny", "metrocard"}[j], fare
				riders := int64(300*(len(complexes)-i)) + h*10 + int64(j)
				msgs = append(msgs, ridershipMessage(ridership.WindowRow{Key: k, Start: end - 3600, End: end, Ridership: riders, Transfers: 1}))
				wantHours[end] += riders
				wantTotal[k.StationComplexID] += riders
			}
		}
	}
	msgs = append(msgs, msgs[0]) // a repeat, as after a consumer restart
	msgs = append(msgs, &kafka.Message{Value: []byte("not,a,ridership,row")})
	produceMessages(t, broker.Addr(), ridershipTopic, msgs)

	// /api/state: every row summed once.
	var st dashboard.State
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(pageURL + "api/state")
		if err != nil {
			t.Fatal(err)
		}
		st = dashboard.State{}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.Ridership != nil && st.Ridership.Added+st.Ridership.Duplicates+st.Ridership.Bad == int64(len(msgs)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/state after 30s: %+v, want %d messages read", st.Ridership, len(msgs))
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := st.Ridership
	if r.Added != 36 || r.Duplicates != 1 || r.Bad != 1 || r.Rows != 36 || r.Newest != end0+5*3600 || r.WindowSeconds != 3600 {
		t.Errorf("ridership summary %+v: want 36 rows added, 1 repeat, 1 bad, 6 windows of 1h", *r)
	}
	if len(r.Hours) != 6 {
		t.Fatalf("hours = %+v, want 6", r.Hours)
	}
	for _, h := range r.Hours {
		if h.Ridership != wantHours[h.End] || h.Transfers != 6 {
			t.Errorf("window ending %s: %d riders %d transfers, want %d and 6", time.Unix(h.End, 0).UTC(), h.Ridership, h.Transfers, wantHours[h.End])
		}
	}
	if len(r.Busiest) != 3 || r.Busiest[0].ID != "611" || r.Busiest[2].ID != "TRAM1" {
		t.Fatalf("busiest = %+v, want 611, 610, TRAM1", r.Busiest)
	}
	for _, c := range r.Busiest {
		if c.Ridership != wantTotal[c.ID] {
			t.Errorf("%s: %d riders, want %d", c.ID, c.Ridership, wantTotal[c.ID])
		}
	}
	if st.Health.Turnstile || st.Health.Rows != 0 {
		t.Errorf("health %+v: want no turnstile topic, no turnstile rows", st.Health)
	}

	// The page.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000))...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var jsErrors []string
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			mu.Lock()
			jsErrors = append(jsErrors, ev.ExceptionDetails.Text)
			mu.Unlock()
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatal(err)
	}
	top := fmt.Sprintf("%q", "Times Sq-42 St")
	if err := waitJS(ctx, `!document.getElementById('r-busiest-card').hidden && `+
		`document.querySelector('#r-busiest li[data-complex]').textContent.includes(`+top+`) && `+
		`document.querySelectorAll('#r-busiest li[data-complex]').length === 3 && `+
		`+document.getElementById('r-chart').dataset.points === 6 && `+
		`document.querySelectorAll('#r-chart rect').length === 6 && `+
		`document.getElementById('stations-card').hidden && document.getElementById('chart-card').hidden && `+
		`document.getElementById('h-newest').textContent === '2025-01-14 06:00 UTC' && `+
		`document.getElementById('h-window').textContent === '60 min' && `+
		`document.getElementById('h-history').textContent.startsWith('36 ridership rows, 6 windows')`, 10*time.Second); err != nil {
		t.Errorf("ridership panel: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	savePNG(t, shot, "dashboard-ridership.png")
	mu.Lock()
	defer mu.Unlock()
	for _, e := range jsErrors {
		t.Errorf("JavaScript exception on the page: %s", e)
	}
}
