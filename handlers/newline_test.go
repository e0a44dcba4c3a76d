package handlers

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// failingIndex is the store with its due index unreadable, so that a Reconcile run fails.
type failingIndex struct{ SessionStore }

func (failingIndex) ListDue(context.Context, time.Time, *liveness.DueItem, int) ([]liveness.DueItem, error) {
	return nil, errors.New("the index is unreachable (test)")
}

// Every JSON answer ends with a newline, so a pasted curl line leaves the prompt on a line of its
// own: the answers of each writer (a resource, a problem, the timer's envelope, its failure, and
// the answers while starting).
func TestJSONAnswersEndWithANewline(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"newline"}`)
	answers := map[string]*reply{
		"201 session":            a.do("POST", "/api/sessions", []byte(`{}`), nil),
		"200 session":            a.do("GET", "/api/sessions/"+v.SessionID, nil, nil),
		"200 canceled":           a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil),
		"200 health":             a.do("GET", "/api/health", nil, nil),
		"400 problem":            a.do("POST", "/api/sessions", []byte(`{"kind":1}`), nil),
		"404 problem":            a.do("GET", "/api/sessions/3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50", nil, nil),
		"404 unknown route":      serve(a.srv.Handler(), "GET", "/api/nothing", ""),
		"415 problem":            a.do("POST", "/api/sessions", []byte(`{}`), map[string]string{"Content-Type": "text/plain"}),
		"200 timer envelope":     a.do("POST", "/Reconcile", []byte(timerEnvelope), nil),
		"500 timer envelope":     serve(a.serveOn(failingIndex{a.store}), "POST", "/Reconcile", timerEnvelope),
		"503 problem, starting":  serve(Starting(slog.New(slog.DiscardHandler)), "GET", "/api/sessions/"+v.SessionID, ""),
		"503 envelope, starting": serve(Starting(slog.New(slog.DiscardHandler)), "POST", "/Reconcile", timerEnvelope),
		"503 health, starting":   serve(Starting(slog.New(slog.DiscardHandler)), "GET", "/api/health", ""),
		"404 on another method":  serve(a.srv.Handler(), "PUT", "/api/sessions", "{}"),
	}
	finished := a.start(`{}`)
	if err := a.stub.AddAttempt(finished.SessionID, facestub.Attempt{}); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	answers["409 problem"] = a.do("DELETE", "/api/sessions/"+finished.SessionID, nil, nil)

	for name, r := range answers {
		if want := name[:3]; strconv.Itoa(r.status) != want {
			t.Errorf("%s: status %d, want %s: the answer is not the one meant", name, r.status, want)
		}
		ct := r.header.Get("Content-Type")
		if !strings.Contains(ct, "json") {
			t.Errorf("%s: Content-Type %q, want a JSON type (status %d)", name, ct, r.status)
			continue
		}
		if !bytes.HasSuffix(r.body, []byte("\n")) {
			t.Errorf("%s: answer %q does not end with a newline", name, r.body)
		}
	}
}

// serve sends one request straight to h, without the contract middleware.
func serve(h http.Handler, method, path, body string) *reply {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	h.ServeHTTP(rec, req)
	return &reply{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// serveOn is a.srv's handler with another store.
func (a *app) serveOn(st SessionStore) http.Handler {
	opts := a.srv.opts
	return New(Deps{Face: a.face, QuickLinks: a.srv.quickLinks, Store: st, Events: a.srv.events}, a.srv.settings, &opts).Handler()
}
