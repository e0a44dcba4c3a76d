package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/fakeclock"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// healthOf is what GET /api/health answers: status code and body, held to the API description.
func healthOf(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/health", nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("health body %q: %v", rec.Body, err)
	}
	if len(body) != 1 {
		t.Errorf("health body %s says more than its status", rec.Body)
	}
	status, _ := body["status"].(string)
	return rec.Code, status
}

// The reported fault: Face answers 500 (or hangs) for minutes and Health still says ok. Now the
// app's own failed calls make it say degraded — with a 200, and without a Face call of its own —
// and the first call that works again makes it say ok.
func TestHealthSeesFaceFailing(t *testing.T) {
	tests := []struct {
		name   string
		faults facestub.Faults
		opts   *appOptions
	}{
		{"500s", facestub.Faults{ServerErrors: 1000}, nil},
		{"throttled", facestub.Faults{Throttle: 1000, RetryAfterSeconds: 30}, nil},
		{"hanging", facestub.Faults{Hang: true}, &appOptions{FaceTotalTimeout: 300 * time.Millisecond, FaceTryTimeout: 100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, tt.opts)
			health := func() (int, string) {
				r := a.do("GET", "/api/health", nil, nil)
				var body struct{ Status string }
				if err := json.Unmarshal(r.body, &body); err != nil {
					t.Fatalf("health body %s: %v", r.body, err)
				}
				return r.status, body.Status
			}
			if code, status := health(); code != http.StatusOK || status != "ok" {
				t.Fatalf("health before any Face call = %d %q, want 200 ok", code, status)
			}
			a.stub.SetFaults(tt.faults)
			for i := range faceFailuresToDegrade {
				a.do("POST", "/api/sessions", []byte(`{"externalReference":"down"}`), nil).wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
				want := "ok"
				if i == faceFailuresToDegrade-1 {
					want = "degraded"
				}
				calls := a.stub.Stats().Total
				if code, status := health(); code != http.StatusOK || status != want {
					t.Errorf("health after %d failed Face calls = %d %q, want 200 %q", i+1, code, status, want)
				}
				if got := a.stub.Stats().Total; got != calls {
					t.Errorf("Health made %d Face calls, want none", got-calls)
				}
			}
			a.stub.SetFaults(facestub.Faults{})
			a.stub.Close() // releases requests a Hang still holds
			a.start(`{"externalReference":"back"}`)
			if code, status := health(); code != http.StatusOK || status != "ok" {
				t.Errorf("health after Face answered again = %d %q, want 200 ok", code, status)
			}
		})
	}
}

// scriptedFace answers every call with err.
type scriptedFace struct{ err error }

func (f *scriptedFace) Create(context.Context, face.Kind, face.CreateRequest) (*face.Session, error) {
	return nil, f.err
}
func (f *scriptedFace) Get(context.Context, face.Kind, string) (*face.Session, error) {
	return nil, f.err
}
func (f *scriptedFace) Delete(context.Context, face.Kind, string) error { return f.err }

