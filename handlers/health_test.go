package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A health probe whose caller hangs up must not make Health answer 503 to everyone else: the
// readiness answer is cached for healthTTL, so a canceled context must not be what gets cached.
func TestHealthIgnoresACallerThatLeft(t *testing.T) {
	probes := 0
	srv := New(nil, nil, Settings{}, &Options{Ready: func(ctx context.Context) error {
		probes++
		return ctx.Err() // a real probe fails this way when its context is canceled
	}})
	h := loadContract(t).Middleware(t, srv.Handler())

	gone, cancel := context.WithCancel(t.Context())
	cancel() // an anonymous caller that sent the request and hung up at once
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/health", nil).WithContext(gone))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/health", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("health after another caller hung up = %d %s (after %d probes), want 200: dependencies are fine",
			rec.Code, rec.Body, probes)
	}
}
