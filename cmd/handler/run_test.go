package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/logsink"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// flakyProxy refuses connections until healed, then forwards them to target: a table service
// that is not reachable yet when the handler starts.
type flakyProxy struct {
	ln     net.Listener
	target string
	healed atomic.Bool
}

func startFlakyProxy(t *testing.T, target string) *flakyProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.healed.Load() {
				c.Close()
				continue
			}
			go p.forward(c)
		}
	}()
	return p
}

func (p *flakyProxy) forward(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { _, _ = io.Copy(up, c) }()
	_, _ = io.Copy(c, up)
}

// TestRunRetriesDependenciesAtStart: the handler answers the host's probe while its table service
// is unreachable, answers 503 meanwhile, and serves once the service appears, without a restart.
func TestRunRetriesDependenciesAtStart(t *testing.T) {
	az := testenv.StartAzurite(t)
	tableAddr := strings.TrimPrefix(strings.Split(az.Endpoint(), "/devstoreaccount1")[0], "http://")
	proxy := startFlakyProxy(t, tableAddr)

	stub := facestub.New(&facestub.Options{APIKey: "run-test-key"})
	faceSrv := httptest.NewServer(stub)
	t.Cleanup(faceSrv.Close)

	port := freePort(t)
	settings := map[string]string{
		"FUNCTIONS_CUSTOMHANDLER_PORT": fmt.Sprint(port),
		"FACE_ENDPOINT":                faceSrv.URL,
		"FACE_API_KEY":                 "run-test-key",
		"PUBLIC_BASE_URL":              "http://localhost",
		"CALLBACK_SIGNING_KEYS":        base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"TABLES_CONNECTION_STRING": strings.Replace(az.ConnectionString(), tableAddr,
			proxy.ln.Addr().String(), 1),
		// Nothing listens there: start-up does not wait for Service Bus.
		"SERVICEBUS_CONNECTION_STRING": emulatorConnectionString(freePort(t)),
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := &logsink.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return settings[k] }, logs, logs) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	waitFor(t, "the readiness probe", answersOK(base+"/"))
	waitFor(t, "a failed start-up attempt in the log", func() bool {
		return strings.Contains(logs.String(), "start-up failed; retrying")
	})
	proxy.healed.Store(true)
	waitFor(t, "health once the table service is reachable", answersOK(base+"/api/health"))

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel = %v, want a clean shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

// answersOK reports, each time it is called, whether GET url answers 200.
func answersOK(url string) func() bool {
	return func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := freePortErr()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func freePortErr() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
