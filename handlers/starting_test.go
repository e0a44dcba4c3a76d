package handlers

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
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

// Every function of the app answers while it starts, without touching the dependencies it does
// not have yet: a route added without orStarting would reach a nil store here and panic.
func TestStartingCoversEveryFunction(t *testing.T) {
	h := Starting(slog.New(slog.DiscardHandler))
	files, err := filepath.Glob(filepath.Join("..", "functions", "*", "function.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no functions/*/function.json (%v)", err)
	}
	const id = "3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50"
	param := regexp.MustCompile(`\{[^}]+\}`)
	calls := 0
	for _, f := range files {
		var fn struct {
			Bindings []struct {
				Type, Route string
				Methods     []string
			}
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &fn); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := filepath.Base(filepath.Dir(f))
		for _, binding := range fn.Bindings {
			switch binding.Type {
			case "httpTrigger":
				for _, m := range binding.Methods {
					path := "/api/" + param.ReplaceAllString(binding.Route, id)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, httptest.NewRequest(strings.ToUpper(m), path, strings.NewReader(`{}`)))
					calls++
					if rec.Code != http.StatusServiceUnavailable {
						t.Errorf("%s: %s %s while starting = %d, want 503", name, m, path, rec.Code)
					}
				}
			case "timerTrigger":
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("POST", "/"+name, strings.NewReader(`{"Data":{}}`)))
				calls++
				if rec.Code != http.StatusServiceUnavailable {
					t.Errorf("%s: POST /%s while starting = %d, want 503", name, name, rec.Code)
				}
			}
		}
	}
	if calls < len(files) {
		t.Errorf("called %d functions of %d: the function.json reading is off", calls, len(files))
	}
}
