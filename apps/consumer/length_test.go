package main

import (
	"testing"
	"time"
)

func TestParseLength(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"5", 5 * time.Minute, false},
		{"2.5", 150 * time.Second, false},
		{"90s", 90 * time.Second, false},
		{"1h", time.Hour, false},
		{"", 0, true},
		{"five", 0, true},
		{"NaN", 0, true},
		{"5m3", 0, true},
	}
	for _, tt := range tests {
		got, err := parseLength(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseLength(%q) = %s, %v; want %s, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
