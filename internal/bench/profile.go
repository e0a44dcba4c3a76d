package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Profiler samples one process's CPU with Linux perf (perf record -p) while a load runs, for the
// note of a figure that misses its goal.
type Profiler struct {
	cmd  *exec.Cmd
	data string
}

// StartProfile starts `perf record` on pid (999 samples a second, call graphs), writing into a
// temporary file.
func StartProfile(pid int) (*Profiler, error) {
	f, err := os.CreateTemp("", "bench-perf-*.data")
	if err != nil {
		return nil, err
	}
	f.Close()
	cmd := exec.Command("perf", "record", "-q", "-F", "999", "-g", "-p", fmt.Sprint(pid), "-o", f.Name())
	if err := cmd.Start(); err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("perf record: %w", err)
	}
	return &Profiler{cmd: cmd, data: f.Name()}, nil
}

// Stop ends the recording and writes into path the functions that took 2% or more of the samples,
// first counting what they called (inclusive), then their own code alone (self).
func (p *Profiler) Stop(ctx context.Context, path string) error {
	defer os.Remove(p.data)
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	_ = p.cmd.Wait()
	var text strings.Builder
	for _, mode := range []string{"--children", "--no-children"} {
		out, err := exec.CommandContext(ctx, "perf", "report", "-i", p.data, "--stdio", mode,
			"--percent-limit", "2", "--sort", "dso,symbol", "-g", "none").Output()
		if err != nil {
			return fmt.Errorf("perf report: %w", err)
		}
		fmt.Fprintf(&text, "## perf report %s\n", mode)
		for line := range strings.SplitSeq(string(out), "\n") {
			// The IPC columns are empty in a VM.
			line = strings.TrimRight(strings.TrimSuffix(strings.TrimRight(line, " "), "-      -"), " ")
			if line != "" && !strings.HasPrefix(line, "# (Tip") {
				text.WriteString(line + "\n")
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(text.String()), 0o644)
}
