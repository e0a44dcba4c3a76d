package services

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/logsink"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestStartAzuriteServesEveryServiceAndStopLeavesNothing(t *testing.T) {
	tests := []struct {
		name         string
		blobAndQueue bool
	}{
		{"tables only", false},
		{"with blob and queue for the Functions host", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := StartAzurite(AzuriteOptions{Root: repoRoot(t), BlobAndQueue: tt.blobAndQueue})
			if err != nil {
				t.Fatalf("StartAzurite: %v", err)
			}
			ports := map[string]int{"table": a.TablePort}
			if tt.blobAndQueue {
				ports["blob"], ports["queue"] = a.BlobPort, a.QueuePort
			} else if a.BlobPort != 0 || a.QueuePort != 0 {
				t.Errorf("blob port %d, queue port %d without BlobAndQueue, want 0", a.BlobPort, a.QueuePort)
			}
			for name, p := range ports {
				if !listening(p) {
					t.Errorf("the %s service does not listen on %d", name, p)
				}
				if want := "127.0.0.1:" + strconv.Itoa(p) + "/devstoreaccount1;"; !strings.Contains(a.ConnectionString(), want) {
					t.Errorf("connection string %q does not name the %s endpoint %s", a.ConnectionString(), name, want)
				}
			}
			if err := a.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if err := syscall.Kill(a.Process().Pid(), 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("Azurite (pid %d) still exists after Stop: kill(0) = %v", a.Process().Pid(), err)
			}
			for name, p := range ports {
				if listening(p) {
					t.Errorf("the %s port %d still accepts connections after Stop", name, p)
				}
			}
		})
	}
}

func TestStartAzuriteOnAPortInUseSaysSo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	a, err := StartAzurite(AzuriteOptions{Root: repoRoot(t), TablePort: port})
	if err == nil {
		a.Stop()
		t.Fatalf("StartAzurite on port %d, which another process holds, succeeded", port)
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("error = %v, want one saying the port is in use", err)
	}
}

func TestStartAzuriteWithoutNpmInstallSaysWhatToRun(t *testing.T) {
	_, err := StartAzurite(AzuriteOptions{Root: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "npm ci") {
		t.Errorf("StartAzurite(empty dir) error = %v, want one telling to run `npm ci`", err)
	}
}

func TestConnectionStringNamesTheDevAccount(t *testing.T) {
	a := &Azurite{TablePort: 12345}
	want := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + DevAccountKey +
		";TableEndpoint=http://127.0.0.1:12345/devstoreaccount1;"
	if got := a.ConnectionString(); got != want {
		t.Errorf("ConnectionString() = %q, want %q", got, want)
	}
}

func TestWaitReadyReportsAnEarlyExitWithItsOutput(t *testing.T) {
	p, err := Start(Command{Name: "quitter", Path: "/bin/sh", Args: []string{"-c", "echo going away; exit 3"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	err = (&Azurite{proc: p}).waitReady(10*time.Second, map[int]string{port: "Table"})
	var exit *ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("waitReady = %v, want an *ExitError", err)
	}
	if !strings.Contains(exit.Output, "going away") {
		t.Errorf("ExitError output = %q, want the process's output", exit.Output)
	}
	if p.Err() == nil {
		t.Errorf("Err() = nil for exit status 3")
	}
}

func TestStopEndsTheWholeProcessGroup(t *testing.T) {
	// The shell starts a grandchild that would outlive a plain kill of the shell.
	p, child := startShell(t, "sleep 300 & echo $!; wait")
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
	// The grandchild may linger as a zombie of init for a moment; wait until it is reaped.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(child, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(child, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the grandchild (pid %d) survived Stop: kill(0) = %v", child, err)
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := &tailBuffer{max: 4}
	b.Write([]byte("abc"))
	b.Write([]byte("defg"))
	if got := b.String(); got != "defg" {
		t.Errorf("tail = %q, want %q", got, "defg")
	}
}

// The kernel ends a child whose starter dies without stopping it (a crash, a test binary killed
// at its timeout): nothing is left holding a port. The starter here is this test binary, run again
// as a helper that starts a child and exits at once.
func TestAChildDoesNotOutliveItsStarter(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel's parent-death signal is Linux's (proc_linux.go)")
	}
	if os.Getenv("SERVICES_TEST_STARTER") == "1" {
		p, err := Start(Command{Name: "sleeper", Path: "/bin/sleep", Args: []string{"300"}})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("PID", p.Pid())
		os.Exit(0) // without Stop
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAChildDoesNotOutliveItsStarter$")
	cmd.Env = append(os.Environ(), "SERVICES_TEST_STARTER=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the starter failed: %v\n%s", err, out)
	}
	var pid int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "PID %d", &pid); err != nil || pid == 0 {
		t.Fatalf("the starter printed %q, want PID <n>", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the child (pid %d) outlived its starter: kill(0) = %v", pid, err)
	}
}

// A descendant that left the process group keeps the output pipe open; Stop must return anyway.
func TestStopReturnsWhenADescendantHoldsTheOutput(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("needs setsid(1), to start a descendant outside the process group")
	}
	p, escaped := startShell(t, "setsid sleep 60 & echo $!; wait")
	defer syscall.Kill(escaped, syscall.SIGKILL)
	stopped := make(chan error, 1)
	go func() { stopped <- p.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Stop: %v", err)
		}
	case <-time.After(45 * time.Second): // a bound on a hang, well past the stop sequence
		t.Fatalf("Stop has not returned while an escaped descendant holds the output")
	}
}

