package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/testing/logsink"
)

// A health probe whose caller hangs up must not make Health answer 503 to everyone else: the
// readiness answer is cached for healthTTL, so a canceled context must not be what gets cached.
func TestHealthIgnoresACallerThatLeft(t *testing.T) {
	probes := 0
	srv := New(Deps{}, Settings{}, &Options{Ready: func(ctx context.Context) error {
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

// The anonymous body says only "unavailable"; the request line says why, with the code, on every
// answer (cached ones too).
func TestHealthsRequestLineSaysWhy(t *testing.T) {
	var logs logsink.Buffer
	srv := New(Deps{}, Settings{}, &Options{
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Ready:  func(context.Context) error { return errors.New("table down: dial tcp 127.0.0.1:1: connection refused") },
	})
	h := srv.Handler()
	for range 2 { // the second answer comes from the cache
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/health", nil))
		if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "dial") {
			t.Fatalf("health = %d %s, want 503 and no cause in the body", rec.Code, rec.Body)
		}
	}
	n := 0
	for raw := range bytes.Lines(logs.Bytes()) {
		var l map[string]any
		if err := json.Unmarshal(raw, &l); err != nil || l["msg"] != "request" {
			continue
		}
		n++
		if l["code"] != "unavailable" || !strings.Contains(fmt.Sprint(l["error"]), "connection refused") {
			t.Errorf("request line %s, want code unavailable and the cause", raw)
		}
	}
	if n != 2 {
		t.Errorf("%d request lines, want 2", n)
	}
}
