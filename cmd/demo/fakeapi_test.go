package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeAPI plays the function API to the contract of issue 9 (StartSession with issueLink and qr,
// GetSession), recording every request. It is a stand-in because the real IssueLink path is being
// built at the same time; its answers use the schemas of api/openapi.yaml (Session, Problem) and
// the IssueLink answer object of the shared contract.
type fakeAPI struct {
	t   *testing.T
	url string

	mu       sync.Mutex
	requests []apiRequest
	sessions map[string]map[string]any // GetSession answers by id
	qrSvg    string
	linkURL  string
	failWith *fakeFailure // when set, every call answers this
}

type apiRequest struct {
	Method, Path, ContentType, FunctionKey string
	Body                                   map[string]any
}

type fakeFailure struct {
	status      int
	contentType string
	body        string
}

const (
	fakeID      = "3f0c6f9e-8a51-4c1e-9b7a-2d4e5f6a7b8c"
	fakeLinkID  = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
	fakeQuick   = "https://quicklink.example.test"
	fakeLinkURL = fakeQuick + "/?s=" + fakeLinkID + "&callbackUrl=https%3A%2F%2Fapp.example.test%2Fapi%2Fcallback%2F" + fakeID + "%3Fexp%3D1%26sig%3Dsecret-signature"
	fakeSvg     = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 21 21"><path d="M0 0h7v7H0z"/></svg>`
)

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t, sessions: map[string]map[string]any{}, qrSvg: fakeSvg, linkURL: fakeLinkURL}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	rec := apiRequest{Method: r.Method, Path: r.URL.EscapedPath(), ContentType: r.Header.Get("Content-Type"), FunctionKey: r.Header.Get("x-functions-key")}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &rec.Body); err != nil {
			f.t.Errorf("%s %s: body is not JSON: %v", r.Method, r.URL.Path, err)
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, rec)
	fail := f.failWith
	f.mu.Unlock()
	if fail != nil {
		w.Header().Set("Content-Type", fail.contentType)
		w.WriteHeader(fail.status)
		io.WriteString(w, fail.body)
		return
	}
	now := time.Now().UTC().Truncate(time.Second)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/sessions":
		expires := now.Add(10 * time.Minute).Format(time.RFC3339)
		s := map[string]any{"sessionId": fakeID, "kind": "liveness", "status": "linkIssued",
			"createdAt": now.Format(time.RFC3339), "expiresAt": expires, "linkIssuedAt": now.Format(time.RFC3339)}
		f.mu.Lock()
		f.sessions[fakeID] = s
		answer := map[string]any{"link": map[string]any{"url": f.linkURL, "expiresAt": expires, "qrSvg": f.qrSvg}}
		f.mu.Unlock()
		for k, v := range s {
			answer[k] = v
		}
		w.Header().Set("Location", "/api/sessions/"+fakeID)
		writeJSON(w, http.StatusCreated, answer)
	case r.Method == http.MethodGet && len(r.URL.Path) == len("/api/sessions/")+36 && r.URL.Path[:14] == "/api/sessions/":
		f.mu.Lock()
		s, ok := f.sessions[r.URL.Path[14:]]
		f.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"type":"about:blank","title":"Session not found","status":404,"code":"session_not_found"}`)
			return
		}
		writeJSON(w, http.StatusOK, s)
	default:
		f.t.Errorf("the demo called %s %s, which it has no reason to call", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}
}

// finish makes session id final, as the callback or Reconcile would.
func (f *fakeAPI) finish(id, status string, outcome map[string]any, passed *bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sessions[id]
	s["status"] = status
	s["completedAt"] = time.Now().UTC().Format(time.RFC3339)
	if outcome != nil {
		s["outcome"] = outcome
	}
	if passed != nil {
		s["passed"] = *passed
	}
}

// addSession makes id a session GetSession knows, with status.
func (f *fakeAPI) addSession(id, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now().UTC().Format(time.RFC3339)
	f.sessions[id] = map[string]any{"sessionId": id, "kind": "liveness", "status": status, "createdAt": now, "expiresAt": now}
}

func (f *fakeAPI) calls() []apiRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiRequest(nil), f.requests...)
}

func (f *fakeAPI) fail(status int, contentType, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWith = &fakeFailure{status, contentType, body}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		panic(fmt.Sprint("encode: ", err))
	}
}
