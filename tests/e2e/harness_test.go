package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/turnstile-stream/turnstile-stream/internal/gcstest"
	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// expectedHeader is the first line of every expected.csv: the lake columns
// without the pandas index column.
const expectedHeader = "CA,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS"

// lakeHeader is the header every window file must have: the index column,
// then the lake columns.
const lakeHeader = "," + expectedHeader

// The sentinel closes every real window of a partition in Kafka mode: one
// record per partition, far ahead of the cases' event time (2024) but not
// ahead of the wall clock, which the consumer's clock guard (--max-future)
// would reject; its own window stays open.
// Its rows (CA sentinelCA) are never written before the run stops, and would
// be excluded if they were.
const (
	sentinelCA   = "ZZZZ"
	sentinelTime = "2025-01-01 00:00:00"
)

func sentinelValue(partition int) []byte {
	return []byte(fmt.Sprintf("%s,R999,99-99-%02d,SENTINEL,X,X,01-01-25,00:00:00,REGULAR,0,0,sentinel-%d,%s",
		sentinelCA, partition, partition, sentinelTime))
}

// --- case specs -----------------------------------------------------------

// caseSpec is testdata/<case>/case.txt: the case's flags and input.
//
//	partitions: 4
//	producer: --input {testdata}/replay/turnstile_shuffled.txt --speed 0
//	consumer: --duration 5
//	messages: messages.txt
//
// {case} and {testdata} expand to the absolute directories.
type caseSpec struct {
	name, dir  string
	partitions int
	producer   []string
	consumer   []string
	messages   string // a file of message values, one per line, that the test produces itself
}

func loadCase(t *testing.T, name string) caseSpec {
	t.Helper()
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(td, name)
	data, err := os.ReadFile(filepath.Join(dir, "case.txt"))
	if err != nil {
		t.Fatal(err)
	}
	cs := caseSpec{name: name, dir: dir, partitions: 1}
	expand := func(s string) string {
		return strings.NewReplacer("{case}", dir, "{testdata}", td).Replace(s)
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s/case.txt:%d: want key: value", name, i+1)
		}
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(key) {
		case "partitions":
			if cs.partitions, err = strconv.Atoi(value); err != nil {
				t.Fatalf("%s/case.txt:%d: %v", name, i+1, err)
			}
		case "producer":
			cs.producer = splitArgs(expand(value))
		case "consumer":
			cs.consumer = splitArgs(expand(value))
		case "messages":
			cs.messages = filepath.Join(dir, value)
		default:
			t.Fatalf("%s/case.txt:%d: unknown key %q", name, i+1, key)
		}
	}
	return cs
}

// splitArgs splits on spaces, keeping "double-quoted words" whole.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, have = !quoted, true
		case r == ' ' && !quoted:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// --- the environment of one case -------------------------------------------

type env struct {
	t       *testing.T
	cs      caseSpec
	cluster *cluster
	gcs     *gcstest.Server
	lake    lakeStore // where readLake reads: gcs, or a GCS emulator in a container
	topic   string
	group   string
	props   string // the apps' properties file
	mu      sync.Mutex
	procs   []*proc
}

type envOption struct {
	restartable bool
	props       map[string]string // extra client properties
}

// newEnv starts what a case needs: a Kafka cluster with the case's topic, a
// GCS emulator with the lake bucket, and the apps' properties file. The
// emulator enforces the permissions that terraform/iam.tf grants the
// consumer on the lake (lakeWriterPolicy): a request that needs another one
// gets GCS's 403, as in a deployment.
func newEnv(t *testing.T, name string, opt envOption) *env {
	t.Helper()
	setup(t)
	cs := loadCase(t, name)
	topic := "mta-turnstile-" + strings.ReplaceAll(name, "_", "-") + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	e := &env{t: t, cs: cs, topic: topic, group: "e2e-" + topic}
	e.cluster = kafkaBackend.Cluster(t, topic, cs.partitions, opt.restartable)
	e.props = e.cluster.propsFile(t, opt.props)
	e.gcs = gcstest.New(t, gcstest.Enforce(lakeWriterPolicy(t)))
	e.lake = e.gcs
	t.Cleanup(e.stopAll)
	return e
}

// --- processes ---------------------------------------------------------------

// proc is a running app. Its stderr goes to a log file and a buffer.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (e *env) start(name, bin string, stdout io.Writer, args ...string) *proc {
	e.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "STORAGE_EMULATOR_HOST="+e.gcs.Host())
	p := &proc{name: name, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.logs
	cmd.Stdout = stdout
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return p
}

