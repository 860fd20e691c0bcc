package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Config configures a Dashboard.
type Config struct {
	History      time.Duration // keep window ends this far back from the newest (default 24h)
	MaxRows      int           // keep at most this many (turnstile, window) rows (default 2,000,000)
	ClientBuffer int           // messages queued per browser before it is dropped (default 64)
	Logger       *slog.Logger
	Registry     *prometheus.Registry // optional: dashboard metrics are registered here
	Now          func() time.Time     // clock; default time.Now
	// MaxFuture: a row whose window ends more than this after Now is ignored
	// (0: no limit), so that one mis-clocked row cannot push the history's
	// horizon past every real window and evict them.
	MaxFuture time.Duration
	// Ridership turns on the ridership panel: AddRidership's rows are kept in
	// a RidershipHistory (with the same History and MaxRows bounds) and
	// browsers get "ridership" events.
	Ridership bool
	// NoTurnstile says that no turnstile window topic is read: the page
	// hides the turnstile panels (Health.Turnstile false).
	NoTurnstile bool
}

// Dashboard is the dashboard's state: the history, the browsers connected
// to it, and the pipeline health. It is safe for concurrent use.
type Dashboard struct {
	log       *slog.Logger
	now       func() time.Time
	maxFuture time.Duration
	epoch     string
	hub       *Hub

	mu          sync.Mutex
	hist        *History
	pending     map[bucketKey]struct{} // buckets changed since the last Flush
	lastMessage time.Time
	counts      map[AddResult]int64
	bad         int64
	consumer    *ConsumerHealth
	readerLag   func() int64
	turnstile   bool

	rhist     *RidershipHistory // nil unless Config.Ridership
	rcounts   map[AddResult]int64
	rbad      int64
	rchanged  bool // since the last Flush
	rmessages *prometheus.CounterVec

	messages *prometheus.CounterVec
}

// New returns an empty dashboard.
func New(cfg Config) *Dashboard {
	if cfg.History <= 0 {
		cfg.History = 24 * time.Hour
	}
	if cfg.MaxRows == 0 {
		cfg.MaxRows = 2_000_000
	}
	if cfg.ClientBuffer <= 0 {
		cfg.ClientBuffer = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Dashboard{
		log:       cfg.Logger,
		now:       cfg.Now,
		maxFuture: cfg.MaxFuture,
		epoch:     strconv.FormatInt(cfg.Now().UnixNano(), 36),
		hub:       NewHub(cfg.ClientBuffer),
		hist:      NewHistory(cfg.History, cfg.MaxRows),
		pending:   map[bucketKey]struct{}{},
		counts:    map[AddResult]int64{},
		turnstile: !cfg.NoTurnstile,
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnstile_dashboard_messages_total",
			Help: "Window messages read, by result (added, duplicate, too_old, future, bad).",
		}, []string{"result"}),
	}
	if cfg.Ridership {
		d.rhist = NewRidershipHistory(cfg.History, cfg.MaxRows)
		d.rcounts = map[AddResult]int64{}
		d.rmessages = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnstile_dashboard_ridership_messages_total",
			Help: "Ridership window messages read, by result (added, duplicate, too_old, future, bad).",
		}, []string{"result"})
		if cfg.Registry != nil {
			cfg.Registry.MustRegister(d.rmessages,
				prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "turnstile_dashboard_ridership_rows", Help: "(key, window) ridership rows held."},
					func() float64 { d.mu.Lock(); defer d.mu.Unlock(); return float64(d.rhist.Len()) }))
		}
	}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(d.messages,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "turnstile_dashboard_clients", Help: "Browsers connected."},
				func() float64 { return float64(d.hub.Len()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "turnstile_dashboard_clients_dropped_total", Help: "Browsers dropped because they fell behind."},
				func() float64 { return float64(d.hub.Dropped()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "turnstile_dashboard_history_rows", Help: "(turnstile, window) rows held in the history."},
				func() float64 { d.mu.Lock(); defer d.mu.Unlock(); return float64(d.hist.Len()) }),
		)
	}
	return d
}

