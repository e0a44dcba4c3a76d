package facestub_test

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

func TestCreateLivenessSession(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, createJSON(validCreate))
	if r.status != http.StatusOK {
		t.Fatalf("status = %d (%s), want 200", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if r.header.Get("apim-request-id") == "" {
		t.Error("apim-request-id header missing")
	}
	if !bytes.Contains(r.body, []byte(`"attempts":[]`)) {
		t.Errorf("body %s: want attempts as an empty array", r.body)
	}
	if bytes.Contains(r.body, []byte("verifyReferences")) {
		t.Errorf("body %s: a liveness session has no verifyReferences", r.body)
	}
	var s session
	r.json(t, &s)
	if !liveness.ValidSessionID(s.SessionID) {
		t.Errorf("sessionId = %q, want a GUID", s.SessionID)
	}
	if !strings.HasPrefix(s.AuthToken, "eyJ") || len(s.AuthToken) < 100 {
		t.Errorf("authToken = %q, want a long JWT-looking string", s.AuthToken)
	}
	if s.Status != "NotStarted" {
		t.Errorf("status = %q, want NotStarted", s.Status)
	}
	if s.ModelVersion != "2024-11-15" {
		t.Errorf("modelVersion = %q, want 2024-11-15", s.ModelVersion)
	}
}

func TestCreatedSessionsAreDistinct(t *testing.T) {
	e := newEnv(t, nil)
	a, b := e.create(t, validCreate), e.create(t, validCreate)
	if a.SessionID == b.SessionID || a.AuthToken == b.AuthToken {
		t.Errorf("two sessions share an id or token: %+v, %+v", a, b)
	}
}

func TestCreateLivenessWithVerifySession(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, verifyForm(jpeg(4096)).call(t))
	if r.status != http.StatusOK {
		t.Fatalf("status = %d (%s), want 200", r.status, r.body)
	}
	var s session
	r.json(t, &s)
	if !liveness.ValidSessionID(s.SessionID) || s.AuthToken == "" || s.Status != "NotStarted" {
		t.Errorf("session = %+v, want a GUID id, a token and status NotStarted", s)
	}
	if len(s.Results.Attempts) != 0 {
		t.Errorf("attempts = %v, want none", s.Results.Attempts)
	}
	if len(s.Results.VerifyReferences) != 1 {
		t.Errorf("verifyReferences = %s, want the one reference face", s.Results.VerifyReferences)
	}
	if id, kind, ok := e.stub.SessionByToken(s.AuthToken); !ok || id != s.SessionID || kind != facestub.KindLivenessWithVerify {
		t.Errorf("SessionByToken = %q, %q, %v; want %q, %q, true", id, kind, ok, s.SessionID, facestub.KindLivenessWithVerify)
	}
}

func TestGetAndDelete(t *testing.T) {
	tests := []struct {
		name, path, otherPath string
		create                func(*testing.T, *env) session
	}{
		{name: "liveness", path: livenessPath, otherPath: verifyPath,
			create: func(t *testing.T, e *env) session { return e.create(t, validCreate) }},
		{name: "liveness with verify", path: verifyPath, otherPath: livenessPath,
			create: func(t *testing.T, e *env) session { return e.createVerify(t, verifyForm(jpeg(2048))) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			created := tt.create(t, e)

			got, r := e.getSession(t, tt.path, created.SessionID)
			if r.status != http.StatusOK {
				t.Fatalf("get: status %d (%s), want 200", r.status, r.body)
			}
			if got.SessionID != created.SessionID || got.AuthToken != created.AuthToken || got.Status != "NotStarted" {
				t.Errorf("get = %+v, want the created session %+v", got, created)
			}

			// Sessions of one kind are not found on the other kind's routes.
			_, r = e.getSession(t, tt.otherPath, created.SessionID)
			r.wantError(t, http.StatusNotFound, "SessionNotFound")

			r = e.do(t, call{method: http.MethodDelete, path: tt.path + "/" + created.SessionID})
			if r.status != http.StatusNoContent || len(r.body) != 0 {
				t.Fatalf("delete: status %d body %q, want 204 and no body", r.status, r.body)
			}
			_, r = e.getSession(t, tt.path, created.SessionID)
			r.wantError(t, http.StatusNotFound, "SessionNotFound")
			r = e.do(t, call{method: http.MethodDelete, path: tt.path + "/" + created.SessionID})
			r.wantError(t, http.StatusNotFound, "SessionNotFound")
			if _, _, ok := e.stub.SessionByToken(created.AuthToken); ok {
				t.Error("SessionByToken: the token of a deleted session is still live")
			}
		})
	}
}

