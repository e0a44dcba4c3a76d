package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

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
