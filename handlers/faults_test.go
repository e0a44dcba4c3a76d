package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

func TestFaceThrottledThenServes(t *testing.T) {
	a := newApp(t, nil)
	a.stub.SetFaults(facestub.Faults{Throttle: 1, RetryAfterSeconds: 1})
	v := a.start(`{"externalReference":"throttled"}`)
	if got := a.stub.Stats().Create; got != 2 {
		t.Errorf("Face creates = %d, want 2 (a 429, then the retry)", got)
	}
	if _, err := a.store.GetSession(t.Context(), v.SessionID); err != nil {
		t.Errorf("the session was not recorded after the retry: %v", err)
	}
}

func TestFaceUnavailable(t *testing.T) {
	tests := []struct {
		name   string
		faults facestub.Faults
		opts   *appOptions
	}{
		{"server errors beyond the retry budget", facestub.Faults{ServerErrors: 100}, nil},
		{"throttled beyond the retry budget", facestub.Faults{Throttle: 100}, nil},
		// The client gives up at its total timeout; a hung Face must not hang the request.
		{"hang", facestub.Faults{Hang: true}, &appOptions{FaceTotalTimeout: time.Second, FaceTryTimeout: 300 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, tt.opts)
			key := map[string]string{"Idempotency-Key": "unavailable-" + randomHex(t, 8)}
			before := a.rows()
			a.stub.SetFaults(tt.faults)

			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // a safety net, not a measure
			defer cancel()
			req := a.request("POST", "/api/sessions", []byte(`{"externalReference":"down"}`), key).WithContext(ctx)
			r := a.send(req)
			r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
			if r.header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			if got := a.stub.Stats().Create; got < 2 {
				t.Errorf("Face creates = %d, want the client to have retried", got)
			}
			if after := a.rows(); !mapsEqual(before, after) {
				t.Errorf("a failed start left rows behind: %v → %v", before, after)
			}

			// The key was released: once Face is back, the same request goes through.
			a.stub.SetFaults(facestub.Faults{})
			a.stub.Close() // releases any request still held by Hang
			if r := a.do("POST", "/api/sessions", []byte(`{"externalReference":"down"}`), key); r.status != http.StatusCreated {
				t.Errorf("the same request after Face recovered = %d %s, want 201", r.status, r.body)
			}
		})
	}
}

// When the table service fails, reads and writes answer 503, and a start that cannot record its
// session deletes the Face session it created: no Face session exists that the table does not know.
func TestStorageUnavailable(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(``)
	if _, err := a.table.Delete(t.Context(), nil); err != nil {
		t.Fatalf("deleting the table: %v", err)
	}

	for _, method := range []string{"GET", "DELETE"} {
		r := a.do(method, "/api/sessions/"+v.SessionID, nil, nil)
		r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	}

	r := a.do("POST", "/api/sessions", []byte(`{"externalReference":"no table"}`), nil)
	r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	tokens := a.stub.IssuedTokens()
	if len(tokens) != 2 {
		t.Fatalf("Face sessions created = %d, want 2", len(tokens))
	}
	if id, _, ok := a.stub.SessionByToken(tokens[1]); ok {
		t.Errorf("Face session %s outlived the failed start", id)
	}
}

// Upstream answers are logged by status, error code and request id, never by their body (a Face
// body can hold a session's auth token): the stand-in's error message must not reach the log.
func TestUpstreamBodiesNeverReachTheLog(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"log-body"}`)
	a.stub.SetFaults(facestub.Faults{ServerErrors: 100})
	a.passDue(v)
	a.reconcile()
	a.stub.SetFaults(facestub.Faults{})

	logs := string(a.logs.Bytes())
	if !strings.Contains(logs, "500 InternalServerError") {
		t.Fatalf("the log does not record the Face failure at all: the test proves nothing\n%s", logs)
	}
	if strings.Contains(logs, "An internal server error occurred") {
		t.Errorf("the log holds the body of a Face answer:\n%s", logs)
	}
}
