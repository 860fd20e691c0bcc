package dashboard

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestHubDropsSlowClientWithoutWaiting(t *testing.T) {
	h := NewHub(4)
	stuck := h.Subscribe() // never reads
	fast := h.Subscribe()
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range fast.C() {
			got = append(got, string(m))
		}
	}()

	start := time.Now()
	for i := range 100 {
		h.Broadcast([]byte(fmt.Sprint(i)))
		time.Sleep(time.Millisecond) // let the fast reader keep up
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("100 broadcasts took %s: a stuck client must not be waited for", d)
	}
	// The stuck client got its 4 queued messages, then its channel was closed.
	n := 0
	for range stuck.C() {
		n++
	}
	if n != 4 {
		t.Errorf("stuck client had %d queued messages, want 4", n)
	}
	if h.Len() != 1 || h.Dropped() != 1 {
		t.Errorf("Len %d Dropped %d, want 1 1", h.Len(), h.Dropped())
	}
	h.Unsubscribe(fast)
	<-done
	if len(got) != 100 || got[0] != "0" || got[99] != "99" {
		t.Errorf("fast client got %d messages (%v...), want all 100 in order", len(got), got[:min(3, len(got))])
	}
	h.Unsubscribe(stuck) // already dropped: a no-op
	h.Unsubscribe(fast)
}

func TestHubFirstMessagesComeFirst(t *testing.T) {
	h := NewHub(1)
	c := h.Subscribe([]byte("snapshot"), []byte("health"))
	if sent, dropped := h.Broadcast([]byte("update")); sent != 1 || dropped != 0 {
		t.Fatalf("Broadcast = %d sent %d dropped: the first messages must not count against the queue", sent, dropped)
	}
	for _, want := range []string{"snapshot", "health", "update"} {
		if got := string(<-c.C()); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestHubConcurrent(t *testing.T) {
	h := NewHub(8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				c := h.Subscribe()
				for range 3 {
					select {
					case <-c.C():
					case <-time.After(time.Millisecond):
					}
				}
				h.Unsubscribe(c)
			}
		})
	}
	wg.Go(func() {
		for i := range 2000 {
			h.Broadcast([]byte(fmt.Sprint(i)))
		}
	})
	wg.Wait()
	if h.Len() != 0 {
		t.Errorf("Len = %d after every client left", h.Len())
	}
}
