package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvAzuriteConnectionString names the variable that points tests at an Azurite already running;
// when it is set, StartAzurite and Main start nothing.
const EnvAzuriteConnectionString = "AZURITE_TABLES_CONNECTION_STRING"

// azuriteTableScript is the table-only entry point of the npm package (its "azurite-table" bin).
const azuriteTableScript = "node_modules/azurite/dist/src/table/main.js"

// devAccountKey is Azurite's published development key, not a secret.
const devAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

const (
	// Azurite listens within 2-3 s on an idle machine, but `go test ./...` on two busy cores has been
	// seen to take over 20 s: the bound only has to catch a server that will never come up.
	readyTimeout = 60 * time.Second
	stopTimeout  = 5 * time.Second
	startTries   = 3 // a free port can be taken between picking and binding it
)

// Azurite is a running Azurite table service.
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
// 127.0.0.1 port and stops it (its whole process group) when tb's test ends.
func StartAzurite(tb testing.TB) *Azurite {
	tb.Helper()
	if cs := os.Getenv(EnvAzuriteConnectionString); cs != "" {
		a, err := fromConnectionString(cs)
		if err != nil {
			tb.Fatalf("testenv: %s: %v", EnvAzuriteConnectionString, err)
		}
		return a
	}
	a, stop, err := startAzurite(RepoRoot(tb))
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(func() {
		if err := stop(); err != nil {
			tb.Errorf("testenv: stopping Azurite: %v", err)
		}
	})
	return a
}

// Main runs a package's tests with one Azurite shared by all of them (unless EnvAzuriteConnectionString
// is already set), so that every StartAzurite in the binary returns it. Call it from TestMain.
func Main(m *testing.M) {
	if os.Getenv(EnvAzuriteConnectionString) != "" {
		m.Run()
		return
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		os.Exit(1)
	}
	a, stop, err := startAzurite(root)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		os.Exit(1)
	}
	defer func() {
		if err := stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stopping Azurite: %v\n", err)
		}
	}()
	// Children (fuzz workers) inherit it too, so they reuse this instance.
	os.Setenv(EnvAzuriteConnectionString, a.connStr)
	defer os.Unsetenv(EnvAzuriteConnectionString)
	m.Run()
}

func newAzurite(port, pid int) *Azurite {
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port) + "/devstoreaccount1"
	return &Azurite{
		endpoint: endpoint,
		connStr: "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + devAccountKey +
			";TableEndpoint=" + endpoint + ";",
		pid: pid,
	}
}

func fromConnectionString(cs string) (*Azurite, error) {
	for _, part := range strings.Split(cs, ";") {
		if v, ok := strings.CutPrefix(part, "TableEndpoint="); ok && v != "" {
			return &Azurite{endpoint: strings.TrimSuffix(v, "/"), connStr: cs}, nil
		}
	}
	return nil, errors.New("no TableEndpoint in the connection string")
}

func startAzurite(root string) (*Azurite, func() error, error) {
	script := filepath.Join(root, filepath.FromSlash(azuriteTableScript))
	if _, err := os.Stat(script); err != nil {
		return nil, nil, fmt.Errorf("Azurite is not installed (%s is missing): run `npm ci` in %s", azuriteTableScript, root)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, nil, fmt.Errorf("Azurite needs Node.js: %w", err)
	}
	var lastErr error
	for range startTries {
		a, stop, err := launch(node, script)
		if err == nil {
			return a, stop, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, nil, lastErr
}

var errPortTaken = errors.New("port already in use")

func launch(node, script string) (*Azurite, func() error, error) {
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	out := &tailBuffer{max: 16 << 10}
	cmd := exec.Command(node, script,
		"--inMemoryPersistence",
		"--tableHost", "127.0.0.1",
		"--tablePort", strconv.Itoa(port),
		"--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry")
	cmd.Dir = os.TempDir()
	cmd.Stdout, cmd.Stderr = out, out
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting Azurite: %w", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()

	stop := func() error {
		select {
		case <-exited:
			return nil
		default:
		}
		if err := signalGroup(cmd, false); err != nil {
			return err
		}
		select {
		case <-exited:
			return nil
		case <-time.After(stopTimeout):
		}
		if err := signalGroup(cmd, true); err != nil {
			return err
		}
		<-exited
		return nil
	}

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-exited:
			if strings.Contains(out.String(), "EADDRINUSE") {
				return nil, nil, errPortTaken
			}
			return nil, nil, fmt.Errorf("Azurite exited before listening on %s (%v); its output:\n%s", addr, waitErr, out)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 250*time.Millisecond); err == nil {
			c.Close()
			return newAzurite(port, cmd.Process.Pid), stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("Azurite did not listen on %s within %v; its output:\n%s", addr, readyTimeout, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
