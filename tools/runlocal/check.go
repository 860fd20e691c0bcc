package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/stream/metricname"
)

// checkResult is what check found.
type checkResult struct {
	Files    int
	Rows     int
	Partial  []string // hidden temporary files of unfinished writes
	Valid    float64
	Rejected float64
	Emitted  float64
}

// runCheck is `runlocal check`: it waits for window files in a lake
// directory, decodes every one, and reads the consumer's metrics.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runlocal check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	source := fs.String("source", "turnstile", "what the window files hold: turnstile or ridership (decoded with ridership.ParseWindowRow)")
	dir := fs.String("dir", "", "directory of the window files (default lake/turnstile, or lake/ridership with --source ridership)")
	minFiles := fs.Int("min-files", 2, "fail unless at least this many window files exist")
	wait := fs.Duration("wait", 0, "wait up to this long for --min-files files to appear")
	metricsURL := fs.String("metrics", "http://127.0.0.1:9090/metrics", "consumer metrics URL to check (no rejected records, some valid ones); empty: skip")
	noPartial := fs.Bool("no-partial", false, "fail if a temporary file of an unfinished write is left (use once the consumer has stopped)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "runlocal check: %v\n", err)
		return exitUsage
	}
	if *source != "turnstile" && *source != "ridership" {
		fmt.Fprintf(stderr, "runlocal check: --source %q: want turnstile or ridership\n", *source)
		return exitUsage
	}
	if *dir == "" {
		*dir = filepath.Join("lake", *source)
	}
	if fs.NArg() > 0 || *minFiles < 0 || *wait < 0 {
		fmt.Fprintln(stderr, "runlocal check: want only flags, --min-files >= 0 and --wait >= 0; run runlocal check -h")
		return exitUsage
	}
	deadline := time.Now().Add(*wait)
	for {
		names, err := listWindowFiles(*dir)
		if err != nil {
			fmt.Fprintf(stdout, "check: FAIL: %v\n", err)
			return exitFailure
		}
		if len(names) >= *minFiles || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "check: interrupted")
			return exitFailure
		case <-time.After(time.Second):
		}
	}
	decode := decodeTurnstile
	if *source == "ridership" {
		decode = decodeRidership
	}
	res, err := check(ctx, *dir, *minFiles, *metricsURL, *noPartial, decode)
	if err != nil {
		fmt.Fprintf(stdout, "check: FAIL: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "check: OK: %d window files in %s, %d rows, all decode", res.Files, *dir, res.Rows)
	if *metricsURL != "" {
		fmt.Fprintf(stdout, "; consumer metrics: %.0f valid, %.0f rejected, %.0f windows emitted", res.Valid, res.Rejected, res.Emitted)
	}
	fmt.Fprintln(stdout)
	return exitOK
}

// decodeTurnstile returns the number of rows of a turnstile window file.
func decodeTurnstile(data []byte) (int, error) {
	rows, err := lake.DecodeWindows(data)
	return len(rows), err
}

// decodeRidership returns the number of rows of a ridership window file:
// gzip, the header ridership.LakeColumns, then rows that
// ridership.ParseWindowRow reads, one a line (no station complex name
// holds a line break).
func decodeRidership(data []byte) (int, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("gunzip: %w", err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		return 0, fmt.Errorf("gunzip: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if lines[0] != ridership.LakeColumns {
		return 0, fmt.Errorf("header %q, want %q", lines[0], ridership.LakeColumns)
	}
	for i, line := range lines[1:] {
		if _, err := ridership.ParseWindowRow([]byte(line)); err != nil {
			return 0, fmt.Errorf("line %d: %w", i+2, err)
		}
	}
	return len(lines) - 1, nil
}

// check decodes every window file under dir with decode (which returns its
// number of rows) and, unless metricsURL is empty, checks the consumer's
// counters.
func check(ctx context.Context, dir string, minFiles int, metricsURL string, noPartial bool, decode func([]byte) (int, error)) (checkResult, error) {
	var res checkResult
	names, err := listWindowFiles(dir)
	if err != nil {
		return res, err
	}
	if len(names) < minFiles {
		return res, fmt.Errorf("%d window files in %s, want at least %d", len(names), dir, minFiles)
	}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return res, fmt.Errorf("read window file: %w", err)
		}
		rows, err := decode(data)
		if err != nil {
			return res, fmt.Errorf("%s: %w", name, err)
		}
		if rows == 0 {
			return res, fmt.Errorf("%s: no rows", name)
		}
		res.Files++
		res.Rows += rows
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".tmp") {
			res.Partial = append(res.Partial, e.Name())
		}
	}
	if noPartial && len(res.Partial) > 0 {
		return res, fmt.Errorf("unfinished writes left in %s: %s", dir, strings.Join(res.Partial, " "))
	}
	if metricsURL == "" {
		return res, nil
	}
	m, err := scrape(ctx, metricsURL)
	if err != nil {
		return res, err
	}
	var ok bool
	if res.Valid, ok = m[metricname.RecordsValid]; !ok {
		return res, fmt.Errorf("%s: no %s", metricsURL, metricname.RecordsValid)
	}
	if res.Rejected, ok = m[metricname.RecordsRejected]; !ok {
		return res, fmt.Errorf("%s: no %s", metricsURL, metricname.RecordsRejected)
	}
	res.Emitted = m[metricname.WindowsEmitted]
	switch {
	case res.Rejected != 0:
		return res, fmt.Errorf("the consumer rejected %.0f records", res.Rejected)
	case res.Valid == 0:
		return res, errors.New("the consumer counted no valid record")
	}
	return res, nil
}

// scrape reads a Prometheus text exposition and sums the samples of each
// metric over their labels.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("metrics %s: %w", url, err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics %s: HTTP %d", url, resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics sums the samples of each counter, gauge and untyped metric in
// a Prometheus text exposition over their labels.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				out[name] += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[name] += m.GetGauge().GetValue()
			case m.GetUntyped() != nil:
				out[name] += m.GetUntyped().GetValue()
			}
		}
	}
	return out, nil
}
