package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Spec describes a child process.
type Spec struct {
	Name string
	Path string
	Args []string
	// Env is added to the runner's environment.
	Env []string
	// Log receives the child's stdout and stderr. An *os.File is handed to
	// the child as is, so no copying goroutine can outlive it.
	Log *os.File
	// Ready is polled until it returns nil; nil means ready at once.
	Ready func(ctx context.Context) error
}

// Stopped is the outcome of stopping one child.
type Stopped struct {
	Name string
	// Err is the child's exit error (nil for exit status 0). A child killed
	// by the SIGTERM it was sent exits with a signal error, which is
	// expected.
	Err error
	// Killed is true when the child outlived the stop timeout and got
	// SIGKILL.
	Killed bool
	// Early is true when the child had already exited before the stop.
	Early bool
	Took  time.Duration
}

// Supervisor starts children, each in its own process group and with
// Pdeathsig set, and stops them in the reverse order of their start.
type Supervisor struct {
	log          *slog.Logger
	pollInterval time.Duration
	// StopTimeout is how long a child gets between SIGTERM and SIGKILL.
	StopTimeout time.Duration

	mu       sync.Mutex
	procs    []*proc
	stopping bool
	exited   chan string
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed
}

// NewSupervisor returns a supervisor with a 15-second stop timeout.
func NewSupervisor(log *slog.Logger) *Supervisor {
	return &Supervisor{
		log:          log,
		pollInterval: 100 * time.Millisecond,
		StopTimeout:  15 * time.Second,
		exited:       make(chan string, 64),
	}
}

// Exited receives the name of each child that exits while the supervisor is
// not stopping it.
func (s *Supervisor) Exited() <-chan string { return s.exited }

// Start starts the child and waits until its Ready probe passes. If the
// child exits first, or ctx ends, Start returns an error; the child, if
// still running, stays registered so that Stop ends it.
func (s *Supervisor) Start(ctx context.Context, spec Spec) error {
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout = spec.Log
	cmd.Stderr = spec.Log
	// Own process group: a Ctrl-C in the terminal reaches the runner only,
	// which then stops the children in order. Pdeathsig: if the runner dies
	// without stopping them (SIGKILL), the kernel kills them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second

	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return fmt.Errorf("start %s: the supervisor is stopping", spec.Name)
	}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("start %s (%s): %w", spec.Name, spec.Path, err)
	}
	p := &proc{name: spec.Name, cmd: cmd, done: make(chan struct{})}
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	s.log.Debug("started", "name", spec.Name, "pid", cmd.Process.Pid, "args", spec.Args)

	go func() {
		p.err = cmd.Wait()
		close(p.done)
		s.mu.Lock()
		stopping := s.stopping
		s.mu.Unlock()
		if !stopping {
			select {
			case s.exited <- p.name:
			default:
			}
		}
	}()

	if spec.Ready == nil {
		return nil
	}
	tick := time.NewTicker(s.pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %s", spec.Name, exitText(p.err))
		default:
		}
		err := spec.Ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %s", spec.Name, exitText(p.err))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last probe: %v)", spec.Name, context.Cause(ctx), err)
		case <-tick.C:
		}
	}
}

// Len returns how many children were started.
func (s *Supervisor) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.procs)
}

// Running reports whether the named child is still running.
func (s *Supervisor) Running(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.name == name {
			select {
			case <-p.done:
				return false
			default:
				return true
			}
		}
	}
	return false
}

// Stop stops the children one at a time, last started first: SIGTERM to
// the child's process group, then SIGKILL if it is still running after
// StopTimeout, or at once once ctx is done (a second Ctrl-C). It returns
// when every child has exited and been reaped. done, if not nil, is called
// as each child is stopped.
func (s *Supervisor) Stop(ctx context.Context, done func(Stopped)) []Stopped {
	s.mu.Lock()
	s.stopping = true
	procs := append([]*proc(nil), s.procs...)
	s.mu.Unlock()

	out := make([]Stopped, 0, len(procs))
	for i := len(procs) - 1; i >= 0; i-- {
		st := s.stopOne(ctx, procs[i])
		if done != nil {
			done(st)
		}
		out = append(out, st)
	}
	return out
}

func (s *Supervisor) stopOne(ctx context.Context, p *proc) Stopped {
	st := Stopped{Name: p.name}
	began := time.Now()
	pgid := p.cmd.Process.Pid
	select {
	case <-p.done:
		st.Early = true
	default:
		if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			s.log.Warn("SIGTERM failed", "name", p.name, "pid", pgid, "err", err)
		}
		timer := time.NewTimer(s.StopTimeout)
		select {
		case <-p.done:
		case <-timer.C:
			st.Killed = true
		case <-ctx.Done():
			st.Killed = true
		}
		timer.Stop()
		if st.Killed {
			s.log.Warn("still running after SIGTERM; sending SIGKILL", "name", p.name, "pid", pgid)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
	}
	// Whatever the child left in its process group goes too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	st.Err = p.err
	st.Took = time.Since(began)
	return st
}

// exitText describes a Wait error.
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
