package main

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// serverLimits bound how long one connection may keep the server busy without doing its part.
type serverLimits struct {
	// header is the time a client has to send a request's headers (http.Server.ReadHeaderTimeout).
	header time.Duration
	// body is the time, from the request's start, a client has to send its body. It is a
	// per-request read deadline rather than http.Server.ReadTimeout, because ReadTimeout keeps
	// running after the body is read and, once past, cancels the context of a request still at
	// work.
	body time.Duration
	// idle is how long a kept-alive connection may wait for its next request. Longer than the
	// host's pooled connections stay idle (.NET's PooledConnectionIdleTimeout, 1 minute), so the
	// host, not the server, closes an idle connection, and never sends on one the server is
	// closing.
	idle time.Duration
}

// Limits of the handler's server, documented in the README. A body of the largest size
// (defaultMaxBodyBytes, 9 MB) arrives from the host over loopback in well under a second; a
// client slower than 60 s has its request cut, not a goroutine held.
const (
	headerLimit = 10 * time.Second
	bodyLimit   = 60 * time.Second
	idleLimit   = 5 * time.Minute
)

func handlerLimits() serverLimits {
	return serverLimits{header: headerLimit, body: bodyLimit, idle: idleLimit}
}

// newServer serves h within limits; the server's own complaints (bad requests, TLS probes) are
// logged at WARN.
func newServer(h http.Handler, log *slog.Logger, l serverLimits) *http.Server {
	return &http.Server{
		Handler:           bodyDeadline(h, l.body),
		ReadHeaderTimeout: l.header,
		IdleTimeout:       l.idle,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// bodyDeadline gives a request's body until limit after the request starts; once the body is
// read to its end the deadline is lifted, so a request at work is never cut by it.
//
// A body of unknown length (chunked) is never sent by the host: it forwards the header without
// the body. Its answer closes the connection, because net/http would otherwise try to drain the
// body before answering and wait for bytes that never come.
func bodyDeadline(h http.Handler, limit time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength < 0 {
			w.Header().Set("Connection", "close")
		}
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(limit)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts its read deadline at the end of the body.
type deadlineBody struct {
	io.ReadCloser
	lift func()
	once sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.once.Do(b.lift)
	}
	return n, err
}
