package quicklinkstub_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/standin/quicklinkstub"
)

func TestQuickLinkTokenRules(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{})
	_, token := e.session(t)
	if r := e.quicklink(t, token); r.status != http.StatusOK {
		t.Fatalf("first swap: %d %s, want 200", r.status, r.body)
	}
	if r := e.quicklink(t, token); r.status < 400 {
		t.Errorf("second swap of the same token: %d, want an error status", r.status)
	}
	if r := e.quicklink(t, "not-a-token"); r.status != http.StatusUnauthorized {
		t.Errorf("unknown token: %d, want 401", r.status)
	}
	if r := e.quicklink(t, ""); r.status != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", r.status)
	}
	_, late := e.session(t)
	e.clock.Advance(600*time.Second + time.Second) // past the default authTokenTimeToLiveInSeconds
	if r := e.quicklink(t, late); r.status != http.StatusUnauthorized {
		t.Errorf("expired token: %d, want 401", r.status)
	}
}

func TestSettingsControl(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{})
	if got, want := e.quick.Settings(), (quicklinkstub.Settings{ReturnMode: quicklinkstub.ReturnGet}); got != want {
		t.Errorf("default settings = %+v, want %+v", got, want)
	}
	put := func(body string) int {
		return e.do(t, http.MethodPut, "/_quicklink/settings", "application/json", body, nil).status
	}
	if st := put(`{"returnMode":"post","appendParams":true}`); st != http.StatusNoContent {
		t.Fatalf("PUT good settings: %d, want 204", st)
	}
	want := quicklinkstub.Settings{ReturnMode: quicklinkstub.ReturnPost, AppendParams: true}
	r := e.do(t, http.MethodGet, "/_quicklink/settings", "", "", nil)
	var got quicklinkstub.Settings
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || got != want {
		t.Errorf("GET settings = %s (%v), want %+v", r.body, err, want)
	}
	for _, bad := range []string{
		``, `null`, `{}`, `{"returnMode":"post"}`, `{"appendParams":true}`,
		`{"returnMode":"redirect","appendParams":false}`, `{"returnMode":"GET","appendParams":false}`,
		`{"returnMode":"get","appendParams":"yes"}`, `{"returnMode":"get","appendParams":false,"extra":1}`,
		`{"returnMode":"get","appendParams":false} {}`, `[]`,
	} {
		if st := put(bad); st != http.StatusBadRequest {
			t.Errorf("PUT %s: %d, want 400", bad, st)
		}
	}
	if got := e.quick.Settings(); got != want {
		t.Errorf("settings after bad PUTs = %+v, want %+v unchanged", got, want)
	}
	if err := e.quick.SetSettings(quicklinkstub.Settings{ReturnMode: "bogus"}); err == nil {
		t.Error("SetSettings with an unknown mode = nil, want an error")
	}
	if err := e.quick.SetSettings(quicklinkstub.Settings{ReturnMode: quicklinkstub.ReturnGet}); err != nil {
		t.Errorf("SetSettings(get) = %v", err)
	}

	// The switch takes effect on the next capture.
	_, s := e.link(t)
	e.open(t, s, callbackURL)
	if r := e.capture(t, s, "outcome=realface"); r.status != http.StatusSeeOther || r.header.Get("Location") != callbackURL {
		t.Errorf("capture after switching to get: %d Location %q, want 303 to %q", r.status, r.header.Get("Location"), callbackURL)
	}
}

func TestIssuedControls(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{})
	empty := e.do(t, http.MethodGet, "/_quicklink/issued", "", "", nil)
	if empty.status != http.StatusOK || empty.body != "{\"linkIds\":[]}\n" {
		t.Errorf("GET /_quicklink/issued before any link: %d %q, want {\"linkIds\":[]}", empty.status, empty.body)
	}
	if r := e.do(t, http.MethodGet, "/_stub/issued-tokens", "", "", nil); r.status != http.StatusOK || r.body != `{"tokens":[]}` {
		t.Errorf("GET /_stub/issued-tokens before any session: %d %q, want {\"tokens\":[]}", r.status, r.body)
	}
	_, token := e.session(t)
	s := e.linkFor(t, token)

	var links struct{ LinkIDs []string }
	r := e.do(t, http.MethodGet, "/_quicklink/issued", "", "", nil)
	if err := json.Unmarshal([]byte(r.body), &links); err != nil {
		t.Fatalf("decode issued links %q: %v", r.body, err)
	}
	if diff := cmp.Diff([]string{s}, links.LinkIDs); diff != "" {
		t.Errorf("issued link ids (-want +got):\n%s", diff)
	}
	var tokens struct{ Tokens []string }
	r = e.do(t, http.MethodGet, "/_stub/issued-tokens", "", "", nil)
	if err := json.Unmarshal([]byte(r.body), &tokens); err != nil {
		t.Fatalf("decode issued tokens %q: %v", r.body, err)
	}
	if diff := cmp.Diff([]string{token}, tokens.Tokens); diff != "" {
		t.Errorf("issued tokens (-want +got):\n%s", diff)
	}
}

func TestParseReturnMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want quicklinkstub.ReturnMode
		ok   bool
	}{{"get", quicklinkstub.ReturnGet, true}, {"post", quicklinkstub.ReturnPost, true}, {"", "", false}, {"POST", "", false}} {
		got, err := quicklinkstub.ParseReturnMode(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseReturnMode(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
