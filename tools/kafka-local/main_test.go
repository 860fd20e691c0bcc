package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
)

// TestProbeBroker checks the health check of the broker image: it passes only
// when the broker answers and has every topic asked for.
func TestProbeBroker(t *testing.T) {
	b, err := kafkatest.Start(kafkatest.Topics(3, "mta-turnstile", "mta-turnstile-windows"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dead, err := kafkatest.Start()
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr()
	dead.Close()

	tests := []struct {
		name    string
		addr    string
		topics  string
		wantErr string
	}{
		{"both topics", b.Addr(), "mta-turnstile,mta-turnstile-windows", ""},
		{"no topics asked", b.Addr(), "", ""},
		{"a missing topic", b.Addr(), "mta-turnstile,other", `no topic "other"`},
		{"no broker", deadAddr, "", "metadata from " + deadAddr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			err := probeBroker(ctx, tt.addr, splitTopics(tt.topics))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("probe: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("probe error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSplitTopics(t *testing.T) {
	for in, want := range map[string]string{"": "", "a": "a", "a,b": "a|b", " a , ,b,": "a|b"} {
		if got := strings.Join(splitTopics(in), "|"); got != want {
			t.Errorf("splitTopics(%q) = %q, want %q", in, got, want)
		}
	}
}