func TestHealthFaceSignal(t *testing.T) {
	answer := func(status int, code string) error {
		return fmt.Errorf("face: get: %w", &azcore.ResponseError{StatusCode: status, ErrorCode: code})
	}
	failing := answer(http.StatusInternalServerError, "InternalServerError")
	tests := []struct {
		name  string
		calls []error
		wait  time.Duration // after the calls, each a second after the one before and the last a second ago
		ready error
		code  int
		want  string
	}{
		{"no calls", nil, 0, nil, 200, "ok"},
		{"one fewer than needed", repeat(failing, faceFailuresToDegrade-1), 0, nil, 200, "ok"},
		{"5xx in a row", repeat(failing, faceFailuresToDegrade), 0, nil, 200, "degraded"},
		{"still within the window", repeat(failing, faceFailuresToDegrade), faceFailureWindow - 2*time.Second, nil, 200, "degraded"},
		{"window over", repeat(failing, faceFailuresToDegrade), faceFailureWindow - time.Second, nil, 200, "ok"},
		{"a success ends it", append(repeat(failing, faceFailuresToDegrade), nil), 0, nil, 200, "ok"},
		{"a success between", append(append(repeat(failing, 2), nil), repeat(failing, 2)...), 0, nil, 200, "ok"},
		{"429s", repeat(answer(429, "429"), faceFailuresToDegrade), 0, nil, 200, "degraded"},
		{"401s (a key Face refuses)", repeat(answer(401, "401"), faceFailuresToDegrade), 0, nil, 200, "degraded"},
		{"403s", repeat(answer(403, "UnsupportedFeature"), faceFailuresToDegrade), 0, nil, 200, "degraded"},
		{"an unexpected 2xx", repeat(answer(201, ""), faceFailuresToDegrade), 0, nil, 200, "degraded"},
		{"no answer", repeat(errors.New("dial tcp: connection refused"), faceFailuresToDegrade), 0, nil, 200, "degraded"},
		{"timeouts", repeat(fmt.Errorf("face: %w", context.DeadlineExceeded), faceFailuresToDegrade), 0, nil, 200, "degraded"},
		{"404s with SessionNotFound are Face working", repeat(answer(404, "SessionNotFound"), 5), 0, nil, 200, "ok"},
		{"404s without it are a wrong endpoint", repeat(answer(404, ""), faceFailuresToDegrade), 0, nil, 200, "degraded"},
		{"SessionNotFound under another status", repeat(answer(400, "SessionNotFound"), 5), 0, nil, 200, "ok"},
		{"400s are Face judging input", repeat(answer(400, "InvalidImage"), 5), 0, nil, 200, "ok"},
		{"input refused before any call", repeat(liveness.Invalid("mode", "required"), 5), 0, nil, 200, "ok"},
		{"callers that left", repeat(fmt.Errorf("x: %w", context.Canceled), 5), 0, nil, 200, "ok"},
		{"refused input does not end it", append(repeat(failing, faceFailuresToDegrade), liveness.Invalid("mode", "required")), 0, nil, 200, "degraded"},
		{"the table down wins", repeat(failing, faceFailuresToDegrade), 0, errors.New("table down"), 503, "unavailable"},
		{"the table down alone", nil, 0, errors.New("table down"), 503, "unavailable"},
		{"the table throttles (429)", nil, 0, tableAnswer(429, "TooManyRequests"), 200, "degraded"},
		{"the table is busy (503 ServerBusy)", nil, 0, tableAnswer(503, "ServerBusy"), 200, "degraded"},
		{"the table fails (503 otherwise)", nil, 0, tableAnswer(503, "ServiceUnavailable"), 503, "unavailable"},
		{"the table fails (500)", nil, 0, tableAnswer(500, "InternalError"), 503, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := fakeclock.New(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
			fake := &scriptedFace{}
			srv := New(Deps{Face: fake}, Settings{}, &Options{Now: clock.Now, Ready: func(context.Context) error { return tt.ready }})
			for _, err := range tt.calls {
				fake.err = err
				_ = srv.face.Delete(t.Context(), face.KindLiveness, "3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50")
				clock.Advance(time.Second)
			}
			clock.Advance(tt.wait)
			code, status := healthOf(t, loadContract(t).Middleware(t, srv.Handler()))
			if code != tt.code || status != tt.want {
				t.Errorf("health = %d %q, want %d %q", code, status, tt.code, tt.want)
			}
		})
	}
}

// tableAnswer is the store's error for a table answer of status and code.
func tableAnswer(status int, code string) error {
	return fmt.Errorf("store: ping: %w: %w", liveness.ErrUpstreamUnavailable,
		upstream.Redact(&azcore.ResponseError{StatusCode: status, ErrorCode: code}))
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}
