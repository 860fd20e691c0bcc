package lake

import (
	"path"
	"strings"
	"testing"
	"time"
)

func TestLayoutNames(t *testing.T) {
	end := time.Date(2024, 7, 22, 10, 15, 0, 0, time.UTC)
	ny := time.FixedZone("EDT", -4*3600)
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"flat", Layout{Prefix: "turnstile"}.WindowObject(end, "p3"), "turnstile/20240722T101500_p3.csv.gz"},
		{"flat, local time is converted to UTC", Layout{Prefix: "turnstile"}.WindowObject(end.In(ny), "input"), "turnstile/20240722T101500_input.csv.gz"},
		{"flat, nested prefix", Layout{Prefix: "a/b/turnstile"}.WindowObject(end, "p0"), "a/b/turnstile/20240722T101500_p0.csv.gz"},
		{"hive", Layout{Prefix: "turnstile", Hive: true}.WindowObject(end, "p3"), "turnstile/dt=2024-07-22/20240722T101500_p3.csv.gz"},
		{"hive, window ending at midnight belongs to the next day",
			Layout{Prefix: "turnstile", Hive: true}.WindowObject(time.Date(2024, 7, 23, 0, 0, 0, 0, time.UTC), "p0"),
			"turnstile/dt=2024-07-23/20240723T000000_p0.csv.gz"},
		{"rejected", Layout{Prefix: "turnstile"}.SideObject(Rejected, "p3", 42), "turnstile_rejected/p3_00000000000000000042.jsonl.gz"},
		{"late", Layout{Prefix: "turnstile", Hive: true}.SideObject(Late, "input", 1), "turnstile_late/input_00000000000000000001.jsonl.gz"},
		{"largest offset", Layout{Prefix: "t"}.SideObject(Late, "p0", 1<<63-1), "t_late/p0_09223372036854775807.jsonl.gz"},
		{"side prefix", Layout{Prefix: "turnstile"}.SidePrefix(Rejected), "turnstile_rejected/"},
		{"window prefix", Layout{Prefix: "turnstile"}.WindowPrefix(), "turnstile/"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}

// TestWindowEnd checks that WindowEnd reads back the end WindowObject wrote,
// in both layouts, and refuses other names.
func TestWindowEnd(t *testing.T) {
	end := time.Date(2024, 7, 22, 10, 15, 0, 0, time.UTC)
	for _, l := range []Layout{{Prefix: "turnstile"}, {Prefix: "a/b/turnstile", Hive: true}} {
		name := l.WindowObject(end, "p3")
		if got, ok := WindowEnd(name); !ok || !got.Equal(end) {
			t.Errorf("WindowEnd(%s) = %s, %v; want %s", name, got, ok, end)
		}
	}
	for _, name := range []string{"turnstile_rejected/p3_00000000000000000042.jsonl.gz", "notes.csv.gz", "x_p0.csv.gz", "20240722T101500_p0.csv"} {
		if got, ok := WindowEnd(name); ok {
			t.Errorf("WindowEnd(%s) = %s, true; want false", name, got)
		}
	}
}

// TestLayoutGlob checks what the BigQuery external table sees: every window
// file of the flat layout matches <prefix>/*.csv.gz, and no side file ever
// matches it, in either layout.
func TestLayoutGlob(t *testing.T) {
	ends := []time.Time{
		time.Date(2024, 7, 22, 10, 15, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	sources := []string{"p0", "p3", "p127", "input", "a.b-c"}
	offsets := []int64{0, 1, 42, 1 << 40}
	for _, prefix := range []string{"turnstile", "a/b/turnstile"} {
		for _, hive := range []bool{false, true} {
			l := Layout{Prefix: prefix, Hive: hive}
			flatGlob := prefix + "/*.csv.gz"
			for _, end := range ends {
				for _, src := range sources {
					name := l.WindowObject(end, src)
					if ok, _ := path.Match(flatGlob, name); ok != !hive {
						t.Errorf("path.Match(%s, %s) = %v, want %v", flatGlob, name, ok, !hive)
					}
					if ok, _ := path.Match(l.WindowPattern(), name); !ok {
						t.Errorf("%s does not match its pattern %s", name, l.WindowPattern())
					}
					if !strings.HasPrefix(name, l.WindowPrefix()) {
						t.Errorf("%s is not under %s", name, l.WindowPrefix())
					}
					if err := checkName(name); err != nil {
						t.Error(err)
					}
				}
			}
			for _, kind := range []SideKind{Rejected, Late} {
				for _, src := range sources {
					for _, off := range offsets {
						name := l.SideObject(kind, src, off)
						for _, glob := range []string{flatGlob, l.WindowPattern(), prefix + "/*", prefix + "/*/*"} {
							if ok, _ := path.Match(glob, name); ok {
								t.Errorf("side object %s matches %s", name, glob)
							}
						}
						// Not even a prefix listing of the window folder sees it.
						if strings.HasPrefix(name, l.WindowPrefix()) {
							t.Errorf("side object %s is under the window folder %s", name, l.WindowPrefix())
						}
						if err := checkName(name); err != nil {
							t.Error(err)
						}
					}
				}
			}
		}
	}
}

func TestLayoutNamesSortByTime(t *testing.T) {
	l := Layout{Prefix: "turnstile"}
	prev := ""
	for end := time.Date(2024, 7, 22, 0, 0, 0, 0, time.UTC); end.Day() == 22; end = end.Add(7 * time.Minute) {
		name := l.WindowObject(end, "p0")
		if name <= prev {
			t.Fatalf("%s sorts before %s", name, prev)
		}
		prev = name
	}
	if a, b := l.SideObject(Late, "p0", 9), l.SideObject(Late, "p0", 10); a >= b {
		t.Errorf("%s sorts after %s", a, b)
	}
}

func TestCheckSource(t *testing.T) {
	for _, ok := range []string{"p0", "p127", "input", "A-b.c"} {
		if err := CheckSource(ok); err != nil {
			t.Errorf("CheckSource(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/b", "a_b", ".x", "a b", "é", strings.Repeat("x", 65)} {
		if err := CheckSource(bad); err == nil {
			t.Errorf("CheckSource(%q) = nil, want an error", bad)
		}
	}
}