// startConsumer starts a consumer on the case's topic, group and lake, with
// the case's flags and then extra ones.
func (e *env) startConsumer(name string, extra ...string) *proc {
	args := []string{"--config", e.props, "--topic", e.topic, "--group", e.group,
		"--sink", "gs://" + e.gcs.Bucket() + "/turnstile", "--commit-interval", "200ms", "--idle-close", "0"}
	args = append(args, e.cs.consumer...)
	args = append(args, extra...)
	return e.start(name, consumerBin, nil, args...)
}

// startProducer starts the producer with the case's flags, then extra ones.
func (e *env) startProducer(name string, extra ...string) *proc {
	args := append([]string{"--config", e.props, "--topic", e.topic}, e.cs.producer...)
	args = append(args, extra...)
	return e.start(name, producerBin, nil, args...)
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil && !strings.Contains(err.Error(), "finished") {
		t.Fatalf("signal %s: %v", p.name, err)
	}
}

// wait waits for the process to end and returns its exit code (-1 when a
// signal killed it).
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %s; its log:\n%s", p.name, timeout, tail(p.logs.String(), 60))
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and requires a clean exit (0).
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("%s exited %d after SIGTERM, want 0; its log:\n%s", p.name, code, tail(p.logs.String(), 60))
	}
}

