package services

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DevAccountKey is Azurite's published development account key: a public constant, not a secret.
const DevAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

const devAccount = "devstoreaccount1"

// Entry points of the npm package (its "azurite-table" and "azurite" bins).
var (
	azuriteTableScript = filepath.Join("node_modules", "azurite", "dist", "src", "table", "main.js")
	azuriteAllScript   = filepath.Join("node_modules", "azurite", "dist", "src", "azurite.js")
)

// AzuriteOptions configures StartAzurite. A zero port means a free one.
type AzuriteOptions struct {
	// Root is the repository root, where `npm ci` installed Azurite.
	Root string
	// TablePort is the table service's port.
	TablePort int
	// BlobAndQueue also starts the blob and queue services, which the Functions host needs for
	// its own storage (AzureWebJobsStorage: timer leases, keys) under Core Tools.
	BlobAndQueue        bool
	BlobPort, QueuePort int
	// Output receives Azurite's own output; nil discards it.
	Output io.Writer
	// ReadyTimeout bounds the wait for the ports; zero means 60 s. Azurite listens within 2-3 s
	// on an idle machine, but `go test ./...` on two busy cores has been seen to take over 20 s:
	// the bound only has to catch a server that will never come up.
	ReadyTimeout time.Duration
}

// Azurite is a running Azurite (in memory: it keeps nothing when it stops).
type Azurite struct {
	TablePort, BlobPort, QueuePort int // zero for a service not started
	proc                           *Process
}

// startTries bounds the retries when a picked free port is taken before Azurite binds it.
const startTries = 3

// StartAzurite starts Azurite on 127.0.0.1. Stop it with Stop.
func StartAzurite(o AzuriteOptions) (*Azurite, error) {
	script := azuriteTableScript
	if o.BlobAndQueue {
		script = azuriteAllScript
	}
	script = filepath.Join(o.Root, script)
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("Azurite is not installed (%s is missing): run `npm ci` in %s", script, o.Root)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("Azurite needs Node.js: %w", err)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	var lastErr error
	for range startTries {
		a, err := launchAzurite(node, script, o)
		if err == nil {
			return a, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

func launchAzurite(node, script string, o AzuriteOptions) (*Azurite, error) {
	a := &Azurite{}
	var err error
	// Only ports we picked are worth a retry: a port the caller chose stays taken.
	picked := o.TablePort == 0 || (o.BlobAndQueue && (o.BlobPort == 0 || o.QueuePort == 0))
	if a.TablePort, err = portOr(o.TablePort); err != nil {
		return nil, err
	}
	args := []string{script, "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry",
		"--tableHost", "127.0.0.1", "--tablePort", strconv.Itoa(a.TablePort)}
	ports := map[int]string{a.TablePort: "Table"} // port → the service's name in its Server header
	if o.BlobAndQueue {
		if a.BlobPort, err = portOr(o.BlobPort); err != nil {
			return nil, err
		}
		if a.QueuePort, err = portOr(o.QueuePort); err != nil {
			return nil, err
		}
		args = append(args, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(a.BlobPort),
			"--queueHost", "127.0.0.1", "--queuePort", strconv.Itoa(a.QueuePort))
		ports[a.BlobPort], ports[a.QueuePort] = "Blob", "Queue"
	}
	for p := range ports {
		// A port someone else holds would answer the readiness dial as if Azurite did.
		if err := CheckFree(p); err != nil {
			if picked {
				return nil, errPortTaken
			}
			return nil, err
		}
	}
	a.proc, err = Start(Command{Name: "Azurite", Path: node, Args: args, Dir: os.TempDir(), Output: o.Output})
	if err != nil {
		return nil, err
	}
	err = a.waitReady(o.ReadyTimeout, ports)
	if err == nil {
		return a, nil
	}
	_ = a.proc.Stop()
	if errors.Is(err, errNotAzurite) || strings.Contains(a.proc.Output(), "EADDRINUSE") {
		if picked {
			return nil, errPortTaken
		}
		return nil, fmt.Errorf("Azurite: a port it was given (%v) is in use by another process", ports)
	}
	return nil, err
}

var errNotAzurite = errors.New("another server answers on the port")

// waitReady waits until each port answers as Azurite's own service (its Server header names
// it): a dial alone could reach a process that took the port between the check and the bind.
func (a *Azurite) waitReady(limit time.Duration, ports map[int]string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for port, service := range ports {
		url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
		for {
			select {
			case <-a.proc.Done():
				return &ExitError{Name: "Azurite", Addr: url, Err: a.proc.Err(), Output: a.proc.Output()}
			default:
			}
			resp, err := client.Get(url)
			if err == nil {
				resp.Body.Close()
				if server := resp.Header.Get("Server"); !strings.HasPrefix(server, "Azurite-"+service+"/") {
					return fmt.Errorf("%s (Server %q): %w", url, server, errNotAzurite)
				}
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("Azurite did not answer on %s within %v; its output:\n%s", url, limit, a.proc.Output())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func portOr(p int) (int, error) {
	if p != 0 {
		return p, nil
	}
	return FreePort()
}

// Stop stops Azurite and whatever it spawned.
func (a *Azurite) Stop() error { return a.proc.Stop() }

// Process is Azurite's process, to watch for an unexpected exit.
func (a *Azurite) Process() *Process { return a.proc }

// TableEndpoint is the table service URL of the development account.
func (a *Azurite) TableEndpoint() string { return endpoint(a.TablePort) }

// ConnectionString is a connection string for the development account naming every service
// started, for aztables.NewServiceClientFromConnectionString and for AzureWebJobsStorage.
func (a *Azurite) ConnectionString() string {
	cs := "DefaultEndpointsProtocol=http;AccountName=" + devAccount + ";AccountKey=" + DevAccountKey + ";"
	if a.BlobPort != 0 {
		cs += "BlobEndpoint=" + endpoint(a.BlobPort) + ";"
	}
	if a.QueuePort != 0 {
		cs += "QueueEndpoint=" + endpoint(a.QueuePort) + ";"
	}
	return cs + "TableEndpoint=" + endpoint(a.TablePort) + ";"
}

func endpoint(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) + "/" + devAccount }
