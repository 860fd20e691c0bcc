package flagdoc

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// apps lists each program and the doc that holds its "## Flags" table.
var apps = []struct{ name, doc string }{
	{"consumer", "docs/consumer.md"},
	{"producer", "docs/producer.md"},
	{"dashboard", "docs/dashboard.md"},
}

// TestFlagTablesMatchHelp builds every app, runs `<app> -h`, and compares
// the flags it prints with its doc's flag table, both ways, defaults
// included.
func TestFlagTablesMatchHelp(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	bin := t.TempDir()
	for _, app := range apps {
		t.Run(app.name, func(t *testing.T) {
			t.Parallel()
			exe := filepath.Join(bin, app.name)
			build := exec.Command("go", "build", "-o", exe, "./apps/"+app.name)
			build.Dir = root
			build.Env = append(os.Environ(), "CGO_ENABLED=1")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build ./apps/%s: %v\n%s", app.name, err, out)
			}
			// flag prints the defaults to stderr; the exit code of -h is
			// not what this test is about.
			help, _ := exec.Command(exe, "-h").CombinedOutput()
			fromHelp, err := parseHelp(string(help))
			if err != nil {
				t.Fatalf("%s -h: %v\n%s", app.name, err, help)
			}
			md, err := os.ReadFile(filepath.Join(root, app.doc))
			if err != nil {
				t.Fatal(err)
			}
			fromDoc, err := parseTable(string(md))
			if err != nil {
				t.Fatalf("%s: %v", app.doc, err)
			}
			for _, p := range compare(fromHelp, fromDoc) {
				t.Errorf("%s -h and %s disagree: %s", app.name, app.doc, p)
			}
		})
	}
}

// helpFlag is one flag as `-h` prints it: has is false when -h prints no
// "(default ...)", which the flag package does for zero values.
type helpFlag struct {
	def string
	has bool
}

var (
	helpHeader = regexp.MustCompile(`^  -([A-Za-z0-9][-A-Za-z0-9_.]*)(?: [^\t]+)?(?:\t(.*))?$`)
	// The flag package ends a usage with ` (default "x")` for strings and
	// ` (default x)` for other types; "(default: ...)" is usage text.
	helpDefault = regexp.MustCompile(`\(default ("(?:[^"\\]|\\.)*"|[^\s"():][^\s()]*)\)$`)
)

// parseHelp reads the output of flag.PrintDefaults: a line "  -name [type]"
// per flag, then its usage on lines indented "    \t" (a one-letter flag
// has its usage on the same line, after a tab).
func parseHelp(out string) (map[string]helpFlag, error) {
	flags := map[string]helpFlag{}
	var name string
	var usage []string
	finish := func() error {
		if name == "" {
			return nil
		}
		var f helpFlag
		if m := helpDefault.FindStringSubmatch(strings.Join(usage, " ")); m != nil {
			f.def, f.has = m[1], true
			if strings.HasPrefix(f.def, `"`) {
				s, err := strconv.Unquote(f.def)
				if err != nil {
					return fmt.Errorf("-%s: default %s: %w", name, f.def, err)
				}
				f.def = s
			}
		}
		if _, dup := flags[name]; dup {
			return fmt.Errorf("-%s printed twice", name)
		}
		flags[name] = f
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "    \t"); ok && name != "" {
			usage = append(usage, rest)
			continue
		}
		if m := helpHeader.FindStringSubmatch(line); m != nil {
			if err := finish(); err != nil {
				return nil, err
			}
			name, usage = m[1], nil
			if m[2] != "" {
				usage = append(usage, m[2])
			}
			continue
		}
		// "Usage of consumer:" and any other text end the current flag.
		if err := finish(); err != nil {
			return nil, err
		}
		name, usage = "", nil
	}
	if err := finish(); err != nil {
		return nil, err
	}
	if len(flags) == 0 {
		return nil, fmt.Errorf("no flags in the output")
	}
	return flags, nil
}

