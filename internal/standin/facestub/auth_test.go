package facestub_test

import (
	"net/http"
	"testing"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

func TestAuth(t *testing.T) {
	key := func(k string) http.Header { return http.Header{"Ocp-Apim-Subscription-Key": {k}} }
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	tests := []struct {
		name   string
		opts   facestub.Options
		header http.Header
		want   int
	}{
		{name: "any key when none configured", header: key("anything"), want: 200},
		{name: "any bearer when none configured", header: bearer("aad-token"), want: 200},
		{name: "bearer scheme in any case", header: http.Header{"Authorization": {"bearer aad-token"}}, want: 200},
		{name: "configured key", opts: facestub.Options{APIKey: "k1"}, header: key("k1"), want: 200},
		{name: "wrong key", opts: facestub.Options{APIKey: "k1"}, header: key("k2"), want: 401},
		{name: "bearer beside a configured key", opts: facestub.Options{APIKey: "k1"}, header: bearer("aad-token"), want: 200},
		{name: "configured bearer", opts: facestub.Options{BearerToken: "t1"}, header: bearer("t1"), want: 200},
		{name: "wrong bearer", opts: facestub.Options{BearerToken: "t1"}, header: bearer("t2"), want: 401},
		{name: "wrong key, right bearer", opts: facestub.Options{APIKey: "k1", BearerToken: "t1"},
			header: http.Header{"Ocp-Apim-Subscription-Key": {"k2"}, "Authorization": {"Bearer t1"}}, want: 200},
		{name: "no credentials", header: http.Header{}, want: 401},
		{name: "empty key", header: key(""), want: 401},
		{name: "empty bearer", header: http.Header{"Authorization": {"Bearer "}}, want: 401},
		{name: "basic auth", header: http.Header{"Authorization": {"Basic dTpw"}}, want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &tt.opts)
			c := createJSON(validCreate)
			c.header = tt.header
			r := e.doUnchecked(t, c)
			if tt.want == 401 {
				r.wantError(t, http.StatusUnauthorized, "401")
				return
			}
			if r.status != tt.want {
				t.Errorf("status = %d (%s), want %d", r.status, r.body, tt.want)
			}
		})
	}
}

// A session auth token authorizes the client's calls only, never the management API.
func TestSessionTokenIsNotAManagementCredential(t *testing.T) {
	e := newEnv(t, nil)
	s := e.create(t, validCreate)
	r := e.do(t, call{method: http.MethodGet, path: livenessPath + "/" + s.SessionID, header: http.Header{"Authorization": {"Bearer " + s.AuthToken}}})
	r.wantError(t, http.StatusUnauthorized, "401")
}

func TestEveryFaceRouteNeedsCredentials(t *testing.T) {
	e := newEnv(t, nil)
	s := e.create(t, validCreate)
	for _, c := range []call{
		{method: http.MethodGet, path: livenessPath + "/" + s.SessionID},
		{method: http.MethodDelete, path: livenessPath + "/" + s.SessionID},
		{method: http.MethodGet, path: verifyPath + "/" + s.SessionID},
		{method: http.MethodDelete, path: verifyPath + "/" + s.SessionID},
		{method: http.MethodGet, path: "/face/v1.2/sessionImages/x"},
		verifyForm(jpeg(2048)).call(t),
	} {
		c.header = http.Header{}
		r := e.doUnchecked(t, c)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: status %d, want 401", c.method, c.path, r.status)
		}
	}
	if _, r := e.getSession(t, livenessPath, s.SessionID); r.status != http.StatusOK {
		t.Errorf("session after unauthorized delete: status %d, want 200", r.status)
	}
}
