package dashboard

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"
	"time"
)

//go:embed web
var webFS embed.FS

// Timeouts of the event stream.
var (
	// writeTimeout bounds one write to a browser; a browser that does not
	// read for this long is cut off, so a stuck one holds no goroutine.
	writeTimeout = 10 * time.Second
	// keepAlive is how often an idle stream gets a comment line, so that
	// proxies and the browser keep it open.
	keepAlive = 15 * time.Second
)

// retryMillis is how soon a browser reconnects after the stream ends.
const retryMillis = 1000

// Handler returns the dashboard's HTTP handler:
//
//	/            the page (embedded)
//	/static/...  its script and style sheet (embedded)
//	/events      Server-Sent Events: snapshot, update and health
//	/api/state   the whole history and health as JSON
//	/healthz     200 while the process serves
func (d *Dashboard) Handler() http.Handler {
	web, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, web, "index.html")
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(web)))
	mux.HandleFunc("GET /events", d.serveEvents)
	mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := json.NewEncoder(w).Encode(d.State()); err != nil {
			d.log.Debug("writing /api/state", "err", err)
		}
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	return mux
}

// serveEvents streams the dashboard to one browser. The browser's
// EventSource sends Last-Event-ID when it reconnects; the first event
// catches it up from the history (see Subscribe). If the hub drops the
// browser for falling behind, the stream ends and the browser reconnects.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last") // for clients that cannot set headers
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	c := d.Subscribe(last)
	defer d.Unsubscribe(c)
	d.log.Debug("browser connected", "remote", r.RemoteAddr, "last_event_id", last)

	write := func(b []byte) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			d.log.Debug("event stream: no write deadline", "err", err)
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte("retry: " + strconv.Itoa(retryMillis) + "\n\n")) {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg, ok := <-c.C():
			if !ok {
				d.log.Debug("browser dropped", "remote", r.RemoteAddr)
				return
			}
			if !write(msg) {
				return
			}
		case <-tick.C:
			if !write([]byte(": keep-alive\n\n")) {
				return
			}
		}
	}
}
