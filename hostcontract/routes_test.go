package hostcontract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHandlerRoutesEverySpellingTheHostRoutes sends the built handler, for every route of every
// function.json, the spellings of its path that the Functions host routes to that function and
// forwards as the client sent them (reference "Routes": letter case, one trailing "/",
// percent-escapes), and expects the answer the route's own spelling gets. Paths the host routes to
// no function (an empty segment) must get the handler's not_found, never a redirect.
func TestHandlerRoutesEverySpellingTheHostRoutes(t *testing.T) {
	h, _ := startHandler(t)

	r := h.Forward(t, "StartSession", "POST", nil, []byte(`{"externalReference":"routes"}`))
	var started struct {
		SessionID string `json:"sessionId"`
	}
	if r.Status != http.StatusCreated || r.DecodeJSON(&started) != nil {
		t.Fatalf("StartSession: %d %.300s, want 201 with a session", r.Status, r.Body)
	}
	routes := 0
	for _, f := range h.App.Functions {
		if _, forwarded := f.HTTPTrigger(); !forwarded {
			continue
		}
		tmpl, err := ParseTemplate(h.App.RouteTemplate(f))
		if err != nil {
			t.Fatal(err)
		}
		vars := map[string]string{}
		for _, p := range tmpl.Params() {
			vars[p] = started.SessionID
		}
		path, err := tmpl.Expand(vars)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range f.Methods() {
			routes++
			var body []byte
			if m == http.MethodPost {
				body = []byte(`{"externalReference":"order-42"}`)
			}
			want := summarize(t, h.sendAsHost(t, m, path, body), m == http.MethodPost)
			for _, sp := range spellings(path) {
				t.Run(f.Name+" "+m+" "+sp, func(t *testing.T) {
					got := summarize(t, h.sendAsHost(t, m, sp, body), m == http.MethodPost)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("%s %s answers unlike %s %s (-want +got):\n%s", m, sp, m, path, diff)
					}
				})
			}
			for _, sp := range []string{path + "//", strings.Replace(path, "/", "//", 2)[1:]} {
				t.Run(f.Name+" "+m+" "+sp, func(t *testing.T) {
					r := h.sendAsHost(t, m, sp, body)
					if m == http.MethodHead { // no body to hold the code
						if r.Status != http.StatusNotFound {
							t.Errorf("HEAD %s (the host routes it nowhere): %d, want 404", sp, r.Status)
						}
						return
					}
					if code := problemCode(r); r.Status != http.StatusNotFound || code != "not_found" {
						t.Errorf("%s %s (the host routes it nowhere): %d %q, want 404 not_found", m, sp, r.Status, code)
					}
				})
			}
		}
	}
	if routes < 4 {
		t.Errorf("checked %d routes, want at least StartSession, GetSession, CancelSession and Health", routes)
	}
}

// spellings are other spellings of an escaped path that the host routes as it routes path.
func spellings(path string) []string {
	escapeFirst := func(path string) string { // "/API/SESSIONS" → "/%41PI/%53ESSIONS"
		segs := strings.Split(path, "/")
		for i, s := range segs {
			if s != "" {
				segs[i] = fmt.Sprintf("%%%02x", s[0]) + s[1:]
			}
		}
		return strings.Join(segs, "/")
	}
	e := escapeFirst(path)
	return []string{path + "/", strings.ToUpper(path), strings.ToUpper(path) + "/", e, strings.ToUpper(e) + "/",
		escapeFirst(strings.ToUpper(path))}
}

// sendAsHost sends what the host forwards for a client's request to path: the path as sent, a
// JSON body with its Content-Type, and the host's headers.
func (h *Host) sendAsHost(t *testing.T, method, path string, body []byte) *Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	return h.send(t, req, h.addHostHeaders(req))
}

// answer is what two spellings of one request must share: status, media type and body, less what
// differs per session created.
type answer struct {
	Status    int
	MediaType string
	Body      map[string]any
}

func summarize(t *testing.T, r *Response, created bool) answer {
	t.Helper()
	a := answer{Status: r.Status, MediaType: r.MediaType()}
	if len(r.Body) == 0 { // a HEAD
		return a
	}
	if err := json.Unmarshal(r.Body, &a.Body); err != nil {
		t.Fatalf("answer %d %.300s: %v", r.Status, r.Body, err)
	}
	if created {
		for _, k := range []string{"sessionId", "createdAt", "expiresAt"} {
			delete(a.Body, k)
		}
	}
	return a
}
