package synthetic

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var start = time.Date(2024, 7, 22, 8, 0, 0, 0, time.UTC) // a Monday

func valid() Config {
	return Config{Turnstiles: 20, Rate: 100, Speed: 60, Seed: 1, Start: start, Count: 500}
}

// values returns the message values of a feed, one per line.
func values(t *testing.T, cfg Config) []string {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var buf []byte
	for rec := range f.Records() {
		buf = turnstile.AppendCSV(buf[:0], rec)
		out = append(out, string(buf))
	}
	return out
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "no turnstiles", mutate: func(c *Config) { c.Turnstiles = 0 }, wantErr: "turnstiles 0"},
		{name: "too many turnstiles", mutate: func(c *Config) { c.Turnstiles = MaxTurnstiles + 1 }, wantErr: "turnstiles"},
		{name: "zero rate", mutate: func(c *Config) { c.Rate = 0 }, wantErr: "rate 0"},
		{name: "negative speed", mutate: func(c *Config) { c.Speed = -1 }, wantErr: "speed -1"},
		{name: "no start", mutate: func(c *Config) { c.Start = time.Time{} }, wantErr: "start time"},
		{name: "negative count", mutate: func(c *Config) { c.Count = -1 }, wantErr: "count -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.mutate(&cfg)
			_, err := New(cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	a, b := values(t, valid()), values(t, valid())
	if len(a) != 500 {
		t.Fatalf("got %d messages, want Count=500", len(a))
	}
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Error("two feeds of the same config differ")
	}
	other := valid()
	other.Seed = 2
	if strings.Join(values(t, other), "\n") == strings.Join(a, "\n") {
		t.Error("seeds 1 and 2 gave the same feed")
	}
}

// TestGolden pins the feed of one config, which end-to-end tests rely on.
// Regenerate with go test -update.
func TestGolden(t *testing.T) {
	cfg := Config{Turnstiles: 8, Rate: 10, Speed: 60, Seed: 7, Start: start, Count: 24}
	got := []byte(strings.Join(values(t, cfg), "\n") + "\n")
	const golden = "testdata/seed7.golden"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("feed differs from %s:\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}

func TestEventTimeAndDue(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		speed     float64
		i         int64
		wantEvent time.Time
		wantDue   time.Duration
	}{
		{name: "first message", rate: 100, speed: 1, i: 0, wantEvent: start, wantDue: 0},
		{name: "real time", rate: 100, speed: 1, i: 250, wantEvent: start.Add(2 * time.Second), wantDue: 2500 * time.Millisecond},
		{name: "accelerated", rate: 100, speed: 60, i: 500, wantEvent: start.Add(5 * time.Minute), wantDue: 5 * time.Second},
		{name: "slow rate", rate: 0.5, speed: 1, i: 3, wantEvent: start.Add(6 * time.Second), wantDue: 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(Config{Turnstiles: 3, Rate: tt.rate, Speed: tt.speed, Start: start})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.EventTime(tt.i); !got.Equal(tt.wantEvent) {
				t.Errorf("EventTime(%d) = %v, want %v", tt.i, got, tt.wantEvent)
			}
			if got := f.Due(tt.i); got != tt.wantDue {
				t.Errorf("Due(%d) = %v, want %v", tt.i, got, tt.wantDue)
			}
		})
	}
}

func TestOrderAndShape(t *testing.T) {
	cfg := Config{Turnstiles: 300, Rate: 1000, Speed: 600, Seed: 3, Start: start, Count: 30000}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		caRe   = regexp.MustCompile(`^[A-Z]{1,2}\d{3}A?$`)
		unitRe = regexp.MustCompile(`^R\d{3}$`)
		scpRe  = regexp.MustCompile(`^\d\d-\d\d-\d\d$`)
		last   = map[string]time.Time{}
		ids    = map[string]bool{}
		prev   time.Time
		prevDu time.Duration
		n      int
		buf    []byte
	)
	for rec, due := range f.Records() {
		n++
		if rec.Timestamp.Before(prev) || due < prevDu {
			t.Fatalf("message %d: event time %v or due %v went backwards", n, rec.Timestamp, due)
		}
		prev, prevDu = rec.Timestamp, due
		if l, ok := last[rec.Key()]; ok && rec.Timestamp.Before(l) {
			t.Fatalf("turnstile %s went back in time", rec.Key())
		}
		last[rec.Key()] = rec.Timestamp
		if !caRe.MatchString(rec.CA) || !unitRe.MatchString(rec.Unit) || !scpRe.MatchString(rec.SCP) {
			t.Fatalf("unrealistic turnstile %s", rec.Key())
		}
		if rec.Division != "BMT" && rec.Division != "IRT" && rec.Division != "IND" {
			t.Fatalf("division %q", rec.Division)
		}
		if rec.Desc != "REGULAR" || rec.Station == "" || rec.LineName == "" {
			t.Fatalf("record %+v", rec)
		}
		if ids[rec.ID] {
			t.Fatalf("ID %s repeated", rec.ID)
		}
		ids[rec.ID] = true
		buf = turnstile.AppendCSV(buf[:0], rec)
		if parsed, err := turnstile.Parse(buf); err != nil || parsed != *rec {
			t.Fatalf("value %q does not round-trip through the consumer's parser: %v", buf, err)
		}
	}
	if n != 30000 {
		t.Errorf("got %d messages, want 30000", n)
	}
	if len(last) != cfg.Turnstiles {
		t.Errorf("got %d distinct turnstiles, want %d", len(last), cfg.Turnstiles)
	}
}

// TestRushHours checks that a weekday's morning and evening peaks carry many
// times the traffic of the small hours.
func TestRushHours(t *testing.T) {
	// 100 turnstiles, each reporting every 5 minutes of event time, for a day.
	day := time.Date(2024, 7, 23, 0, 0, 0, 0, time.UTC) // a Tuesday
	cfg := Config{Turnstiles: 100, Rate: 100, Speed: 300, Seed: 9, Start: day, Count: 100 * 12 * 24}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var perHour [24]int64
	for rec := range f.Records() {
		perHour[rec.Timestamp.Hour()] += rec.Entries + rec.Exits
	}
	night := perHour[3]
	for _, h := range []int{8, 17} {
		if perHour[h] < 8*night {
			t.Errorf("hour %d has %d entries+exits, want at least 8× the %d of 03:00", h, perHour[h], night)
		}
	}
	if perHour[8] < perHour[11] || perHour[17] < perHour[11] {
		t.Errorf("peaks not above midday: %v", perHour)
	}
}
