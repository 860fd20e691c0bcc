package dashboard

import "sync"

// Hub fans messages out to clients. Each client has a bounded queue; a
// client whose queue is full when a message comes is dropped at once (its
// channel is closed), never waited for. A dropped browser reconnects and
// catches up from the history, so dropping loses nothing but time.
type Hub struct {
	mu      sync.Mutex
	buf     int
	clients map[*Client]struct{}
	dropped int64
}

// Client is one subscriber of a Hub.
type Client struct {
	ch chan []byte
}

// C returns the client's messages. It is closed when the hub drops the
// client or the client unsubscribes.
func (c *Client) C() <-chan []byte { return c.ch }

// NewHub returns a hub whose clients queue up to buf messages.
func NewHub(buf int) *Hub {
	if buf < 1 {
		buf = 1
	}
	return &Hub{buf: buf, clients: map[*Client]struct{}{}}
}

// Subscribe adds a client. Its queue holds first, when given, before any
// message broadcast after Subscribe.
func (h *Hub) Subscribe(first ...[]byte) *Client {
	c := &Client{ch: make(chan []byte, h.buf+len(first))}
	for _, m := range first {
		c.ch <- m
	}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	return c
}

// Unsubscribe removes a client; removing one already dropped is a no-op.
func (h *Hub) Unsubscribe(c *Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.ch)
	}
}

// Broadcast queues msg for every client without blocking. It returns how
// many clients got it and how many were dropped because their queue was full.
func (h *Hub) Broadcast(msg []byte) (sent, dropped int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.ch <- msg:
			sent++
		default:
			delete(h.clients, c)
			close(c.ch)
			dropped++
		}
	}
	h.dropped += int64(dropped)
	return sent, dropped
}

// Len returns the number of clients.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Dropped returns how many clients were dropped so far.
func (h *Hub) Dropped() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}
