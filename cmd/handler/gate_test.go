package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/handlers"
)

func TestStartGate(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	starting := handlers.Starting(slog.New(slog.DiscardHandler))

	t.Run("readiness probe answers before start-up finishes", func(t *testing.T) {
		g := newStartGate(time.Hour, starting)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET / = %d, want 200 at once", rec.Code)
		}
	})
	t.Run("requests reach the app once open", func(t *testing.T) {
		g := newStartGate(time.Hour, starting)
		g.open(app)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("GET", "/api/health", nil))
		if rec.Code != http.StatusTeapot {
			t.Errorf("GET /api/health = %d, want the app's answer", rec.Code)
		}
	})
	// After the wait, each route says the app is starting in its own format: what the API
	// document declares for it, and the envelope the host requires of the timer.
	tests := []struct {
		method, path, body    string
		contentType, contains string
	}{
		{"POST", "/api/sessions", `{}`, "application/problem+json", `"code":"upstream_unavailable"`},
		{"GET", "/api/sessions/3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50", "", "application/problem+json", `"code":"upstream_unavailable"`},
		{"DELETE", "/api/sessions/3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50", "", "application/problem+json", `"code":"upstream_unavailable"`},
		{"GET", "/api/health", "", "application/json; charset=utf-8", `{"status":"unavailable"}`},
		{"POST", "/Reconcile", `{"Data":{}}`, "application/json", `"Logs":[`},
	}
	for _, tt := range tests {
		t.Run("a start-up still under way: "+tt.method+" "+tt.path, func(t *testing.T) {
			g := newStartGate(time.Millisecond, starting)
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Content-Type") != tt.contentType {
				t.Errorf("status %d, Content-Type %q; want 503 %s", rec.Code, rec.Header().Get("Content-Type"), tt.contentType)
			}
			if !bytes.Contains(body, []byte(tt.contains)) {
				t.Errorf("body %s: want it to hold %s", body, tt.contains)
			}
		})
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	err := run(t.Context(), func(string) string { return "" }, nil, nil)
	if err == nil {
		t.Fatal("run started without any configuration")
	}
	for _, name := range []string{"FACE_ENDPOINT", "PUBLIC_BASE_URL", "CALLBACK_SIGNING_KEYS", "TABLES_CONNECTION_STRING",
		"SERVICEBUS_NAMESPACE or SERVICEBUS_CONNECTION_STRING"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}
