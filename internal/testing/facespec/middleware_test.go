package facespec

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const validSession = `{"sessionId":"` + sessionID + `","authToken":"eyJ","status":"NotStarted","results":{"attempts":[]}}`

func TestMiddlewareReportsViolations(t *testing.T) {
	s := Load(t)
	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		auth     bool
		status   int
		respBody string
		want     []string // one substring per expected report, in order
	}{
		{name: "conforming", method: "POST", path: createPath, body: `{"livenessOperationMode":"Passive"}`, auth: true, status: 200, respBody: validSession},
		{name: "bad request", method: "POST", path: createPath, body: `{"livenessOperationMode":"Sleepy"}`, auth: true, status: 200, respBody: validSession,
			want: []string{"request violates the Face spec"}},
		{name: "no credentials", method: "GET", path: sessionPath, status: 200, respBody: validSession,
			want: []string{"security requirements failed"}},
		{name: "bad response", method: "DELETE", path: sessionPath, auth: true, status: 200, respBody: validSession,
			want: []string{"response violates the Face spec: LivenessSessionOperations_DeleteLivenessSession: status 200"}},
		{name: "both sides bad", method: "GET", path: BasePath + "/nope", auth: true, status: 200, respBody: "{}",
			want: []string{"GET /face/v1.2/nope: request violates", "GET /face/v1.2/nope: response violates"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spy := &spyTB{TB: t}
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.respBody)
			})
			srv := httptest.NewServer(s.Middleware(spy, next))
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.auth {
				req.Header.Set("Ocp-Apim-Subscription-Key", "k")
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			resp.Body.Close()
			srv.Close() // wait for the handler, and so for its reports

			got := spy.errors()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d reports %q, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("report %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// The wrapped handler sees the request and the client sees the response exactly as without the middleware.
func TestMiddlewarePassesTrafficThrough(t *testing.T) {
	s := Load(t)
	reqBody := `{"livenessOperationMode":"PassiveActive","deviceCorrelationId":"d"}`
	var seen string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = string(b)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("apim-request-id", "rid")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, validSession[:10])
		io.WriteString(w, validSession[10:])
	})
	srv := httptest.NewServer(s.Middleware(t, next))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+createPath, strings.NewReader(reqBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer aad")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)

	if seen != reqBody {
		t.Errorf("handler read body %q, want %q", seen, reqBody)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200", resp.StatusCode)
	}
	if h := resp.Header.Get("apim-request-id"); h != "rid" {
		t.Errorf("apim-request-id = %q, want rid", h)
	}
	if !bytes.Equal(got, []byte(validSession)) {
		t.Errorf("body = %q, want %q", got, validSession)
	}
}

// A handler that writes nothing answers an implicit 200 with no body, which the delete operation forbids.
func TestMiddlewareChecksImplicitResponse(t *testing.T) {
	s := Load(t)
	spy := &spyTB{TB: t}
	srv := httptest.NewServer(s.Middleware(spy, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+sessionPath, nil)
	req.Header.Set("Ocp-Apim-Subscription-Key", "k")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	resp.Body.Close()
	srv.Close()
	if got := spy.errors(); len(got) != 1 || !strings.Contains(got[0], "status 200 is not declared") {
		t.Errorf("reports = %q, want one about the undeclared 200", got)
	}
}
