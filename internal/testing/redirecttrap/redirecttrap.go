// Package redirecttrap serves an endpoint that answers every request with a redirect to a second
// server, and counts what reaches that second server: a client that follows the redirect resends
// its credentials (headers, tokens, signatures) there.
package redirecttrap

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Trap is a redirecting endpoint and its target.
type Trap struct {
	// URL is the endpoint's base URL: every request to it is redirected, same path and query,
	// to the target.
	URL     string
	reached atomic.Int32
}

// New starts a Trap whose redirects have status (a 3xx); both servers stop when tb ends.
func New(tb testing.TB, status int) *Trap {
	tb.Helper()
	t := &Trap{}
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.reached.Add(1) }))
	tb.Cleanup(target.Close)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), status)
	}))
	tb.Cleanup(endpoint.Close)
	t.URL = endpoint.URL
	return t
}

// Reached is how many requests reached the target: a client that follows no redirect makes none.
func (t *Trap) Reached() int { return int(t.reached.Load()) }
