package main

import (
	"net/http"
	"sync"
	"time"
)

// startGate answers the host's readiness probe at once and holds other requests until the
// app's dependencies are built (or answers 503 when that failed or takes too long).
type startGate struct {
	ready   chan struct{}
	once    sync.Once
	handler http.Handler
	err     error
}

func newStartGate() *startGate { return &startGate{ready: make(chan struct{})} }

func (g *startGate) open(h http.Handler, err error) {
	g.once.Do(func() {
		g.handler, g.err = h, err
		close(g.ready)
	})
}

const startWait = 20 * time.Second

func (g *startGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" && r.Method == http.MethodGet {
		w.WriteHeader(http.StatusOK)
		return
	}
	select {
	case <-g.ready:
	case <-r.Context().Done():
		return
	case <-time.After(startWait):
	}
	select {
	case <-g.ready:
		if g.err == nil {
			g.handler.ServeHTTP(w, r)
			return
		}
	default:
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Retry-After", "5")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"type":"about:blank","title":"The app is starting or could not start.","status":503,"code":"upstream_unavailable"}` + "\n"))
}
