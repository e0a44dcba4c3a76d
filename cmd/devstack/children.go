package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

type exit struct {
	name string
	err  error
}

// children are the processes devstack started, each in its own process group so that stopping it
// also stops whatever it started (no orphans).
type children struct {
	mu     sync.Mutex
	procs  []*exec.Cmd
	exited chan exit
	wg     sync.WaitGroup
}

func (c *children) start(ctx context.Context, name string, env map[string]string, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	c.mu.Lock()
	if c.exited == nil {
		c.exited = make(chan exit, 8)
	}
	c.procs = append(c.procs, cmd)
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		prefix(name, stdout)
		c.exited <- exit{name: name, err: cmd.Wait()}
	}()
	return nil
}

func prefix(name string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fmt.Printf("%-8s| %s\n", name, sc.Text())
	}
}

// stopAll sends SIGTERM to every process group, waits briefly, then kills what is left.
func (c *children) stopAll(log *slog.Logger) {
	c.mu.Lock()
	procs := c.procs
	c.mu.Unlock()
	for _, p := range procs {
		_ = syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		for _, p := range procs {
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
		}
		<-done
	}
	log.Info("all processes stopped")
}
