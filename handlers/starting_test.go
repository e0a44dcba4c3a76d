package handlers

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// While the app starts, every API route still answers what api/openapi.yaml declares for it
// (the contract middleware checks), with 503 and a Retry-After.
func TestStartingAnswersAsTheDocumentSays(t *testing.T) {
	srv := httptest.NewServer(loadContract(t).Middleware(t, Starting(slog.New(slog.DiscardHandler))))
	defer srv.Close()
	const id = "3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50"
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/sessions", `{"externalReference":"x"}`},
		{"GET", "/api/sessions/" + id, ""},
		{"DELETE", "/api/sessions/" + id, ""},
		{"GET", "/api/health", ""},
	} {
		req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-functions-key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s %s = %d, want 503", c.method, c.path, resp.StatusCode)
		}
		if c.path != "/api/health" && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", c.method, c.path)
		}
	}
}
