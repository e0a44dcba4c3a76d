package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// slowServer serves, within l, a handler that reads the whole body, works for work, and reports
// on done how the body read and the request context ended.
func slowServer(t *testing.T, l serverLimits, work time.Duration) (addr string, done <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan string, 10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		if err != nil {
			results <- "body: " + err.Error()
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(work):
			results <- "ok"
		case <-r.Context().Done():
			results <- "context: " + r.Context().Err().Error()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := newServer(h, slog.New(slog.DiscardHandler), l)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), results
}

// trickle writes s one byte every gap until the server stops reading (or s ends); it returns how
// many bytes went out.
func trickle(conn net.Conn, s string, gap time.Duration) int {
	for i := range len(s) {
		if _, err := conn.Write([]byte{s[i]}); err != nil {
			return i
		}
		time.Sleep(gap)
	}
	return len(s)
}

// closedWithin reports whether the server ends the connection (EOF or a reset, after any answer)
// within limit.
func closedWithin(conn net.Conn, limit time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestSlowClientsAreCut: headers that trickle in, a body that trickles in after complete headers
// (the reported fault: one byte every 2 s held a goroutine as long as the client liked) and an
// idle kept-alive connection are each ended by the server within its limit.
func TestSlowClientsAreCut(t *testing.T) {
	// Short limits, so a slow client's fate shows in a second.
	testLimits := serverLimits{header: 300 * time.Millisecond, body: 500 * time.Millisecond, idle: 400 * time.Millisecond}
	const gap = 100 * time.Millisecond
	const slack = 2 * time.Second
	t.Run("slow headers", func(t *testing.T) {
		addr, _ := slowServer(t, testLimits, 0)
		conn := dial(t, addr)
		go trickle(conn, "POST /api/sessions HTTP/1.1\r\nHost: x\r\nX-Padding: "+strings.Repeat("a", 100)+"\r\n\r\n", gap)
		if !closedWithin(conn, testLimits.header+slack) {
			t.Errorf("the server kept a connection whose headers trickle in past %v", testLimits.header+slack)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		addr, done := slowServer(t, testLimits, 0)
		conn := dial(t, addr)
		body := strings.Repeat("b", 100) // 10 s at one byte a gap
		fmt.Fprintf(conn, "POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
		go trickle(conn, body, gap)
		select {
		case got := <-done:
			if !strings.HasPrefix(got, "body: ") {
				t.Errorf("the handler ended with %q, want its body read cut", got)
			}
		case <-time.After(testLimits.body + slack):
			t.Fatalf("the handler still read a trickling body after %v", testLimits.body+slack)
		}
		if !closedWithin(conn, slack) {
			t.Error("the server kept the connection of a cut body")
		}
	})
	t.Run("idle connection", func(t *testing.T) {
		addr, done := slowServer(t, testLimits, 0)
		conn := dial(t, addr)
		fmt.Fprintf(conn, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("first request: %v %v", resp, err)
		}
		<-done
		if !closedWithin(conn, testLimits.idle+slack) {
			t.Errorf("the server kept an idle connection past %v", testLimits.idle+slack)
		}
	})
	t.Run("a request at work past the body limit is not cut", func(t *testing.T) {
		addr, done := slowServer(t, testLimits, 3*testLimits.body)
		conn := dial(t, addr)
		fmt.Fprintf(conn, "POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("answer: %v %v", resp, err)
		}
		if got := <-done; got != "ok" {
			t.Errorf("the handler ended with %q, want its work done (the body limit applies to the body only)", got)
		}
	})
}

// The host forwards a chunked request's header without its body. A handler that answers it
// without reading (there is nothing to read) is heard at once, not after the body limit.
func TestAChunkedRequestWithoutItsBodyIsAnsweredAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusLengthRequired) })
	srv := newServer(h, slog.New(slog.DiscardHandler), serverLimits{header: time.Minute, body: time.Minute, idle: time.Minute})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	conn := dial(t, ln.Addr().String())
	fmt.Fprintf(conn, "POST /api/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer within 5 s (the body limit is a minute): %v", err)
	}
	if resp.StatusCode != http.StatusLengthRequired || !resp.Close {
		t.Errorf("answer %d, close %v: want the handler's 411 and the connection closed", resp.StatusCode, resp.Close)
	}
}

// The handler's own limits are set, and the idle limit outlasts the host's pooled connections.
func TestHandlerLimitsAreBounded(t *testing.T) {
	l := handlerLimits()
	for name, d := range map[string]time.Duration{"header": l.header, "body": l.body, "idle": l.idle} {
		if d <= 0 || d > 10*time.Minute {
			t.Errorf("%s limit %v: want a bound", name, d)
		}
	}
	if l.idle <= time.Minute {
		t.Errorf("idle limit %v: want longer than the host's 1-minute pooled idle time", l.idle)
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
