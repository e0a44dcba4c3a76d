package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestStartGate(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })

	t.Run("readiness probe answers before start-up finishes", func(t *testing.T) {
		g := newStartGate(time.Hour)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET / = %d, want 200 at once", rec.Code)
		}
	})
	t.Run("requests reach the app once open", func(t *testing.T) {
		g := newStartGate(time.Hour)
		g.open(app)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("GET", "/api/health", nil))
		if rec.Code != http.StatusTeapot {
			t.Errorf("GET /api/health = %d, want the app's answer", rec.Code)
		}
	})
	t.Run("a start-up still under way answers 503 problem after the wait", func(t *testing.T) {
		g := newStartGate(time.Millisecond)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("POST", "/api/sessions", nil))
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("POST /api/sessions = %d %q, want 503 problem+json", rec.Code, rec.Header().Get("Content-Type"))
		}
		if body := rec.Body.String(); !strings.Contains(body, `"code":"upstream_unavailable"`) {
			t.Errorf("body %q: want a problem with code upstream_unavailable", body)
		}
	})
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	err := run(t.Context(), func(string) string { return "" }, nil)
	if err == nil {
		t.Fatal("run started without any configuration")
	}
	for _, name := range []string{"FACE_ENDPOINT", "PUBLIC_BASE_URL", "CALLBACK_SIGNING_KEYS", "TABLES_CONNECTION_STRING"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}
