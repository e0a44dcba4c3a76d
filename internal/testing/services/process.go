package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Command describes a child process.
type Command struct {
	// Name labels the process in errors.
	Name string
	Path string
	Args []string
	// Env is added to this process's environment (later entries win).
	Env []string
	// Dir is the working directory; empty means this process's.
	Dir string
	// Output receives the child's stdout and stderr; nil discards them. The last 16 KiB are
	// kept either way, for the error of a child that fails to start.
	Output io.Writer
	// Stderr, when set, receives the child's stderr instead of Output, for a caller that shows the
	// two apart (a consumer's data on stdout, its logs on stderr).
	Stderr io.Writer
}

// Process is a running child in a process group of its own.
type Process struct {
	name   string
	cmd    *exec.Cmd
	tail   *tailBuffer
	exited chan struct{}
	err    error // set before exited is closed
	once   sync.Once
}

// stopTimeout is how long a process group gets between SIGTERM and SIGKILL.
const stopTimeout = 5 * time.Second

// Start starts c. The process runs until Stop, or until it exits on its own (see Done).
func Start(c Command) (*Process, error) {
	tail := &tailBuffer{max: 16 << 10}
	var out io.Writer = tail
	if c.Output != nil {
		out = io.MultiWriter(tail, c.Output)
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(tail, c.Stderr)
	}
	// A descendant that left the group can hold the output pipe open: Wait must not wait for it
	// past the stop sequence.
	cmd.WaitDelay = stopTimeout
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	p := &Process{name: c.Name, cmd: cmd, tail: tail, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited; Err then tells how.
func (p *Process) Done() <-chan struct{} { return p.exited }

// Err is the process's exit error (nil for a clean exit), valid once Done is closed.
func (p *Process) Err() error { return p.err }

// Output is the end of what the process wrote.
func (p *Process) Output() string { return p.tail.String() }

// Stop sends SIGTERM to the process group, waits up to five seconds, then sends SIGKILL, and
// returns once the process has exited. Stopping twice, or a process that already exited, is fine.
func (p *Process) Stop() error {
	var err error
	p.once.Do(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		if err = signalGroup(p.cmd, false); err != nil {
			return
		}
		select {
		case <-p.exited:
			return
		case <-time.After(stopTimeout):
		}
		if err = signalGroup(p.cmd, true); err != nil {
			return
		}
		<-p.exited
	})
	return err
}

// Kill sends SIGKILL to the process group at once, as the Functions host ends a handler, and
// returns once the process has exited. Later Stops do nothing.
func (p *Process) Kill() error {
	var err error
	p.once.Do(func() {
		if err = signalGroup(p.cmd, true); err != nil {
			return
		}
		<-p.exited
	})
	return err
}

// ExitError is a process that exited before it was ready.
type ExitError struct {
	Name, Addr, Output string
	Err                error
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s exited before it answered on %s (%v); its output:\n%s", e.Name, e.Addr, e.Err, e.Output)
}

func (e *ExitError) Unwrap() error { return e.Err }

// FreePort returns a loopback TCP port that was free a moment ago, and that this process has not
// handed out before. Another process can take it before the caller binds it (starters retry on
// errPortTaken), so it is drawn at random from below the kernel's ephemeral range: the ports the
// kernel gives outgoing connections (and port 0 listeners) come from that range, and on a machine
// running many tests at once one of those was seen taking a port handed out here, between the
// check and the bind. Without the range (not Linux), or when no port there is free, the kernel
// picks.
func FreePort() (int, error) {
	lo, hi := 15000, ephemeralLow()-1
	for range 64 {
		if hi <= lo {
			break
		}
		port := lo + rand.IntN(hi-lo+1)
		if !claimPort(port) {
			continue
		}
		if CheckFree(port) == nil {
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	claimPort(port)
	return port, nil
}

// handedOut are the ports FreePort returned in this process: a port whose user has not bound it
// yet looks free, and must not be handed out twice.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// claimPort records port as handed out; false when it already was.
func claimPort(port int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports[port] {
		return false
	}
	handedOut.ports[port] = true
	return true
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux: ip_local_port_range),
// or 0 when it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return n
}

var errPortTaken = errors.New("port already in use")

// CheckFree fails when another process listens on port of 127.0.0.1 or ::1 (where "localhost"
// resolves first on many machines), so that a service about to start there is not mistaken for
// one that answers already. A machine without IPv6 passes for ::1.
func CheckFree(port int) error {
	for _, host := range []string{"127.0.0.1", "::1"} {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			if host == "::1" && !errors.Is(err, syscall.EADDRINUSE) {
				continue // no IPv6 loopback here
			}
			return fmt.Errorf("port %d is in use by another process: %w", port, err)
		}
		l.Close()
	}
	return nil
}

// WaitHealthy polls url until it answers 200; it fails when the process exits first, when limit
// passes, or when ctx ends. Each poll waits at most 5 s for its answer.
func (p *Process) WaitHealthy(ctx context.Context, url string, limit time.Duration) error {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(limit)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy within %v", url, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.Done():
			return fmt.Errorf("exited before it was healthy: %v", p.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
