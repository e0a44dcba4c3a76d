package facestub_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

func TestTokenExpiresAfterTTL(t *testing.T) {
	tests := []struct {
		name string
		body string
		ttl  time.Duration
	}{
		{name: "default", body: validCreate, ttl: 600 * time.Second},
		{name: "minimum", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":60}`, ttl: 60 * time.Second},
		{name: "maximum", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":86400}`, ttl: 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			s := e.create(t, tt.body)
			e.clock.Advance(tt.ttl - time.Second)
			if _, _, ok := e.stub.SessionByToken(s.AuthToken); !ok {
				t.Fatalf("token dead a second before its TTL of %v", tt.ttl)
			}
			e.clock.Advance(time.Second)
			if _, _, ok := e.stub.SessionByToken(s.AuthToken); ok {
				t.Errorf("token live at its TTL of %v", tt.ttl)
			}
			if r := e.do(t, call{method: http.MethodGet, path: "/_stub/tokens/" + s.AuthToken, header: http.Header{}}); r.status != http.StatusNotFound {
				t.Errorf("GET /_stub/tokens after TTL: status %d, want 404", r.status)
			}
			// The session outlives its token.
			if got, r := e.getSession(t, livenessPath, s.SessionID); r.status != http.StatusOK || got.SessionID != s.SessionID {
				t.Errorf("get after token expiry: status %d, want 200", r.status)
			}
		})
	}
}

func TestSessionVanishesAfter48Hours(t *testing.T) {
	e := newEnv(t, nil)
	s := e.create(t, `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","enableSessionImage":true}`)
	if err := e.stub.AddAttempt(s.SessionID, facestub.Attempt{}); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	got, _ := e.getSession(t, livenessPath, s.SessionID)
	imagePath := "/face/v1.2/sessionImages/" + got.Results.Attempts[0].Result.SessionImageID

	e.clock.Advance(facestub.SessionLifetime - time.Second)
	if _, r := e.getSession(t, livenessPath, s.SessionID); r.status != http.StatusOK {
		t.Fatalf("get a second before 48 h: status %d, want 200", r.status)
	}
	e.clock.Advance(time.Second)
	_, r := e.getSession(t, livenessPath, s.SessionID)
	r.wantError(t, http.StatusNotFound, "SessionNotFound")
	r = e.do(t, call{method: http.MethodDelete, path: livenessPath + "/" + s.SessionID})
	r.wantError(t, http.StatusNotFound, "SessionNotFound")
	r = e.do(t, call{method: http.MethodGet, path: imagePath})
	r.wantError(t, http.StatusNotFound, "SessionImageNotFound")
	if err := e.stub.AddAttempt(s.SessionID, facestub.Attempt{}); err == nil {
		t.Error("AddAttempt on an expired session: no error, want ErrSessionNotFound")
	}
}
