package quicklinkstub

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// TestBesideServesFaceAndQuickLink: one listener serves Face (and its controls) and quick link.
func TestBesideServesFaceAndQuickLink(t *testing.T) {
	face := facestub.New(&facestub.Options{APIKey: "k"})
	h := Beside(face, New(face, nil))
	for _, c := range []struct {
		method, path, auth string
		want               int
	}{
		{"POST", "/face/v1.2/detectLiveness-sessions", "", http.StatusUnauthorized}, // Face: no key
		{"GET", "/_stub/stats", "", http.StatusOK},
		{"POST", "/api/quicklink", "Bearer never-issued", http.StatusUnauthorized},
		{"GET", "/_quicklink/issued", "", http.StatusOK},
	} {
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s %s = %d, want %d\n%s", c.method, c.path, rec.Code, c.want, rec.Body)
		}
	}
}