// docFlag is one row of a doc's flag table: literal is true when the
// default cell is exactly one `code span` (a value -h prints); any other
// cell (empty, or words such as "off", "now", "D") describes a zero default
// that the program fills in at start.
type docFlag struct {
	def     string
	literal bool
}

var (
	docFlagCell = regexp.MustCompile("^`--([a-z0-9][-a-z0-9]*)(?: [^`]*)?`$")
	docLiteral  = regexp.MustCompile("^`([^`]*)`$")
)

// parseTable reads the first Markdown table after the "## Flags" heading:
// one flag per row, the flag as `--name [ARG]` in the first cell, its
// default in the second.
func parseTable(md string) (map[string]docFlag, error) {
	lines := strings.Split(md, "\n")
	start := slices.Index(lines, "## Flags")
	if start < 0 {
		return nil, fmt.Errorf(`no "## Flags" heading`)
	}
	flags := map[string]docFlag{}
	row := 0
	for _, line := range lines[start+1:] {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if row > 0 {
				break // the end of the table
			}
			if strings.HasPrefix(line, "#") {
				return nil, fmt.Errorf(`no table under "## Flags"`)
			}
			continue
		}
		row++
		if row <= 2 { // the header and the |---| line
			continue
		}
		cells := splitRow(line)
		if len(cells) < 3 {
			return nil, fmt.Errorf("row %q: want | flag | default | meaning |", line)
		}
		m := docFlagCell.FindStringSubmatch(cells[0])
		if m == nil {
			return nil, fmt.Errorf("row %q: the first cell must be one flag, as `--name` or `--name ARG`", line)
		}
		if _, dup := flags[m[1]]; dup {
			return nil, fmt.Errorf("--%s has two rows", m[1])
		}
		var f docFlag
		if l := docLiteral.FindStringSubmatch(cells[1]); l != nil {
			f.def, f.literal = l[1], true
		} else {
			f.def = cells[1]
		}
		flags[m[1]] = f
	}
	if len(flags) == 0 {
		return nil, fmt.Errorf(`no flag rows under "## Flags"`)
	}
	return flags, nil
}

// splitRow splits a table row into trimmed cells; `\|` is a pipe inside a
// cell.
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell.WriteString(`\|`)
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

// zeroLiterals are the defaults -h leaves out (the flag package prints no
// default for a zero value), which a doc may still show in backticks.
var zeroLiterals = []string{"", "0", "false", "0s"}

// compare lists every disagreement between -h and the doc, sorted by flag.
func compare(help map[string]helpFlag, doc map[string]docFlag) []string {
	var problems []string
	for _, name := range sortedKeys(help) {
		h := help[name]
		d, ok := doc[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("--%s is in -h but has no row in the flag table", name))
		case h.has && !d.literal:
			problems = append(problems, fmt.Sprintf("--%s: -h prints the default %q; the table says %q (write it as `%s`)", name, h.def, d.def, h.def))
		case h.has && !sameValue(h.def, d.def):
			problems = append(problems, fmt.Sprintf("--%s: -h prints the default %q; the table says `%s`", name, h.def, d.def))
		case !h.has && d.literal && !slices.Contains(zeroLiterals, d.def):
			problems = append(problems, fmt.Sprintf("--%s: the table says the default is `%s`; -h prints none (a zero default: describe it in words, without backticks)", name, d.def))
		}
	}
	for _, name := range sortedKeys(doc) {
		if _, ok := help[name]; !ok {
			problems = append(problems, fmt.Sprintf("--%s has a row in the flag table but is not in -h", name))
		}
	}
	return problems
}

// sameValue compares defaults as text, or as durations when both are
// durations (-h prints 1h0m0s for a doc's 1h).
func sameValue(a, b string) bool {
	if a == b {
		return true
	}
	da, errA := time.ParseDuration(a)
	db, errB := time.ParseDuration(b)
	return errA == nil && errB == nil && da == db
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