// Hub returns the dashboard's fan-out hub.
func (d *Dashboard) Hub() *Hub { return d.hub }

// Add counts a decoded row into the history. Browsers see it at the next
// Flush. A row whose window ends more than MaxFuture after the clock is
// ignored (Future): the first one is logged, all are counted.
func (d *Dashboard) Add(r Row) AddResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.lastMessage = now
	var res AddResult
	if d.maxFuture > 0 && r.End > now.Add(d.maxFuture).Unix() {
		res = Future
		if d.counts[Future] == 0 {
			d.log.Warn("ignoring window rows that end too far after the wall clock (a mis-clocked record?); counted in turnstile_dashboard_messages_total{result=\"future\"}, logged once",
				"window_end", r.EndTime().Format(time.RFC3339), "station", r.Station, "max_future", d.maxFuture)
		}
	} else {
		res = d.hist.Add(r)
	}
	d.counts[res]++
	d.messages.WithLabelValues(resultName(res)).Inc()
	if res == Added {
		d.pending[bucketKey{Station{r.Station, r.LineName}, r.End}] = struct{}{}
	}
	return res
}

// MessageSink takes one message of a window topic, as internal/kafka's
// Reader reads it: it decodes and adds it, or returns an error when it does
// not decode (and counts it as bad). AddTurnstileMessage and
// AddRidershipMessage are the dashboard's two.
type MessageSink func(key, value []byte, headers []turnstile.Header) error

// AddTurnstileMessage decodes a message of the consumer's turnstile emit
// topic (turnstile.DecodeWindowMessage) and adds its row (Add). A message
// that does not decode is counted as bad (Bad) and its error returned.
func (d *Dashboard) AddTurnstileMessage(key, value []byte, headers []turnstile.Header) error {
	wc, start, err := turnstile.DecodeWindowMessage(key, value, headers)
	if err != nil {
		d.Bad()
		return err
	}
	d.Add(Row{WindowCount: wc, Start: start})
	return nil
}

// Bad counts a message that did not decode.
func (d *Dashboard) Bad() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastMessage = d.now()
	d.bad++
	d.messages.WithLabelValues("bad").Inc()
}

func resultName(r AddResult) string {
	switch r {
	case Added:
		return "added"
	case Duplicate:
		return "duplicate"
	case Future:
		return "future"
	}
	return "too_old"
}

// Flush sends the buckets changed since the last Flush to every browser, as
// one "update" event, and, when the ridership history changed, a
// "ridership" event with its new summary. It returns the number of buckets
// sent.
func (d *Dashboard) Flush() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rchanged {
		d.rchanged = false
		if _, dropped := d.hub.Broadcast(d.event("ridership", false, d.ridershipLocked())); dropped > 0 {
			d.log.Warn("dropped slow browsers; they will reconnect and catch up", "dropped", dropped)
		}
	}
	if len(d.pending) == 0 {
		return 0
	}
	buckets := make([]Bucket, 0, len(d.pending))
	for bk := range d.pending {
		if b, ok := d.hist.Bucket(bk.Station, bk.End); ok { // it may have been evicted since
			buckets = append(buckets, b)
		}
	}
	clear(d.pending)
	if len(buckets) == 0 {
		return 0
	}
	msg := d.event("update", true, d.payloadLocked(false, buckets))
	if _, dropped := d.hub.Broadcast(msg); dropped > 0 {
		d.log.Warn("dropped slow browsers; they will reconnect and catch up", "dropped", dropped)
	}
	return len(buckets)
}

// Payload is the data of a "snapshot" or "update" event.
type Payload struct {
	Reset          bool         `json:"reset,omitempty"` // forget what you hold first
	HistorySeconds int64        `json:"history"`
	Newest         int64        `json:"newest"`
	WindowSeconds  int64        `json:"window"`
	Buckets        []wireBucket `json:"buckets"`
}

