package flagdoc

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestParseHelp reads the real output of flag.PrintDefaults, so that the
// parser follows the flag package rather than a hand-written sample.
func TestParseHelp(t *testing.T) {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("topic", "mta-turnstile", "Kafka topic")
	fs.String("config", "", "librdkafka properties `FILE`")
	fs.String("slide", "", "window slide (default: the window duration)")
	fs.String("layout", "flat", "flat (PREFIX/<end>.csv.gz) or hive (PREFIX/dt=...)")
	fs.String("quoted", `a "b" c`, "a default with quotes")
	fs.Bool("index", true, "write the index column")
	fs.Bool("synthetic", false, "a synthetic feed")
	fs.Duration("max-future", time.Hour, "clock guard;\nsecond line")
	fs.Int("count", 0, "messages, 0 = unlimited")
	fs.Float64("rate", 100, "messages per second")
	fs.Int("n", 3, "a one-letter flag")
	var out strings.Builder
	fs.SetOutput(&out)
	fs.Usage()

	got, err := parseHelp(out.String())
	if err != nil {
		t.Fatalf("parseHelp: %v\n%s", err, out.String())
	}
	want := map[string]helpFlag{
		"topic":      {"mta-turnstile", true},
		"config":     {},
		"slide":      {},
		"layout":     {"flat", true},
		"quoted":     {`a "b" c`, true},
		"index":      {"true", true},
		"synthetic":  {},
		"max-future": {"1h0m0s", true},
		"count":      {},
		"rate":       {"100", true},
		"n":          {"3", true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseHelp =\n%v\nwant\n%v\n(output:\n%s)", got, want, out.String())
	}
	if _, err := parseHelp("Usage of app:\n"); err == nil {
		t.Error("parseHelp of an output without flags: want an error")
	}
}

const table = "# App\n\n## Flags\n\nSome text.\n\n" +
	"| Flag | Default | Meaning |\n" +
	"| --- | --- | --- |\n" +
	"| `--topic` | `mta-turnstile` | topic |\n" +
	"| `--input FILE\\|-` | | input |\n" +
	"| `--max-future D` | `1h` | guard |\n" +
	"| `--slide S` | D | slide |\n" +
	"| `--count N` | `0` | count |\n" +
	"\nAfter the table.\n\n| `--other` | `x` | another table |\n"

func TestParseTable(t *testing.T) {
	got, err := parseTable(table)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]docFlag{
		"topic":      {"mta-turnstile", true},
		"input":      {"", false},
		"max-future": {"1h", true},
		"slide":      {"D", false},
		"count":      {"0", true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseTable = %v, want %v", got, want)
	}

	for name, md := range map[string]string{
		"no heading":      "# App\n\n| `--topic` | `x` | y |\n",
		"no table":        "## Flags\n\ntext\n\n## Next\n\n| a | b | c |\n",
		"two flags a row": "## Flags\n\n| F | D | M |\n|---|---|---|\n| `--a`, `--b` | | |\n",
		"two rows a flag": "## Flags\n\n| F | D | M |\n|---|---|---|\n| `--a` | | |\n| `--a X` | | |\n",
		"short row":       "## Flags\n\n| F | D | M |\n|---|---|---|\n| `--a` |\n",
	} {
		if _, err := parseTable(md); err == nil {
			t.Errorf("%s: parseTable gave no error", name)
		}
	}
}

func TestCompare(t *testing.T) {
	help := map[string]helpFlag{
		"topic":      {"mta-turnstile", true},
		"max-future": {"1h0m0s", true},
		"slide":      {},
		"count":      {},
	}
	doc := func(edit func(map[string]docFlag)) map[string]docFlag {
		d := map[string]docFlag{
			"topic":      {"mta-turnstile", true},
			"max-future": {"1h", true},
			"slide":      {"D", false},
			"count":      {"0", true},
		}
		edit(d)
		return d
	}
	for _, tc := range []struct {
		name string
		doc  map[string]docFlag
		want []string // substrings of the problems, in order
	}{
		{"agree", doc(func(map[string]docFlag) {}), nil},
		{"row missing", doc(func(d map[string]docFlag) { delete(d, "slide") }),
			[]string{"--slide is in -h but has no row"}},
		{"row extra", doc(func(d map[string]docFlag) { d["gone"] = docFlag{} }),
			[]string{"--gone has a row in the flag table but is not in -h"}},
		{"default differs", doc(func(d map[string]docFlag) { d["topic"] = docFlag{"other", true} }),
			[]string{`--topic: -h prints the default "mta-turnstile"; the table says ` + "`other`"}},
		{"duration differs", doc(func(d map[string]docFlag) { d["max-future"] = docFlag{"2h", true} }),
			[]string{`--max-future: -h prints the default "1h0m0s"`}},
		{"default in words", doc(func(d map[string]docFlag) { d["topic"] = docFlag{"the topic", false} }),
			[]string{"(write it as `mta-turnstile`)"}},
		{"default -h does not print", doc(func(d map[string]docFlag) { d["slide"] = docFlag{"5", true} }),
			[]string{"--slide: the table says the default is `5`; -h prints none"}},
		{"both ways", doc(func(d map[string]docFlag) { delete(d, "count"); d["counter"] = docFlag{} }),
			[]string{"--count is in -h", "--counter has a row"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := compare(help, tc.doc)
			if len(got) != len(tc.want) {
				t.Fatalf("compare = %q, want %d problems like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}