// waitLog waits until the process's log holds a line matching pattern and
// returns how long that took.
func (p *proc) waitLog(t *testing.T, pattern string, timeout time.Duration) time.Duration {
	t.Helper()
	re := regexp.MustCompile(pattern)
	began := time.Now()
	for !re.MatchString(p.logs.String()) {
		if p.exited() {
			t.Fatalf("%s exited before logging %q; its log:\n%s", p.name, pattern, tail(p.logs.String(), 40))
		}
		if time.Since(began) > timeout {
			t.Fatalf("%s did not log %q within %s; its log:\n%s", p.name, pattern, timeout, tail(p.logs.String(), 40))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(began)
}

// kill sends SIGKILL and waits.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	p.wait(t, 30*time.Second)
}

// stopAll kills what is still running at the end of a case and, when the case
// failed, shows the apps' logs.
func (e *env) stopAll() {
	e.mu.Lock()
	procs := slices.Clone(e.procs)
	e.mu.Unlock()
	for _, p := range procs {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if e.t.Failed() {
		for _, p := range procs {
			e.t.Logf("--- log of %s (exit %v):\n%s", p.name, p.err, tail(p.logs.String(), 40))
		}
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = append([]string{fmt.Sprintf("[... %d lines ...]", len(parts)-lines)}, parts[len(parts)-lines:]...)
	}
	return strings.Join(parts, "\n")
}

// runProducer runs the producer to the end and requires exit 0.
func (e *env) runProducer(name string, extra ...string) *proc {
	e.t.Helper()
	p := e.startProducer(name, extra...)
	if code := p.wait(e.t, 3*time.Minute); code != 0 {
		e.t.Fatalf("%s exited %d, want 0; its log:\n%s", name, code, tail(p.logs.String(), 40))
	}
	return p
}

// --- Kafka input -------------------------------------------------------------

// produceMessages sends the case's message lines to partition 0, in order,
// then the sentinels.
func (e *env) produceMessages() int {
	e.t.Helper()
	data, err := os.ReadFile(e.cs.messages)
	if err != nil {
		e.t.Fatal(err)
	}
	var recs []kafkatest.Record
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		recs = append(recs, kafkatest.Record{Partition: 0, Value: line})
	}
	if err := kafkatest.Produce(e.cluster.Addr, e.topic, recs); err != nil {
		e.t.Fatal(err)
	}
	e.sendSentinels()
	return len(recs)
}

// sendSentinels appends the sentinel record to every partition.
func (e *env) sendSentinels() {
	e.t.Helper()
	var recs []kafkatest.Record
	for p := 0; p < e.cs.partitions; p++ {
		recs = append(recs, kafkatest.Record{Partition: int32(p), Key: []byte("sentinel"), Value: sentinelValue(p)})
	}
	if err := kafkatest.Produce(e.cluster.Addr, e.topic, recs); err != nil {
		e.t.Fatalf("send sentinels: %v", err)
	}
}

// --- the lake ------------------------------------------------------------------

// lakeContents is what the lake holds, decoded and checked.
type lakeContents struct {
	files    []string
	rows     []string // window rows without the index column, sentinel rows excluded, sorted
	rejected []sideRecord
	late     []sideRecord
	shape    string // the shape marker turnstile_shape, without its line end (docs/lake.md)
}

type sideRecord struct {
	Reason      string  `json:"reason"`
	Detail      string  `json:"detail"`
	Source      string  `json:"source"`
	Partition   *int32  `json:"partition"`
	Offset      int64   `json:"offset"`
	Value       *string `json:"value"`
	ValueBase64 string  `json:"value_base64"`
	WindowEnd   string  `json:"window_end"`
}

func (r sideRecord) value() string {
	if r.Value != nil {
		return *r.Value
	}
	b, _ := base64.StdEncoding.DecodeString(r.ValueBase64)
	return string(b)
}

var windowName = regexp.MustCompile(`^turnstile/(\d{8}T\d{6})_p(\d+)\.csv\.gz$`)

// lakeStore is a GCS emulator as the harness reads it: the in-process one
// (*gcstest.Server) or one in a container (containerLake).
type lakeStore interface {
	Bucket() string
	Objects(bucket, prefix string) ([]string, error)
	Object(bucket, name string) ([]byte, error)
}

// readLake reads every object under the sink prefixes straight from the
// emulator (no faults), checks each window file's name, header, index column
// and window end, and returns the rows.
func (e *env) readLake() (lakeContents, error) {
	var lc lakeContents
	names, err := e.lake.Objects(e.lake.Bucket(), "turnstile")
	if err != nil {
		return lc, err
	}
	for _, name := range names {
		data, err := e.lake.Object(e.lake.Bucket(), name)
		if err != nil {
			return lc, err
		}
		if name == "turnstile_shape" {
			lc.shape = strings.TrimSuffix(string(data), "\n")
			if _, err := window.ParseShape(lc.shape); err != nil {
				return lc, fmt.Errorf("%s: %w", name, err)
			}
			continue
		}
		text, err := gunzip(data)
		if err != nil {
			return lc, fmt.Errorf("%s: %w", name, err)
		}
		switch {
		case strings.HasPrefix(name, "turnstile/"):
			rows, err := checkWindowFile(name, text)
			if err != nil {
				return lc, err
			}
			lc.files = append(lc.files, name)
			lc.rows = append(lc.rows, rows...)
		case strings.HasPrefix(name, "turnstile_rejected/"), strings.HasPrefix(name, "turnstile_late/"):
			recs, err := decodeSide(text)
			if err != nil {
				return lc, fmt.Errorf("%s: %w", name, err)
			}
			if strings.HasPrefix(name, "turnstile_rejected/") {
				lc.rejected = append(lc.rejected, recs...)
			} else {
				lc.late = append(lc.late, recs...)
			}
		default:
			return lc, fmt.Errorf("unexpected object %s", name)
		}
	}
	slices.Sort(lc.rows)
	return lc, nil
}

func gunzip(data []byte) (string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		return "", err
	}
	return string(text), nil
}

