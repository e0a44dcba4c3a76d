package testenv

import (
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestRepoRootHoldsGoMod(t *testing.T) {
	root := RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("RepoRoot() = %q, which has no go.mod: %v", root, err)
	}
}

func TestStartAzuriteServesAndStopsWithTheTest(t *testing.T) {
	t.Setenv(EnvAzuriteConnectionString, "")
	var a *Azurite
	t.Run("started", func(t *testing.T) {
		a = StartAzurite(t)
		if a.pid == 0 {
			t.Fatal("StartAzurite did not start a process of its own")
		}
		dial(t, a.Endpoint())
	})
	if a == nil {
		return
	}
	// The subtest's cleanup has run: the server must be gone, not orphaned.
	if err := syscall.Kill(a.pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("Azurite (pid %d) still exists after its test ended: kill(0) = %v", a.pid, err)
	}
	u, _ := url.Parse(a.Endpoint())
	if c, err := net.Dial("tcp", u.Host); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the test ended", u.Host)
	}
}

func TestStartAzuriteReusesTheInstanceInTheEnvironment(t *testing.T) {
	const cs = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=k;TableEndpoint=http://127.0.0.1:1/devstoreaccount1/;"
	t.Setenv(EnvAzuriteConnectionString, cs)
	a := StartAzurite(t)
	if a.pid != 0 {
		t.Errorf("StartAzurite started pid %d although %s was set", a.pid, EnvAzuriteConnectionString)
	}
	if a.ConnectionString() != cs {
		t.Errorf("ConnectionString() = %q, want the one from the environment", a.ConnectionString())
	}
	if want := "http://127.0.0.1:1/devstoreaccount1"; a.Endpoint() != want {
		t.Errorf("Endpoint() = %q, want %q", a.Endpoint(), want)
	}
}

func dial(t *testing.T, endpoint string) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatalf("Endpoint() = %q: %v", endpoint, err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatalf("Azurite at %s does not accept connections: %v", u.Host, err)
	}
	c.Close()
}
