package testenv

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// EnvAzuriteConnectionString names the variable that points tests at an Azurite already running;
// when it is set, StartAzurite and Main start nothing.
const EnvAzuriteConnectionString = "AZURITE_TABLES_CONNECTION_STRING"

// Azurite is the table service a test uses.
type Azurite struct {
	endpoint string
	connStr  string
	pid      int // 0 when the instance is not ours
}

// Endpoint is the table service URL of the dev account, e.g. http://127.0.0.1:PORT/devstoreaccount1.
func (a *Azurite) Endpoint() string { return a.endpoint }

// ConnectionString is a connection string for aztables.NewServiceClientFromConnectionString.
func (a *Azurite) ConnectionString() string { return a.connStr }

// StartAzurite returns the Azurite named by EnvAzuriteConnectionString, or else starts one on a free
// 127.0.0.1 port (services.StartAzurite) and stops it, with its whole process group, when tb's test ends.
func StartAzurite(tb testing.TB) *Azurite {
	tb.Helper()
	if cs := os.Getenv(EnvAzuriteConnectionString); cs != "" {
		a, err := fromConnectionString(cs)
		if err != nil {
			tb.Fatalf("testenv: %s: %v", EnvAzuriteConnectionString, err)
		}
		return a
	}
	s, err := services.StartAzurite(services.AzuriteOptions{Root: RepoRoot(tb)})
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("testenv: stopping Azurite: %v", err)
		}
	})
	return ours(s)
}

// Main runs a package's tests with one Azurite shared by all of them (unless EnvAzuriteConnectionString
// is already set), so that every StartAzurite in the binary returns it. Call it from TestMain.
func Main(m *testing.M) { os.Exit(withAzurite(m)) }

// withAzurite runs m with the shared Azurite (see Main) and returns its exit code.
func withAzurite(m *testing.M) int {
	if os.Getenv(EnvAzuriteConnectionString) != "" {
		return m.Run()
	}
	return mainWithAzurite(m)
}

func mainWithAzurite(m *testing.M) int {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		return 1
	}
	s, err := services.StartAzurite(services.AzuriteOptions{Root: root})
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		return 1
	}
	defer func() {
		if err := s.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stopping Azurite: %v\n", err)
		}
	}()
	// Children (fuzz workers) inherit it too, so they reuse this instance.
	os.Setenv(EnvAzuriteConnectionString, s.ConnectionString())
	defer os.Unsetenv(EnvAzuriteConnectionString)
	return m.Run()
}

func ours(s *services.Azurite) *Azurite {
	return &Azurite{endpoint: s.TableEndpoint(), connStr: s.ConnectionString(), pid: s.Process().Pid()}
}

func fromConnectionString(cs string) (*Azurite, error) {
	for _, part := range strings.Split(cs, ";") {
		if v, ok := strings.CutPrefix(part, "TableEndpoint="); ok && v != "" {
			return &Azurite{endpoint: strings.TrimSuffix(v, "/"), connStr: cs}, nil
		}
	}
	return nil, errors.New("no TableEndpoint in the connection string")
}