// startShell starts script, which prints the pid of a process it starts in the background, and
// returns both.
func startShell(t *testing.T, script string) (*Process, int) {
	t.Helper()
	p, err := Start(Command{Name: "shell", Path: "/bin/sh", Args: []string{"-c", script}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pid, _ = strconv.Atoi(strings.TrimSpace(p.Output()))
	}
	if pid == 0 {
		t.Fatalf("the background process's pid never appeared; output %q", p.Output())
	}
	return p, pid
}

// A server that takes the port between the check and Azurite's bind answers the readiness probe
// first: it must be told apart from Azurite, not taken for it.
func TestWaitReadyTellsAnotherServerFromAzurite(t *testing.T) {
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	port := other.Listener.Addr().(*net.TCPAddr).Port
	p, err := Start(Command{Name: "sleeper", Path: "/bin/sleep", Args: []string{"30"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	err = (&Azurite{proc: p}).waitReady(10*time.Second, map[int]string{port: "Table"})
	if !errors.Is(err, errNotAzurite) {
		t.Errorf("waitReady with another server on the port = %v, want errNotAzurite", err)
	}
}

func TestCheckFreeSeesAServerOnEitherLoopback(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Logf("%s: %v (no such loopback here)", host, err)
			continue
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if err := CheckFree(port); err == nil {
			t.Errorf("CheckFree(%d) = nil while %s holds it", port, host)
		}
		ln.Close()
		if err := CheckFree(port); err != nil {
			t.Errorf("CheckFree(%d) after %s let go = %v, want nil", port, host, err)
		}
	}
}

func TestStderrIsKeptApartWhenAsked(t *testing.T) {
	var out, errs logsink.Buffer
	p, err := Start(Command{Name: "talker", Path: "/bin/sh", Args: []string{"-c", "echo data; echo log >&2"}, Output: &out, Stderr: &errs})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the child did not exit within 10 s")
	}
	if out.String() != "data\n" || errs.String() != "log\n" {
		t.Errorf("Output got %q, Stderr got %q; want \"data\\n\" and \"log\\n\"", out.String(), errs.String())
	}
	if tail := p.Output(); !strings.Contains(tail, "data\n") || !strings.Contains(tail, "log\n") {
		t.Errorf("Output() = %q, want both streams kept for errors", tail)
	}
}

// FreePort hands out distinct ports that bind, below the kernel's ephemeral range where it has one.
func TestFreePortAvoidsTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	seen := map[int]bool{}
	for range 200 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		if low > 0 && p >= low {
			t.Errorf("port %d is in the ephemeral range (from %d), where outgoing connections take ports", p, low)
		}
		if err := CheckFree(p); err != nil {
			t.Errorf("port %d handed out but not free: %v", p, err)
		}
	}
}
