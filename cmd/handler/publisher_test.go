package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/logsink"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// emulatorConnectionString is the stand-in's connection string form for a port, whether or not
// anything listens there.
func emulatorConnectionString(port int) string {
	return "Endpoint=sb://127.0.0.1:" + strconv.Itoa(port) +
		";SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
}

// runningHandler is run in a goroutine with settings, its log, and its end.
type runningHandler struct {
	base   string
	logs   *logsink.Buffer
	cancel context.CancelFunc // SIGTERM
	done   chan error
}

func startHandler(t *testing.T, settings map[string]string) *runningHandler {
	t.Helper()
	port := freePort(t)
	settings["FUNCTIONS_CUSTOMHANDLER_PORT"] = fmt.Sprint(port)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	h := &runningHandler{base: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &logsink.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- run(ctx, func(k string) string { return settings[k] }, h.logs, h.logs) }()
	return h
}

// stop ends the handler as SIGTERM does and waits for run to return cleanly.
func (h *runningHandler) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	h.wait(t)
}

// wait waits for run to return, and wants it clean.
func (h *runningHandler) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("run after SIGTERM = %v, want a clean shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

// appSettings are a complete configuration with Azurite, faceURL and Service Bus at sbPort.
func appSettings(t *testing.T, faceURL string, sbPort int) map[string]string {
	return map[string]string{
		"FACE_ENDPOINT":                faceURL,
		"FACE_API_KEY":                 "publisher-test-key",
		"PUBLIC_BASE_URL":              "http://localhost",
		"CALLBACK_SIGNING_KEYS":        base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"TABLES_CONNECTION_STRING":     testenv.StartAzurite(t).ConnectionString(),
		"SERVICEBUS_CONNECTION_STRING": emulatorConnectionString(sbPort),
	}
}

// The host's probe and health do not wait for Service Bus: the publisher does not dial while the
// handler starts, and a Service Bus that is not there only shows as a warning, while events wait
// in the outbox.
func TestRunServesWithoutServiceBus(t *testing.T) {
	faceSrv := httptest.NewServer(facestub.New(&facestub.Options{APIKey: "publisher-test-key"}))
	t.Cleanup(faceSrv.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sbPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close() // the stand-in is not started: nothing answers there

	h := startHandler(t, appSettings(t, faceSrv.URL, sbPort))
	waitFor(t, "the readiness probe", answersOK(h.base+"/"))
	waitFor(t, "health with Service Bus down", answersOK(h.base+"/api/health"))
	waitFor(t, "the warning that Service Bus is not reachable", func() bool {
		return strings.Contains(h.logs.String(), "Service Bus not reachable yet")
	})
	h.stop(t)
	if strings.Contains(h.logs.String(), "SAS_KEY_VALUE") {
		t.Errorf("the log quotes the Service Bus key:\n%s", h.logs)
	}
}

// heldFace passes every call to the Face stub except that it holds session creations until
// release is closed, so a StartSession stays in flight.
type heldFace struct {
	next    http.Handler
	arrived chan struct{}
	once    sync.Once
	release chan struct{}
}

func (f *heldFace) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		f.once.Do(func() { close(f.arrived) })
		<-f.release
	}
	f.next.ServeHTTP(w, r)
}

// The publisher connects once the handler is up, stays connected while a request drains on
// SIGTERM (that request could still publish), and its connection is closed after the drain.
func TestShutdownClosesThePublisherAfterTheDrain(t *testing.T) {
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	face := &heldFace{next: facestub.New(&facestub.Options{APIKey: "publisher-test-key"}), arrived: make(chan struct{}), release: make(chan struct{})}
	faceSrv := httptest.NewServer(face)
	t.Cleanup(faceSrv.Close)
	var releaseOnce sync.Once
	releaseFace := func() { releaseOnce.Do(func() { close(face.release) }) }
	t.Cleanup(releaseFace)

	h := startHandler(t, appSettings(t, faceSrv.URL, sb.Port))
	waitFor(t, "health", answersOK(h.base+"/api/health"))
	waitFor(t, "the publisher's connection at the stand-in", func() bool { return openConnections(t, sb) == 1 })

	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post(h.base+"/api/sessions", "application/json", strings.NewReader(`{}`))
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-face.arrived
	h.cancel() // SIGTERM with StartSession in flight
	waitFor(t, "shutting down", func() bool { return strings.Contains(h.logs.String(), `"shutting down"`) })
	time.Sleep(300 * time.Millisecond) // time in which an early close would show
	if n := openConnections(t, sb); n != 1 {
		t.Errorf("open connections while a request drains = %d, want 1 (closed before the drain)", n)
	}

	releaseFace()
	if status := <-answered; status != http.StatusCreated && status != http.StatusOK {
		t.Errorf("the request in flight at SIGTERM answered %d, want it served", status)
	}
	h.wait(t)
	if n := openConnections(t, sb); n != 0 {
		t.Errorf("open connections after run returned = %d, want 0 (the publisher closed)", n)
	}
	if !strings.Contains(h.logs.String(), "Service Bus publisher closed") {
		t.Errorf("no INFO line that the publisher closed:\n%s", h.logs)
	}
}

func openConnections(t *testing.T, sb *services.ServiceBus) int {
	t.Helper()
	n, err := sb.Connections()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