func TestGetUnknownSession(t *testing.T) {
	e := newEnv(t, nil)
	for _, id := range []string{"b12e033e-bda7-4b83-a211-e721c661f30e", "not-a-guid"} {
		_, r := e.getSession(t, livenessPath, id)
		r.wantError(t, http.StatusNotFound, "SessionNotFound")
	}
}

func TestUnknownFaceRoute(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []call{
		{method: http.MethodGet, path: "/face/v1.2/detectLiveness/singleModal/sessions"},
		{method: http.MethodPut, path: livenessPath + "/b12e033e-bda7-4b83-a211-e721c661f30e"},
		{method: http.MethodGet, path: "/face/v1.1/detectLiveness-sessions/x"},
	} {
		r := e.send(t, e.plain, c)
		r.wantError(t, http.StatusNotFound, "NotFound")
	}
	if got := e.stub.Stats().Total; got != 3 {
		t.Errorf("Stats().Total = %d, want 3", got)
	}
}

func TestSessionImage(t *testing.T) {
	e := newEnv(t, nil)
	s := e.create(t, `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","enableSessionImage":true}`)
	if err := e.stub.AddAttempt(s.SessionID, facestub.Attempt{}); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	got, _ := e.getSession(t, livenessPath, s.SessionID)
	if len(got.Results.Attempts) != 1 || got.Results.Attempts[0].Result == nil || got.Results.Attempts[0].Result.SessionImageID == "" {
		t.Fatalf("attempts = %+v, want one result with a sessionImageId", got.Results.Attempts)
	}
	imagePath := "/face/v1.2/sessionImages/" + got.Results.Attempts[0].Result.SessionImageID

	r := e.do(t, call{method: http.MethodGet, path: imagePath})
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("get image: status %d Content-Type %q, want 200 application/octet-stream", r.status, r.header.Get("Content-Type"))
	}
	if !bytes.HasPrefix(r.body, []byte{0xFF, 0xD8, 0xFF}) {
		t.Errorf("image starts %x, want a JPEG", r.body[:min(4, len(r.body))])
	}

	// The image dies with its session.
	e.do(t, call{method: http.MethodDelete, path: livenessPath + "/" + s.SessionID})
	r = e.do(t, call{method: http.MethodGet, path: imagePath})
	r.wantError(t, http.StatusNotFound, "SessionImageNotFound")
}

func TestNoSessionImageUnlessEnabled(t *testing.T) {
	e := newEnv(t, nil)
	s := e.create(t, validCreate)
	if err := e.stub.AddAttempt(s.SessionID, facestub.Attempt{}); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	got, _ := e.getSession(t, livenessPath, s.SessionID)
	if id := got.Results.Attempts[0].Result.SessionImageID; id != "" {
		t.Errorf("sessionImageId = %q for a session without enableSessionImage, want none", id)
	}
}

func TestSessionByTokenOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	s := e.create(t, validCreate)
	r := e.do(t, call{method: http.MethodGet, path: "/_stub/tokens/" + s.AuthToken, header: http.Header{}})
	var got struct{ SessionID, Kind string }
	r.json(t, &got)
	if r.status != http.StatusOK || got.SessionID != s.SessionID || got.Kind != facestub.KindLiveness {
		t.Errorf("GET /_stub/tokens: %d %+v, want 200 with %s and %s", r.status, got, s.SessionID, facestub.KindLiveness)
	}
	r = e.do(t, call{method: http.MethodGet, path: "/_stub/tokens/unknown", header: http.Header{}})
	if r.status != http.StatusNotFound {
		t.Errorf("GET /_stub/tokens/unknown: status %d, want 404", r.status)
	}
}

// Ids and tokens come from Options.Rand, so a seeded source reproduces them.
func TestRandIsInjectable(t *testing.T) {
	seed := [32]byte{1}
	var ids, tokens []string
	for range 2 {
		e := newEnv(t, &facestub.Options{Rand: rand.NewChaCha8(seed)})
		s := e.create(t, validCreate)
		ids, tokens = append(ids, s.SessionID), append(tokens, s.AuthToken)
	}
	if ids[0] != ids[1] || tokens[0] != tokens[1] {
		t.Errorf("same seed gave sessions %v with tokens %v, want the same twice", ids, tokens)
	}
}