// wireBucket is a Bucket as the page gets it: [station, lines, end, entries, exits].
type wireBucket Bucket

func (b wireBucket) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{b.Name, b.Lines, b.End, b.Entries, b.Exits})
}

func (b *wireBucket) UnmarshalJSON(data []byte) error {
	var a []json.RawMessage
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	if len(a) != 5 {
		return fmt.Errorf("bucket: want 5 fields, got %d", len(a))
	}
	for i, p := range []any{&b.Name, &b.Lines, &b.End, &b.Entries, &b.Exits} {
		if err := json.Unmarshal(a[i], p); err != nil {
			return fmt.Errorf("bucket field %d: %w", i, err)
		}
	}
	return nil
}

func (d *Dashboard) payloadLocked(reset bool, buckets []Bucket) Payload {
	p := Payload{Reset: reset, HistorySeconds: int64(d.hist.Limit() / time.Second), Newest: d.hist.Newest(),
		WindowSeconds: d.hist.WindowSeconds(), Buckets: make([]wireBucket, len(buckets))}
	for i, b := range buckets {
		p.Buckets[i] = wireBucket(b)
	}
	return p
}

// eventID returns the SSE id of the history's current state.
func (d *Dashboard) eventIDLocked() string {
	return d.epoch + "-" + strconv.FormatUint(d.hist.Seq(), 10)
}

// event encodes one SSE event; withID gives it the history's current id,
// which the browser sends back as Last-Event-ID when it reconnects.
func (d *Dashboard) event(name string, withID bool, data any) []byte {
	var b bytes.Buffer
	if withID {
		b.WriteString("id: " + d.eventIDLocked() + "\n")
	}
	b.WriteString("event: " + name + "\ndata: ")
	if err := json.NewEncoder(&b).Encode(data); err != nil { // Encode ends the line
		d.log.Error("encoding an event", "event", name, "err", err)
	}
	b.WriteString("\n")
	return b.Bytes()
}

// catchUpLocked returns the buckets a browser that has seen lastEventID
// lacks: the ones changed since, or the whole history (reset) when the id is
// empty, from another run of the dashboard, or unknown.
func (d *Dashboard) catchUpLocked(lastEventID string) (reset bool, buckets []Bucket) {
	epoch, seqText, ok := strings.Cut(lastEventID, "-")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if !ok || err != nil || epoch != d.epoch || seq > d.hist.Seq() {
		return true, d.hist.Since(0)
	}
	return false, d.hist.Since(seq)
}

// Subscribe adds a browser that has seen everything up to lastEventID (""
// for a new one). Its first messages are a "snapshot" event with what it
// lacks and a "health" event; then come the updates.
func (d *Dashboard) Subscribe(lastEventID string) *Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	reset, buckets := d.catchUpLocked(lastEventID)
	first := [][]byte{d.event("snapshot", true, d.payloadLocked(reset, buckets)), d.event("health", false, d.healthLocked())}
	if d.rhist != nil {
		first = append(first, d.event("ridership", false, d.ridershipLocked()))
	}
	return d.hub.Subscribe(first...)
}

// Unsubscribe removes a browser.
func (d *Dashboard) Unsubscribe(c *Client) { d.hub.Unsubscribe(c) }

// State is the whole dashboard state as /api/state serves it.
type State struct {
	ID string `json:"id"`
	Payload
	Health Health `json:"health"`
	// Ridership is the ridership panel's summary; absent unless
	// Config.Ridership.
	Ridership *RidershipSummary `json:"ridership,omitempty"`
}

// State returns the whole history, the health and the ridership summary.
func (d *Dashboard) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := State{ID: d.eventIDLocked(), Payload: d.payloadLocked(true, d.hist.Since(0)), Health: d.healthLocked()}
	if d.rhist != nil {
		r := d.ridershipLocked()
		s.Ridership = &r
	}
	return s
}
