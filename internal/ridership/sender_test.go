package ridership

import (
	"context"
	"errors"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// laterSink queues messages; they count as delivered only when the test
// says so, as Kafka delivery reports come later.
type laterSink struct{ counters *publish.Counters }

func (s *laterSink) Send(context.Context, []byte, []byte) error { return nil }
func (s *laterSink) Close(context.Context) error                { return nil }

func TestSinkSenderFlushWaitsForDelivery(t *testing.T) {
	var c publish.Counters
	s := NewSinkSender(&laterSink{&c}, &c)
	for range 3 {
		if err := s.Send(context.Background(), []byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if c.Queued.Load() != 3 {
		t.Fatalf("queued %d, want 3", c.Queued.Load())
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Flush(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush with 3 undelivered = %v, want it to wait until ctx ends", err)
	}
	c.Sent.Add(3)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after delivery = %v", err)
	}
	c.Failed.Add(1)
	c.Queued.Add(1)
	if err := s.Flush(context.Background()); err == nil {
		t.Fatal("Flush after a failed delivery = nil, want an error")
	}
}
