package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// quickLinkGate stands in front of the quick link stand-in: it counts the calls that reach the
// service and, while refuse is set, answers them itself with that status (and a Retry-After of
// retryAfter seconds when non-zero). before, when set, runs before a call is passed on.
type quickLinkGate struct {
	calls      atomic.Int64
	refuse     atomic.Int64
	retryAfter int

	mu     sync.Mutex
	before func(r *http.Request)
}

func (g *quickLinkGate) wrap(stub http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.calls.Add(1)
		if status := int(g.refuse.Load()); status != 0 {
			if g.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(g.retryAfter))
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error":{"code":"Throttled","message":"refused by the test"}}`))
			return
		}
		g.mu.Lock()
		before := g.before
		g.before = nil // once
		g.mu.Unlock()
		if before != nil {
			before(r)
		}
		stub.ServeHTTP(w, r)
	})
}

// onNextCall makes fn run before the next call reaches the stand-in.
func (g *quickLinkGate) onNextCall(fn func(r *http.Request)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.before = fn
}

// newLinkApp is an app whose quick link calls go through a gate.
func newLinkApp(t *testing.T) (*app, *quickLinkGate) {
	t.Helper()
	g := &quickLinkGate{}
	return newApp(t, &appOptions{QuickLinks: g.wrap}), g
}

// link asks for sess's link with body (nil: none).
func (a *app) link(id string, body []byte) *reply {
	a.t.Helper()
	return a.do("POST", "/api/sessions/"+id+"/link", body, nil)
}

// linkOf decodes a Link body, rejecting fields linkView does not have.
func (r *reply) linkOf(t *testing.T) linkView { t.Helper(); return strictJSON[linkView](t, r.body) }

// startedOf decodes a StartSession answer with its link.
func (r *reply) startedOf(t *testing.T) startedView {
	t.Helper()
	return strictJSON[startedView](t, r.body)
}

// strictJSON decodes body as a T, rejecting fields T does not have.
func strictJSON[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %T from %.300s: %v", v, body, err)
	}
	return v
}

// rawSession returns the stored row of session id as the table service sends it (nil if none).
func (a *app) rawSession(id string) map[string]any {
	a.t.Helper()
	for _, raw := range a.rawEntities() {
		var e map[string]any
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			a.t.Fatalf("decoding a row: %v", err)
		}
		if e["PartitionKey"] == id && e["RowKey"] == "session" {
			return e
		}
	}
	return nil
}
