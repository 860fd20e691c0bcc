package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the children: with RUNLOCAL_HELPER set it runs
// helperMain instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("RUNLOCAL_HELPER"); mode != "" {
		os.Exit(helperMain(mode, os.Getenv("RUNLOCAL_DIR"), os.Args[1]))
	}
	os.Exit(m.Run())
}

// helperMain is a child process. Every mode writes DIR/NAME.pid, then
// DIR/NAME.ready once its signal handling is in place.
//
//	polite    on SIGTERM, appends NAME to DIR/order and exits 0
//	stubborn  ignores SIGTERM; only SIGKILL ends it
//	parent    starts a stubborn grandchild in its process group (its pid in
//	          DIR/NAME.grandchild), then behaves as polite
//	fail      exits 3 at once, never ready
//	crash     is ready, then exits 4 when DIR/NAME.crash appears
func helperMain(mode, dir, name string) int {
	if err := os.WriteFile(filepath.Join(dir, name+".pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return 10
	}
	term := make(chan os.Signal, 1)
	switch mode {
	case "fail":
		return 3
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
	case "polite", "parent", "crash":
		signal.Notify(term, syscall.SIGTERM)
	default:
		return 11
	}
	if mode == "parent" {
		cmd := exec.Command(os.Args[0], name+"-grandchild")
		cmd.Env = append(os.Environ(), "RUNLOCAL_HELPER=stubborn")
		if err := cmd.Start(); err != nil {
			return 12
		}
		if err := os.WriteFile(filepath.Join(dir, name+".grandchild"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			return 13
		}
		// Do not return before the grandchild has set its handlers up.
		for !exists(filepath.Join(dir, name+"-grandchild.ready")) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name+".ready"), nil, 0o644); err != nil {
		return 14
	}
	for {
		select {
		case <-term:
			f, err := os.OpenFile(filepath.Join(dir, "order"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return 15
			}
			fmt.Fprintln(f, name)
			if f.Close() != nil {
				return 16
			}
			return 0
		case <-time.After(20 * time.Millisecond):
			if mode == "crash" && exists(filepath.Join(dir, name+".crash")) {
				return 4
			}
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// startHelper starts a helper child through the supervisor.
func startHelper(t *testing.T, s *Supervisor, dir, name, mode string) error {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return s.Start(ctx, Spec{
		Name: name,
		Path: os.Args[0],
		Args: []string{name},
		Env:  helperEnv(mode, dir),
		Log:  log,
		Ready: func(context.Context) error {
			if !exists(filepath.Join(dir, name+".ready")) {
				return errors.New("not ready")
			}
			return nil
		},
	})
}

// helperEnv is the environment of a helper child. A binary built with -race
// sleeps a second before exiting unless atexit_sleep_ms says otherwise.
func helperEnv(mode, dir string) []string {
	return []string{"RUNLOCAL_HELPER=" + mode, "RUNLOCAL_DIR=" + dir, "GORACE=atexit_sleep_ms=0"}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// gone reports whether pid no longer runs: no such process, or a zombie
// waiting for a reaper that is not ours.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// waitGone waits, with a generous deadline, until pid is gone.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("%s (pid %d) still runs after the stop", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newTestSupervisor() *Supervisor {
	return NewSupervisor(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestSupervisorStopsInReverseOrderAndLeavesNoProcess(t *testing.T) {
	dir := t.TempDir()
	s := newTestSupervisor()
	// The stubborn child is killed after this; the others exit within
	// milliseconds of their SIGTERM.
	s.StopTimeout = 5 * time.Second
	children := []struct{ name, mode string }{
		{"broker", "polite"},
		{"stubborn", "stubborn"},
		{"consumer", "parent"},
		{"producer", "polite"},
	}
	for _, c := range children {
		if err := startHelper(t, s, dir, c.name, c.mode); err != nil {
			t.Fatalf("start %s: %v", c.name, err)
		}
	}
	pids := map[string]int{}
	for _, c := range children {
		pids[c.name] = readPid(t, filepath.Join(dir, c.name+".pid"))
		if gone(pids[c.name]) {
			t.Fatalf("%s is not running after Start", c.name)
		}
	}
	grandchild := readPid(t, filepath.Join(dir, "consumer.grandchild"))
	for _, name := range []string{"broker", "producer"} {
		if !s.Running(name) {
			t.Errorf("Running(%s) = false before the stop", name)
		}
	}

	var reported []string
	results := s.Stop(context.Background(), func(st Stopped) { reported = append(reported, st.Name) })

	want := []string{"producer", "consumer", "stubborn", "broker"}
	var got []string
	for _, st := range results {
		got = append(got, st.Name)
	}
	if !slices.Equal(got, want) || !slices.Equal(reported, want) {
		t.Fatalf("stop order: results %v, reported %v; want %v", got, reported, want)
	}
	for _, st := range results {
		if st.Early {
			t.Errorf("%s: Early, want false", st.Name)
		}
		if st.Name == "stubborn" {
			if !st.Killed {
				t.Errorf("stubborn: Killed = false, want true")
			}
			continue
		}
		if st.Killed || st.Err != nil {
			t.Errorf("%s: Killed %v, Err %v; want a clean exit on SIGTERM", st.Name, st.Killed, st.Err)
		}
	}
	// The polite children saw SIGTERM one after the other, last started
	// first; the stubborn one never handled it.
	order, err := os.ReadFile(filepath.Join(dir, "order"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Fields(string(order)), []string{"producer", "consumer", "broker"}; !slices.Equal(got, want) {
		t.Errorf("SIGTERM handled in order %v, want %v", got, want)
	}
	// Stop reaps every child: none may be left, not even as a zombie.
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after Stop: kill(0) = %v", name, pid, err)
		}
		if s.Running(name) {
			t.Errorf("Running(%s) = true after Stop", name)
		}
	}
	// The grandchild ignores SIGTERM and its parent is gone: only the
	// process-group SIGKILL ends it.
	waitGone(t, grandchild, "the consumer's grandchild")
}

func TestSupervisorStartFailsWhenTheChildExits(t *testing.T) {
	dir := t.TempDir()
	s := newTestSupervisor()
	err := startHelper(t, s, dir, "broken", "fail")
	if err == nil || !strings.Contains(err.Error(), "broken exited before it was ready") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Start = %v, want an error saying broken exited with status 3", err)
	}
	results := s.Stop(context.Background(), nil)
	if len(results) != 1 || !results[0].Early {
		t.Fatalf("Stop = %+v, want one child that had already exited", results)
	}
}

func TestSupervisorStartFailsWhenNotReadyInTime(t *testing.T) {
	dir := t.TempDir()
	s := newTestSupervisor()
	log, err := os.Create(filepath.Join(dir, "slow.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no time at all to get ready
	err = s.Start(ctx, Spec{
		Name: "slow", Path: os.Args[0], Args: []string{"slow"},
		Env: helperEnv("polite", dir), Log: log,
		Ready: func(context.Context) error { return errors.New("never") },
	})
	if err == nil || !strings.Contains(err.Error(), "slow not ready") {
		t.Fatalf("Start = %v, want a not-ready error", err)
	}
	// The child that did start is still stopped and reaped.
	results := s.Stop(context.Background(), nil)
	if len(results) != 1 || results[0].Name != "slow" {
		t.Fatalf("Stop = %+v, want the slow child", results)
	}
	if s.Running("slow") {
		t.Fatal("slow still running after Stop")
	}
}

func TestSupervisorReportsAChildThatExitsOnItsOwn(t *testing.T) {
	dir := t.TempDir()
	s := newTestSupervisor()
	for _, c := range []struct{ name, mode string }{{"steady", "polite"}, {"flaky", "crash"}} {
		if err := startHelper(t, s, dir, c.name, c.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "flaky.crash"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case name := <-s.Exited():
		if name != "flaky" {
			t.Fatalf("Exited() = %s, want flaky", name)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no exit reported within a minute")
	}
	results := s.Stop(context.Background(), nil)
	if len(results) != 2 {
		t.Fatalf("Stop = %+v, want 2 results", results)
	}
	flaky, steady := results[0], results[1]
	var exitErr *exec.ExitError
	if !flaky.Early || !errors.As(flaky.Err, &exitErr) || exitErr.ExitCode() != 4 {
		t.Errorf("flaky: %+v, want Early with exit status 4", flaky)
	}
	if steady.Early || steady.Killed || steady.Err != nil {
		t.Errorf("steady: %+v, want a clean stop", steady)
	}
	// A child stopped by the supervisor is not reported as exiting.
	select {
	case name := <-s.Exited():
		t.Errorf("Exited() reported %s after Stop", name)
	default:
	}
}

func TestSupervisorStopKillsAtOnceWhenHurried(t *testing.T) {
	dir := t.TempDir()
	s := newTestSupervisor()
	s.StopTimeout = time.Hour // never reached: the cancelled ctx hurries the stop
	if err := startHelper(t, s, dir, "stubborn", "stubborn"); err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, filepath.Join(dir, "stubborn.pid"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as after a second Ctrl-C
	results := s.Stop(ctx, nil)
	if len(results) != 1 || !results[0].Killed {
		t.Fatalf("Stop = %+v, want the stubborn child killed", results)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("stubborn (pid %d) still exists: %v", pid, err)
	}
	if err := startHelper(t, s, dir, "late", "polite"); err == nil {
		t.Fatal("Start after Stop succeeded, want an error")
	}
}
