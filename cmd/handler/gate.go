package main

import (
	"net/http"
	"sync"
	"time"
)

// startGate answers the host's readiness probe at once and holds other requests until the
// app's dependencies are built; when that takes too long or the server stops, starting answers
// them (503 in each route's own format).
type startGate struct {
	ready    chan struct{}
	once     sync.Once
	handler  http.Handler
	starting http.Handler
	wait     time.Duration // how long a request waits for start-up
	stopping chan struct{}
	stopOnce sync.Once
}

func newStartGate(wait time.Duration, starting http.Handler) *startGate {
	return &startGate{ready: make(chan struct{}), wait: wait, starting: starting, stopping: make(chan struct{})}
}

// stop releases the requests still waiting, so a shutdown does not wait on them.
func (g *startGate) stop() { g.stopOnce.Do(func() { close(g.stopping) }) }

func (g *startGate) open(h http.Handler) {
	g.once.Do(func() {
		g.handler = h
		close(g.ready)
	})
}

// startWait keeps a request waiting through a normal start-up, well inside the host's timeouts.
const startWait = 20 * time.Second

func (g *startGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" && r.Method == http.MethodGet {
		w.WriteHeader(http.StatusOK)
		return
	}
	select {
	case <-g.ready:
		g.handler.ServeHTTP(w, r)
		return
	case <-r.Context().Done():
		return
	case <-g.stopping:
	case <-time.After(g.wait):
	}
	g.starting.ServeHTTP(w, r)
}
