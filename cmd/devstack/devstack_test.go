package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// TestMakeRunFlow runs what `make run` runs, executes the three curl lines it prints exactly as
// printed, and checks that Ctrl-C (SIGINT) leaves no process listening behind.
func TestMakeRunFlow(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is needed to run the printed commands: %v", err)
	}
	root := testenv.RepoRoot(t)
	bin := t.TempDir()
	for pkg, out := range map[string]string{"./cmd/handler": "handler", "./cmd/devstack": "devstack"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, out), pkg)
		build.Dir = root
		if b, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	tablesPort, facePort, appPort := freePort(t), freePort(t), freePort(t)
	cmd := exec.Command(filepath.Join(bin, "devstack"), "-handler", filepath.Join(bin, "handler"),
		"-tables-port", fmt.Sprint(tablesPort), "-face-port", fmt.Sprint(facePort), "-port", fmt.Sprint(appPort))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "AZURITE_TABLES_CONNECTION_STRING=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start devstack: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var output strings.Builder
	var commands []string
	collecting := false
	deadline := time.After(90 * time.Second)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("devstack ended before it was ready:\n%s", output.String())
			}
			output.WriteString(l + "\n")
			switch {
			case strings.HasPrefix(l, "Try it"):
				collecting = true
			case strings.HasPrefix(l, "Ctrl-C stops everything"):
				break wait
			case collecting && strings.TrimSpace(l) != "":
				commands = append(commands, l)
			}
		case <-deadline:
			t.Fatalf("devstack not ready in 90 s:\n%s", output.String())
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if len(commands) != 3 {
		t.Fatalf("devstack printed %d commands, want 3 (start, read, cancel):\n%s", len(commands), output.String())
	}

	script := exec.Command("sh", "-c", strings.Join(commands, "\n"))
	out, err := script.CombinedOutput()
	if err != nil {
		t.Fatalf("the printed commands failed: %v\n%s", err, out)
	}
	results := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(results) != 3 {
		t.Fatalf("the printed commands printed %d lines, want 3:\n%s", len(results), out)
	}
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(results[0]) {
		t.Errorf("start printed %q, want a session id", results[0])
	}
	if !strings.Contains(results[1], `"status":"created"`) {
		t.Errorf("read printed %s, want status created", results[1])
	}
	if !strings.Contains(results[2], `"status":"canceled"`) {
		t.Errorf("cancel printed %s, want status canceled", results[2])
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("SIGINT: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("devstack exit after Ctrl-C: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("devstack did not stop within 30 s of Ctrl-C")
	}
	for name, port := range map[string]int{"azurite": tablesPort, "face stand-in": facePort, "handler": appPort} {
		if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still listens on %d after Ctrl-C: an orphan", name, port)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
