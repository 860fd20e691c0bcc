package producer

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/synthetic"
)

// now is the wall clock the tests hand to Validate.
var now = time.Date(2026, 12, 5, 23, 10, 42, 500_000_000, time.UTC)

// files makes a directory holding one input file and one plain file that is
// not a directory, and returns the directory and the file.
func files(t *testing.T) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	file = filepath.Join(dir, "turnstile_240720.txt")
	if err := os.WriteFile(file, []byte("C/A,UNIT,SCP\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

// replay is a valid replay to stdout, with the flags' defaults.
func replay(file string) Config {
	return Config{Source: "turnstile", Inputs: []string{file}, MaxDelta: 10000, Turnstiles: 200, Rate: 100, Seed: 1,
		SODAURL: "https://data.ny.gov", PollInterval: 5 * time.Minute,
		Topic: "mta-turnstile", Partitions: 4, Out: "-", FlushTimeout: 30 * time.Second, LogFormat: "text", LogLevel: "info"}
}

// feed is a valid synthetic feed to Kafka, with the flags' defaults.
func feed() Config {
	return Config{Source: "turnstile", Synthetic: true, MaxDelta: 10000, Turnstiles: 200, Rate: 100, Seed: 1,
		SODAURL: "https://data.ny.gov", PollInterval: 5 * time.Minute,
		Topic: "mta-turnstile", ConfigPath: "kafka.properties", Partitions: 4, FlushTimeout: 30 * time.Second,
		LogFormat: "text", LogLevel: "info"}
}

// api follows a ridership dataset through the API to Kafka, with the
// flags' defaults (the topic left to Validate).
func api(string) Config {
	return Config{Source: "ridership", Dataset: "5wq4-mkjj", MaxDelta: 10000, Turnstiles: 200, Rate: 100, Seed: 1,
		SODAURL: "https://data.ny.gov", PollInterval: 5 * time.Minute,
		ConfigPath: "kafka.properties", Partitions: 4, FlushTimeout: 30 * time.Second, LogFormat: "text", LogLevel: "info"}
}

// exports replays ridership CSV exports to stdout, with the flags' defaults.
func exports(file string) Config {
	c := api(file)
	c.Dataset, c.Inputs, c.ConfigPath, c.Out = "", []string{file}, "", "-"
	return c
}

// TestValidateRejects breaks one rule per case and checks the error, which
// names the flag to fix.
func TestValidateRejects(t *testing.T) {
	dir, file := files(t)
	empty := t.TempDir()
	tests := []struct {
		name string
		base func(string) Config
		edit func(*Config)
		want string // the error, or for errors that carry an OS message, its start
	}{
		{"no source", replay, func(c *Config) { c.Inputs = nil }, "choose a source: --input FILE... or --synthetic"},
		{"empty --source", replay, func(c *Config) { c.Source = "" }, `--source "": want turnstile or ridership`},
		{"unknown --source", replay, func(c *Config) { c.Source = "subway" }, `--source "subway": want turnstile or ridership`},
		{"dataset with turnstile", replay, func(c *Config) { c.Dataset = "5wq4-mkjj" }, "--dataset, --soda-url, --app-token-file, --poll-interval and --state-file are for --source ridership"},
		{"state file with turnstile", replayless(feed), func(c *Config) { c.StateFile = filepath.Join(dir, "state") }, "--dataset, --soda-url, --app-token-file, --poll-interval and --state-file are for --source ridership"},
		{"app token file with turnstile", replay, func(c *Config) { c.AppTokenFile = file }, "--dataset, --soda-url, --app-token-file, --poll-interval and --state-file are for --source ridership"},
		{"soda url with turnstile", replay, func(c *Config) { c.SODAURL = "http://127.0.0.1:8090" }, "--dataset, --soda-url, --app-token-file, --poll-interval and --state-file are for --source ridership"},
		{"poll interval with turnstile", replay, func(c *Config) { c.PollInterval = time.Minute }, "--dataset, --soda-url, --app-token-file, --poll-interval and --state-file are for --source ridership"},
		{"ridership without a source", api, func(c *Config) { c.Dataset = "" }, "choose a ridership source: --dataset ID (the SODA API) or --input FILE... (CSV exports)"},
		{"dataset and input", api, func(c *Config) { c.Inputs = []string{file} }, "--dataset and --input are exclusive"},
		{"synthetic with ridership", api, func(c *Config) { c.Synthetic = true }, "--synthetic is a turnstile source; --source ridership takes --dataset ID or --input FILE"},
		{"speed with ridership", api, func(c *Config) { c.Speed = 3600 }, "--speed, --max-delta and --temp-dir are for the turnstile source, not --source ridership"},
		{"max delta with ridership", exports, func(c *Config) { c.MaxDelta = 500 }, "--speed, --max-delta and --temp-dir are for the turnstile source, not --source ridership"},
		{"temp dir with ridership", api, func(c *Config) { c.TempDir = dir }, "--speed, --max-delta and --temp-dir are for the turnstile source, not --source ridership"},
		{"state file with exports", exports, func(c *Config) { c.StateFile = filepath.Join(dir, "state") }, "--soda-url, --app-token-file, --poll-interval and --state-file are for --dataset (the API), not --input replays"},
		{"app token file with exports", exports, func(c *Config) { c.AppTokenFile = file }, "--soda-url, --app-token-file, --poll-interval and --state-file are for --dataset (the API), not --input replays"},
		{"soda url with exports", exports, func(c *Config) { c.SODAURL = "http://127.0.0.1:8090" }, "--soda-url, --app-token-file, --poll-interval and --state-file are for --dataset (the API), not --input replays"},
		{"poll interval with exports", exports, func(c *Config) { c.PollInterval = time.Second }, "--soda-url, --app-token-file, --poll-interval and --state-file are for --dataset (the API), not --input replays"},
		{"zero poll interval", api, func(c *Config) { c.PollInterval = 0 }, "--poll-interval 0s: must be positive"},
		{"negative poll interval", api, func(c *Config) { c.PollInterval = -time.Second }, "--poll-interval -1s: must be positive"},
		{"dataset as a URL", api, func(c *Config) { c.Dataset = "https://data.ny.gov/resource/5wq4-mkjj.json" }, `--dataset "https://data.ny.gov/resource/5wq4-mkjj.json": want a dataset ID such as 5wq4-mkjj`},
		{"dataset with a path", api, func(c *Config) { c.Dataset = "5wq4-mkjj.json" }, `--dataset "5wq4-mkjj.json": want a dataset ID such as 5wq4-mkjj`},
		{"soda url without scheme", api, func(c *Config) { c.SODAURL = "data.ny.gov" }, `--soda-url "data.ny.gov": want http(s)://HOST, e.g. https://data.ny.gov`},
		{"soda url of another scheme", api, func(c *Config) { c.SODAURL = "ftp://data.ny.gov" }, `--soda-url "ftp://data.ny.gov": want http(s)://HOST`},
		{"soda url without host", api, func(c *Config) { c.SODAURL = "http://" }, `--soda-url "http://": want http(s)://HOST`},
		{"soda url with a query", api, func(c *Config) { c.SODAURL = "https://data.ny.gov/?$limit=5" }, `--soda-url "https://data.ny.gov/?$limit=5": want http(s)://HOST`},
		{"soda url that does not parse", api, func(c *Config) { c.SODAURL = "http://[::1" }, `--soda-url "http://[::1": want http(s)://HOST`},
		{"state file is a directory", api, func(c *Config) { c.StateFile = dir }, "--state-file " + dir + ": is a directory"},
		{"state file in a missing directory", api, func(c *Config) { c.StateFile = filepath.Join(dir, "none", "state") }, "--state-file: stat " + filepath.Join(dir, "none") + ": no such file"},
		{"state file under a file", api, func(c *Config) { c.StateFile = filepath.Join(file, "state") }, "--state-file " + filepath.Join(file, "state") + ": " + file + " is not a directory"},
		{"missing ridership export", exports, func(c *Config) { c.Inputs = []string{filepath.Join(dir, "nope.csv")} }, "--input: stat " + filepath.Join(dir, "nope.csv") + ": no such file"},
		{"ridership bad from", api, func(c *Config) { c.From = "2025-02-30" }, `--from "2025-02-30": want YYYY-MM-DD`},
		{"ridership from after to", exports, func(c *Config) { c.From, c.To = "2025-01-15", "2025-01-14" }, "--from 2025-01-15 is not before --to 2025-01-14"},
		{"ridership to kafka without config", exports, func(c *Config) { c.Out = "" }, "--config FILE is required to send to Kafka"},
		{"ridership create topic with out", exports, func(c *Config) { c.CreateTopic = true }, "--create-topic needs Kafka; it cannot be used with --out"},
		{"both sources", replay, func(c *Config) { c.Synthetic = true }, "--input and --synthetic are exclusive"},
		{"negative speed", replay, func(c *Config) { c.Speed = -1 }, "--speed -1: must not be negative"},
		{"negative speed, synthetic", replayless(feed), func(c *Config) { c.Speed = -0.5 }, "--speed -0.5: must not be negative"},
		{"negative max delta", replay, func(c *Config) { c.MaxDelta = -1 }, "--max-delta -1: must not be negative"},
		{"create topic with out", replay, func(c *Config) { c.CreateTopic = true }, "--create-topic needs Kafka; it cannot be used with --out"},
		{"create topic, no partitions", replayless(feed), func(c *Config) { c.CreateTopic, c.Partitions = true, 0 }, "--partitions 0: must be at least 1"},
		{"zero flush timeout", replay, func(c *Config) { c.FlushTimeout = 0 }, "--flush-timeout 0s: must be positive"},
		{"negative flush timeout", replay, func(c *Config) { c.FlushTimeout = -time.Second }, "--flush-timeout -1s: must be positive"},
		{"metrics address without port", replay, func(c *Config) { c.MetricsAddr = "9102" }, `--metrics-addr "9102": want host:port (e.g. :9102): address 9102: missing port in address`},
		{"missing input file", replay, func(c *Config) { c.Inputs = []string{filepath.Join(dir, "nope.txt")} }, "--input: stat " + filepath.Join(dir, "nope.txt") + ": no such file"},
		{"second input missing", replay, func(c *Config) { c.Inputs = append(c.Inputs, filepath.Join(dir, "nope.txt")) }, "--input: stat " + filepath.Join(dir, "nope.txt")},
		{"glob matching nothing", replay, func(c *Config) { c.Inputs = []string{filepath.Join(dir, "x_*.txt")} }, "--input: " + filepath.Join(dir, "x_*.txt") + ": no file matches"},
		{"bad glob", replay, func(c *Config) { c.Inputs = []string{filepath.Join(dir, "x_[.txt")} }, "--input: " + filepath.Join(dir, "x_[.txt") + ": bad glob pattern"},
		{"empty directory", replay, func(c *Config) { c.Inputs = []string{empty} }, "--input: " + empty + ": directory holds no file"},
		{"gs without bucket", replay, func(c *Config) { c.Inputs = []string{"gs://"} }, "--input gs://: want gs://BUCKET/PREFIX"},
		{"gs bad bucket", replay, func(c *Config) { c.Inputs = []string{"gs://My_Bucket/raw"} }, `--input gs://My_Bucket/raw: "My_Bucket" is not a GCS bucket name`},
		{"from with synthetic", replayless(feed), func(c *Config) { c.From = "2024-07-22" }, "--from, --to and --temp-dir are for --input replays, not --synthetic"},
		{"to with synthetic", replayless(feed), func(c *Config) { c.To = "2024-07-22" }, "--from, --to and --temp-dir are for --input replays, not --synthetic"},
		{"temp dir with synthetic", replayless(feed), func(c *Config) { c.TempDir = dir }, "--from, --to and --temp-dir are for --input replays, not --synthetic"},
		{"bad from", replay, func(c *Config) { c.From = "2024-13-01" }, `--from "2024-13-01": want YYYY-MM-DD, "YYYY-MM-DD HH:MM:SS" or RFC 3339`},
		{"bad to", replay, func(c *Config) { c.To = "tomorrow" }, `--to "tomorrow": want YYYY-MM-DD, "YYYY-MM-DD HH:MM:SS" or RFC 3339`},
		{"from after to", replay, func(c *Config) { c.From, c.To = "2024-07-22", "2024-07-21 12:00:00" }, "--from 2024-07-22 is not before --to 2024-07-21 12:00:00"},
		{"from equal to", replay, func(c *Config) { c.From, c.To = "2024-07-22", "2024-07-22T00:00:00Z" }, "--from 2024-07-22 is not before --to 2024-07-22T00:00:00Z"},
		{"missing temp dir", replay, func(c *Config) { c.TempDir = filepath.Join(dir, "none") }, "--temp-dir: stat " + filepath.Join(dir, "none") + ": no such file"},
		{"temp dir is a file", replay, func(c *Config) { c.TempDir = file }, "--temp-dir " + file + ": not a directory"},
		{"bad start", replayless(feed), func(c *Config) { c.Start = "yesterday" }, `--start "yesterday": want "YYYY-MM-DD HH:MM:SS" or RFC 3339`},
		{"start as a date", replayless(feed), func(c *Config) { c.Start = "2024-07-22" }, `--start "2024-07-22": want "YYYY-MM-DD HH:MM:SS" or RFC 3339`},
		{"no turnstiles", replayless(feed), func(c *Config) { c.Turnstiles = 0 }, "--synthetic: turnstiles 0: must be between 1 and 100000"},
		{"zero rate", replayless(feed), func(c *Config) { c.Rate = 0 }, "--synthetic: rate 0: must be a positive number of messages per second"},
		{"negative count", replayless(feed), func(c *Config) { c.Count = -1 }, "--synthetic: count -1: must not be negative (0 = unlimited)"},
		{"kafka without config", replayless(feed), func(c *Config) { c.ConfigPath = "" }, "--config FILE is required to send to Kafka (or use --out - to write to stdout)"},
		{"replay to kafka without config", replay, func(c *Config) { c.Out = "" }, "--config FILE is required to send to Kafka (or use --out - to write to stdout)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.base(file)
			if _, err := c.Validate(now); err != nil {
				t.Fatalf("the base config is not valid: %v", err)
			}
			tt.edit(&c)
			s, err := c.Validate(now)
			if err == nil {
				t.Fatalf("Validate accepted %+v; want %q", c, tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			if s != nil {
				t.Errorf("Validate returned settings %+v with its error", s)
			}
		})
	}
}

// replayless adapts a Config maker without inputs to the table's base.
func replayless(f func() Config) func(string) Config {
	return func(string) Config { return f() }
}

// TestValidateAccepts checks valid configs and what Validate derives from
// them: the parsed --from, --to and --start, and the synthetic defaults.
func TestValidateAccepts(t *testing.T) {
	dir, file := files(t)
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	defaultFeed := synthetic.Config{Turnstiles: 200, Rate: 100, Speed: 1, Seed: 1, Start: at("2026-12-05T23:10:42Z")}
	statePath := filepath.Join(dir, "ridership.state")
	tests := []struct {
		name      string
		c         Config
		from, to  time.Time
		feed      synthetic.Config
		topic     string           // the topic of the settings; "" = c.Topic
		ridership ridership.Config // the ridership source's config
	}{
		{name: "replay to stdout", c: replay(file)},
		{name: "replay of a directory and a glob", c: with(replay(file), func(c *Config) { c.Inputs = []string{dir, filepath.Join(dir, "turnstile_*.txt")} })},
		{name: "replay of a gs prefix (not read)", c: with(replay(file), func(c *Config) { c.Inputs = []string{"gs://raw-bucket/turnstile/", "gs://raw-bucket"} })},
		{name: "replay to a file", c: with(replay(file), func(c *Config) { c.Out = filepath.Join(dir, "out.csv") })},
		{name: "replay to kafka", c: with(replay(file), func(c *Config) { c.Out, c.ConfigPath, c.CreateTopic = "", "kafka.properties", true })},
		{name: "empty topic is the turnstile topic", c: with(replay(file), func(c *Config) { c.Topic = "" }), topic: "mta-turnstile"},
		{name: "empty topic is the turnstile topic, to kafka", c: with(feed(), func(c *Config) { c.Topic = "" }), topic: "mta-turnstile", feed: defaultFeed},
		{name: "zero soda url and poll interval with turnstile", c: with(replay(file), func(c *Config) { c.SODAURL, c.PollInterval = "", 0 })},
		{
			name:      "ridership API with the defaults",
			c:         api(file),
			topic:     "mta-ridership",
			ridership: ridership.Config{Dataset: "5wq4-mkjj", SODAURL: "https://data.ny.gov", PollInterval: 5 * time.Minute},
		},
		{
			name: "ridership API with every flag",
			c: with(api(file), func(c *Config) {
				c.Dataset, c.SODAURL, c.AppTokenFile, c.PollInterval, c.StateFile = "wujg-7c2s", "http://127.0.0.1:8090/", filepath.Join(dir, "no-token-yet"), 2*time.Second, statePath
				c.From, c.To, c.Topic, c.CreateTopic = "2024-03-01", "2024-03-08 12:00:00", "ridership-test", true
			}),
			from: at("2024-03-01T00:00:00Z"), to: at("2024-03-08T12:00:00Z"),
			ridership: ridership.Config{Dataset: "wujg-7c2s", SODAURL: "http://127.0.0.1:8090/", PollInterval: 2 * time.Second, StateFile: statePath,
				From: at("2024-03-01T00:00:00Z"), To: at("2024-03-08T12:00:00Z")},
		},
		{
			name:      "ridership API with an existing state file and a path in the portal URL",
			c:         with(api(file), func(c *Config) { c.StateFile, c.SODAURL = file, "https://data.example.org/sub" }),
			topic:     "mta-ridership",
			ridership: ridership.Config{Dataset: "5wq4-mkjj", SODAURL: "https://data.example.org/sub", PollInterval: 5 * time.Minute, StateFile: file},
		},
		{
			name:      "ridership exports to stdout",
			c:         with(exports(file), func(c *Config) { c.Inputs = []string{file, "gs://raw-bucket/ridership/"}; c.To = "2025-01-15" }),
			to:        at("2025-01-15T00:00:00Z"),
			topic:     "mta-ridership",
			ridership: ridership.Config{Inputs: []string{file, "gs://raw-bucket/ridership/"}, SODAURL: "https://data.ny.gov", PollInterval: 5 * time.Minute, To: at("2025-01-15T00:00:00Z")},
		},
		{
			name:      "ridership exports with zero API flags",
			c:         with(exports(file), func(c *Config) { c.SODAURL, c.PollInterval = "", 0 }),
			topic:     "mta-ridership",
			ridership: ridership.Config{Inputs: []string{file}},
		},
		{name: "no partitions without --create-topic", c: with(feed(), func(c *Config) { c.Partitions = 0 }), feed: defaultFeed},
		{name: "replay speed and max delta", c: with(replay(file), func(c *Config) { c.Speed, c.MaxDelta = 3600, 0 })},
		{name: "metrics address", c: with(replay(file), func(c *Config) { c.MetricsAddr = ":9102" })},
		{name: "temp dir", c: with(replay(file), func(c *Config) { c.TempDir = dir })},
		{
			name: "range as dates",
			c:    with(replay(file), func(c *Config) { c.From, c.To = "2024-07-21", "2024-07-23" }),
			from: at("2024-07-21T00:00:00Z"), to: at("2024-07-23T00:00:00Z"),
		},
		{
			name: "range as timestamps and RFC 3339, in UTC",
			c:    with(replay(file), func(c *Config) { c.From, c.To = "2024-07-21 04:00:00", "2024-07-23T08:00:00-04:00" }),
			from: at("2024-07-21T04:00:00Z"), to: at("2024-07-23T12:00:00Z"),
		},
		{name: "open start of range", c: with(replay(file), func(c *Config) { c.To = "2024-07-21" }), to: at("2024-07-21T00:00:00Z")},
		{name: "open end of range", c: with(replay(file), func(c *Config) { c.From = "2024-07-21" }), from: at("2024-07-21T00:00:00Z")},
		{name: "synthetic defaults: speed 1, start now to the second", c: feed(), feed: defaultFeed},
		{
			name: "synthetic with every flag",
			c: with(feed(), func(c *Config) {
				c.Turnstiles, c.Rate, c.Speed, c.Seed, c.Start, c.Count = 500, 200, 60, 7, "2024-07-22 08:00:00", 1000
			}),
			feed: synthetic.Config{Turnstiles: 500, Rate: 200, Speed: 60, Seed: 7, Start: at("2024-07-22T08:00:00Z"), Count: 1000},
		},
		{
			name: "synthetic start in RFC 3339, in UTC",
			c:    with(feed(), func(c *Config) { c.Start = "2024-07-22T08:00:00+02:00" }),
			feed: with2(defaultFeed, func(f *synthetic.Config) { f.Start = at("2024-07-22T06:00:00Z") }),
		},
		{name: "synthetic to stdout", c: with(feed(), func(c *Config) { c.ConfigPath, c.Out = "", "-" }), feed: defaultFeed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.c.Validate(now)
			if err != nil {
				t.Fatalf("Validate(%+v): %v", tt.c, err)
			}
			if !s.FromTime.Equal(tt.from) || !s.ToTime.Equal(tt.to) {
				t.Errorf("range = [%v, %v), want [%v, %v)", s.FromTime, s.ToTime, tt.from, tt.to)
			}
			if s.FromTime.Location() != time.UTC || s.ToTime.Location() != time.UTC {
				t.Errorf("range [%v, %v) is not in UTC", s.FromTime, s.ToTime)
			}
			if s.Feed != tt.feed {
				t.Errorf("feed = %+v, want %+v", s.Feed, tt.feed)
			}
			want := tt.c
			if tt.topic != "" {
				want.Topic = tt.topic
			}
			if !reflect.DeepEqual(s.Config, want) {
				t.Errorf("settings carry %+v, want the config as given, %+v", s.Config, want)
			}
			if !reflect.DeepEqual(s.Ridership, tt.ridership) {
				t.Errorf("ridership config = %+v, want %+v", s.Ridership, tt.ridership)
			}
		})
	}
}

func with(c Config, edit func(*Config)) Config {
	edit(&c)
	return c
}

func with2(f synthetic.Config, edit func(*synthetic.Config)) synthetic.Config {
	edit(&f)
	return f
}

// FuzzParseEventTime checks that --from and --to take any value --start
// takes, as the same instant; that every time they return is in UTC; and
// that a refused value names the flag.
func FuzzParseEventTime(f *testing.F) {
	for _, s := range []string{"2024-07-22", "2024-07-22 08:00:00", "2024-07-22T08:00:00Z",
		"2024-07-22T08:00:00-04:00", "2024-13-01", "tomorrow", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseEventTime("--from", s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--from ") {
				t.Errorf("parseEventTime(%q) error %q does not name the flag", s, err)
			}
		} else if got.Location() != time.UTC {
			t.Errorf("parseEventTime(%q) = %v, not in UTC", s, got)
		}
		start, errStart := parseStart(s)
		if errStart != nil {
			if !strings.HasPrefix(errStart.Error(), "--start ") {
				t.Errorf("parseStart(%q) error %q does not name the flag", s, errStart)
			}
			return
		}
		if start.Location() != time.UTC {
			t.Errorf("parseStart(%q) = %v, not in UTC", s, start)
		}
		if err != nil || !got.Equal(start) {
			t.Errorf("parseStart(%q) = %v but parseEventTime = %v, %v", s, start, got, err)
		}
	})
}
