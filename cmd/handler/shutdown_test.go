package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/logsink"
)

// SIGTERM while start-up is still retrying must stop the handler cleanly and at once. A request
// parked in the start gate waits startWait (20 s) unless the gate lets it go on shutdown; held,
// it keeps srv.Shutdown waiting its whole 10 s grace period. So run must return well inside that.
func TestShutdownWhileARequestWaitsAtTheGate(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tableAddr := closed.Addr().String()
	closed.Close() // the table service never answers: start-up keeps retrying

	port := freePort(t)
	settings := map[string]string{
		"FUNCTIONS_CUSTOMHANDLER_PORT": fmt.Sprint(port),
		"FACE_ENDPOINT":                "http://127.0.0.1:1",
		"FACE_API_KEY":                 "shutdown-test-key",
		"PUBLIC_BASE_URL":              "http://localhost",
		"CALLBACK_SIGNING_KEYS":        base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"TABLES_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" +
			base64.StdEncoding.EncodeToString(make([]byte, 64)) + ";TableEndpoint=http://" + tableAddr + "/devstoreaccount1;",
		"SERVICEBUS_CONNECTION_STRING": emulatorConnectionString(freePort(t)),
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func(k string) string { return settings[k] }, &logsink.Buffer{}, &logsink.Buffer{})
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, "the readiness probe", answersOK(base+"/"))

	// A request that the gate holds: written in full before the probe below connects.
	wrote := make(chan struct{})
	req, _ := http.NewRequest("GET", base+"/api/health", nil)
	req = req.WithContext(httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) },
	}))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	go func() {
		if resp, err := tr.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-wrote
	// The server accepts connections in order: once a later one is answered, the held one is in.
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil {
		t.Fatalf("probe: %v", err)
	}
	conn.Close()

	cancel()                      // SIGTERM
	const bound = 5 * time.Second // half the grace period a held request would use up
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after SIGTERM with a request at the start gate = %v, want a clean shutdown", err)
		}
	case <-time.After(bound):
		t.Fatalf("run did not return within %v of SIGTERM: the request at the start gate held the shutdown", bound)
	}
}

// TestShutdownRefusesNewRequestsAndBoundsTheDrain: on SIGTERM the listener closes at once (a new
// request is refused), and a request held by a hanging Face does not hold the exit past the grace
// period: run returns within shutdownGrace and the publisher's close bound.
func TestShutdownRefusesNewRequestsAndBoundsTheDrain(t *testing.T) {
	face := &heldFace{next: facestub.New(&facestub.Options{APIKey: "publisher-test-key"}), arrived: make(chan struct{}), release: make(chan struct{})}
	faceSrv := httptest.NewServer(face)
	t.Cleanup(faceSrv.Close)
	t.Cleanup(func() { close(face.release) }) // Face never answers while the test runs

	h := startHandler(t, appSettings(t, faceSrv.URL, freePort(t)))
	waitFor(t, "health", answersOK(h.base+"/api/health"))
	inFlight := make(chan error, 1)
	go func() {
		resp, err := http.Post(h.base+"/api/sessions", "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
		}
		inFlight <- err
	}()
	<-face.arrived
	sigterm := time.Now()
	h.cancel()
	waitFor(t, "shutting down", func() bool { return strings.Contains(h.logs.String(), `"shutting down"`) })

	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	if resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(h.base + "/api/health"); err == nil {
		resp.Body.Close()
		t.Errorf("a request after SIGTERM was answered %d, want it refused", resp.StatusCode)
	}

	bound := shutdownGrace + publisherCloseTimeout + 3*time.Second
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("run = %v, want a clean shutdown", err)
		}
	case <-time.After(bound):
		t.Fatalf("run did not return within %v of SIGTERM with a request held by a hanging Face", bound)
	}
	if took := time.Since(sigterm); took < shutdownGrace-time.Second {
		t.Errorf("run returned %v after SIGTERM, before the grace period: the request in flight was not given its time", took)
	}
	if err := <-inFlight; err == nil {
		t.Error("the request held past the grace period was answered, want its connection cut")
	}
	if !strings.Contains(h.logs.String(), "shutdown grace period over") {
		t.Errorf("no WARN line that the grace period ended:\n%s", h.logs)
	}
}
