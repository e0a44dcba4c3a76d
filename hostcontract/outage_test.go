package hostcontract

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutProxy forwards TCP to target while open; cut closes every connection and refuses new ones.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	open   bool
	conns  []net.Conn
}

func startCutProxy(t *testing.T, target string, open bool) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, open: open}
	t.Cleanup(func() { ln.Close(); p.set(false) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
	return p
}

// set opens or cuts the proxy.
func (p *cutProxy) set(open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open = open
	if !open {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func (p *cutProxy) forward(c net.Conn) {
	p.mu.Lock()
	if !p.open {
		p.mu.Unlock()
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// TestBuiltHandlerThroughATableOutage runs the built handler while its table service is
// unreachable, then reachable, then cut again. The host records stderr lines as Errors and stdout
// lines as Information, so the failures must be ERROR lines on stderr (one JSON object a line)
// and nothing at ERROR on stdout; and Health must say 503 unavailable once the table is gone.
func TestBuiltHandlerThroughATableOutage(t *testing.T) {
	app := loadApp(t)
	stand := StartStandIns(t)
	table := tableAddress(t, stand.Tables)
	proxy := startCutProxy(t, table, false)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	settings := stand.Settings("http://127.0.0.1:" + strconv.Itoa(port))
	for i, kv := range settings {
		if strings.HasPrefix(kv, "TABLES_CONNECTION_STRING=") {
			settings[i] = strings.Replace(kv, table, proxy.ln.Addr().String(), 1)
		}
	}
	h := Start(t, app, &Options{Port: port, Settings: settings})

	waitUntil(t, "an ERROR line on stderr while the table is unreachable", func() bool {
		return bytes.Contains(h.Stderr(), []byte(`"level":"ERROR"`))
	})
	proxy.set(true)
	waitUntil(t, "Health 200 once the table is reachable", func() bool {
		return h.Forward(t, "Health", "GET", nil, nil).Status == http.StatusOK
	})
	proxy.set(false)
	var last *Response
	waitUntil(t, "Health 503 once the table is cut", func() bool {
		last = h.Forward(t, "Health", "GET", nil, nil)
		return last.Status == http.StatusServiceUnavailable
	})
	var body map[string]string
	if err := last.DecodeJSON(&body); err != nil || len(body) != 1 || body["status"] != "unavailable" {
		t.Errorf("Health with the table cut: %s, want {\"status\":\"unavailable\"}", last.Body)
	}

	if err := h.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	checkJSONLines(t, redact(h.Stdout(), stand, h))
	for i, line := range bytes.Split(bytes.TrimSpace(h.Stderr()), []byte("\n")) {
		var obj map[string]any
		if err := json.Unmarshal(line, &obj); err != nil || obj["level"] != "ERROR" {
			t.Errorf("stderr line %d is not a JSON object at ERROR: %.300s", i+1, redact(line, stand, h))
		}
	}
}

// TestBuiltHandlerStopsCleanlyOnSIGTERM: the SIGTERM path `make run` uses (the host never does).
func TestBuiltHandlerStopsCleanlyOnSIGTERM(t *testing.T) {
	h, _ := startHandler(t)
	if r := h.Forward(t, "Health", "GET", nil, nil); r.Status != http.StatusOK {
		t.Fatalf("Health: %d %s", r.Status, r.Body)
	}
	if err := h.StopGracefully(); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
}

// TestBuiltHandlerReportsBadSettingsOnStderr: a handler that cannot start says why in one JSON
// line at ERROR on stderr (an Error in the host's log) and exits 1.
func TestBuiltHandlerReportsBadSettingsOnStderr(t *testing.T) {
	app := loadApp(t)
	h := &Host{App: app}
	bin, err := h.executable(t)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = []string{"FUNCTIONS_CUSTOMHANDLER_PORT=0"}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("exit: %v, want status 1", err)
	}
	lines := bytes.Split(bytes.TrimSpace(stderr.Bytes()), []byte("\n"))
	var obj map[string]any
	if len(lines) != 1 || json.Unmarshal(lines[0], &obj) != nil || obj["level"] != "ERROR" ||
		!strings.Contains(obj["error"].(string), "FACE_ENDPOINT") {
		t.Errorf("stderr %q: want one JSON line at ERROR naming the missing settings", stderr.Bytes())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing", stdout.Bytes())
	}
}

// tableAddress is host:port of the table endpoint in a connection string.
func tableAddress(t *testing.T, connStr string) string {
	t.Helper()
	for part := range strings.SplitSeq(connStr, ";") {
		if v, ok := strings.CutPrefix(part, "TableEndpoint="); ok {
			if rest, ok := strings.CutPrefix(v, "http://"); ok {
				return strings.SplitN(rest, "/", 2)[0]
			}
		}
	}
	t.Fatalf("no http TableEndpoint in the connection string")
	return ""
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