// checkWindowFile checks one window file: its name, its header, an index
// column counting from 0, and every row's DATE and TIME equal to the window
// end in the name. It returns the rows without the index column, but the
// sentinel's.
func checkWindowFile(name, text string) ([]string, error) {
	m := windowName.FindStringSubmatch(name)
	if m == nil {
		return nil, fmt.Errorf("window file %s: name does not match %s", name, windowName)
	}
	end, err := time.Parse("20060102T150405", m[1])
	if err != nil {
		return nil, fmt.Errorf("window file %s: %w", name, err)
	}
	wantDate, wantTime := end.Format("01/02/2006"), end.Format("15:04:05")
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("window file %s: no final line end", name)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if lines[0] != lakeHeader {
		return nil, fmt.Errorf("window file %s: header %q, want %q", name, lines[0], lakeHeader)
	}
	if len(lines) == 1 {
		return nil, fmt.Errorf("window file %s: no rows", name)
	}
	var rows []string
	for i, line := range lines[1:] {
		idx, row, ok := strings.Cut(line, ",")
		if !ok || idx != strconv.Itoa(i) {
			return nil, fmt.Errorf("window file %s: line %d: index column %q, want %d", name, i+2, idx, i)
		}
		fields, err := csv.NewReader(strings.NewReader(row)).Read()
		if err != nil || len(fields) != 11 {
			return nil, fmt.Errorf("window file %s: line %d: not 11 CSV fields: %q (%v)", name, i+2, row, err)
		}
		if fields[6] != wantDate || fields[7] != wantTime {
			return nil, fmt.Errorf("window file %s: line %d: DATE TIME %s %s, want the window end %s %s", name, i+2, fields[6], fields[7], wantDate, wantTime)
		}
		if fields[0] == sentinelCA {
			continue
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func decodeSide(text string) ([]sideRecord, error) {
	var recs []sideRecord
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r sideRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

// waitLake polls the lake until it holds at least rows window rows and
// side side records, then waits for it to stay unchanged for settle.
func (e *env) waitLake(rows, side int, timeout time.Duration) lakeContents {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var lc lakeContents
	var err error
	for {
		lc, err = e.readLake()
		if err != nil {
			e.t.Fatal(err)
		}
		if len(lc.rows) >= rows && len(lc.rejected)+len(lc.late) >= side {
			break
		}
		if time.Now().After(deadline) {
			// Not Fatal: the caller's comparison then shows what is missing.
			e.t.Errorf("after %s the lake holds %d window rows (want %d) and %d side records (want %d)",
				timeout, len(lc.rows), rows, len(lc.rejected)+len(lc.late), side)
			return lc
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Settle: nothing more should arrive (a doubled row would show here).
	time.Sleep(time.Second)
	if lc, err = e.readLake(); err != nil {
		e.t.Fatal(err)
	}
	return lc
}

// --- expected files ----------------------------------------------------------

func (e *env) expectedPath() string { return filepath.Join(e.cs.dir, "expected.csv") }

// readExpected reads an expected.csv: the header, then sorted rows.
func readExpected(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0] != expectedHeader {
		t.Fatalf("%s: header %q, want %q", path, lines[0], expectedHeader)
	}
	rows := lines[1:]
	if !slices.IsSorted(rows) {
		t.Fatalf("%s: rows are not sorted", path)
	}
	return rows
}

func writeExpected(t *testing.T, path string, rows []string) {
	t.Helper()
	rows = slices.Clone(rows)
	slices.Sort(rows)
	data := expectedHeader + "\n" + strings.Join(rows, "\n") + "\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("-update: wrote %s (%d rows); review it by hand before committing", path, len(rows))
}

// expectedRows returns the case's expected rows (and with -update, rewrites
// them from got first).
func (e *env) expectedRows(got []string) []string {
	e.t.Helper()
	if *update {
		writeExpected(e.t, e.expectedPath(), got)
	}
	return readExpected(e.t, e.expectedPath())
}

// checkRows compares the lake's rows with the expected ones, row for row:
// none missing, none extra, none doubled.
func (e *env) checkRows(lc lakeContents) {
	e.t.Helper()
	want := e.expectedRows(lc.rows)
	if d := diffRows(lc.rows, want); d != "" {
		e.t.Fatalf("lake rows differ from %s (%d rows in %d files, want %d):\n%s", e.expectedPath(), len(lc.rows), len(lc.files), len(want), d)
	}
	e.t.Logf("lake holds exactly the %d expected rows in %d window files", len(want), len(lc.files))
}

// diffRows describes how two row multisets differ, or returns "".
func diffRows(got, want []string) string {
	count := func(rows []string) map[string]int {
		m := map[string]int{}
		for _, r := range rows {
			m[r]++
		}
		return m
	}
	g, w := count(got), count(want)
	var lines []string
	for r, c := range g {
		if w[r] != c {
			lines = append(lines, fmt.Sprintf("  got %d× want %d×: %s", c, w[r], r))
		}
	}
	for r, c := range w {
		if g[r] == 0 {
			lines = append(lines, fmt.Sprintf("  missing (want %d×): %s", c, r))
		}
	}
	slices.Sort(lines)
	if len(lines) > 30 {
		lines = append(lines[:30], fmt.Sprintf("  ... and %d more differences", len(lines)-30))
	}
	return strings.Join(lines, "\n")
}

// --- metrics -------------------------------------------------------------------

// metric sums the samples of a counter, gauge or untyped metric (all label
// sets) on a /metrics page.
func metric(addr, name string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("metrics on http://%s/metrics: %w", addr, err)
	}
	f, ok := fams[name]
	if !ok {
		return 0, fmt.Errorf("metric %s not on http://%s/metrics", name, addr)
	}
	sum := 0.0
	for _, m := range f.GetMetric() {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
	}
	return sum, nil
}
