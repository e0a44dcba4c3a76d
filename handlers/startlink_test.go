package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

func TestStartSessionIssuesLink(t *testing.T) {
	a, gate := newLinkApp(t)
	tests := []struct {
		name, body string
		svg, png   bool
	}{
		{"plain", `{"issueLink":true}`, false, false},
		{"svg", `{"issueLink":true,"qr":"svg","externalReference":"start-svg"}`, true, false},
		{"png", `{"qr":"png","issueLink":true}`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := a.on(t)
			calls := gate.calls.Load()
			r := a.do("POST", "/api/sessions", []byte(tt.body), nil)
			if r.status != http.StatusCreated {
				t.Fatalf("StartSession = %d %s, want 201", r.status, r.body)
			}
			v := r.startedOf(t)
			if v.Status != liveness.StatusLinkIssued || v.LinkIssuedAt == "" {
				t.Errorf("status %s linkIssuedAt %q, want linkIssued with its time", v.Status, v.LinkIssuedAt)
			}
			if v.Link == nil {
				t.Fatalf("the answer has no link")
			}
			a.checkLink(t, v.sessionView, *v.Link)
			if (v.Link.QRSVG != "") != tt.svg || (v.Link.QRPNG != "") != tt.png {
				t.Errorf("qrSvg %t qrPng %t, want %t %t", v.Link.QRSVG != "", v.Link.QRPNG != "", tt.svg, tt.png)
			}
			a.checkNoToken(t, v.SessionID)
			if n := gate.calls.Load() - calls; n != 1 {
				t.Errorf("%d quick link calls, want 1", n)
			}
			// The one path: the link is the session's only one.
			a.link(v.SessionID, nil).wantProblem(t, http.StatusConflict, "link_already_issued")
		})
	}
}

// A replay of an idempotent start answers the session without its link: a link is shown once.
func TestStartSessionIssueLinkReplayHasNoLink(t *testing.T) {
	a, gate := newLinkApp(t)
	key := map[string]string{"Idempotency-Key": "link-replay-" + randomHex(t, 4)}
	first := a.do("POST", "/api/sessions", []byte(`{"issueLink":true,"qr":"svg"}`), key)
	if first.status != http.StatusCreated || first.startedOf(t).Link == nil {
		t.Fatalf("first start = %d %.200s, want 201 with a link", first.status, first.body)
	}
	again := a.do("POST", "/api/sessions", []byte(`{"issueLink":true,"qr":"svg"}`), key)
	if again.status != http.StatusOK {
		t.Fatalf("replay = %d %s, want 200", again.status, again.body)
	}
	v := again.session(t) // rejects a link field
	if v.SessionID != first.startedOf(t).SessionID || v.Status != liveness.StatusLinkIssued {
		t.Errorf("replay answered %s %s, want the first session, linkIssued", v.SessionID, v.Status)
	}
	if n := gate.calls.Load(); n != 1 {
		t.Errorf("%d quick link calls, want 1", n)
	}
}

// When the quick link call fails, the start leaves nothing: the Face session is deleted, no row
// is left, and the answer is 503, also when the service refused the token it was just given (the
// start is undone, so a retry starts afresh: no link_unavailable here).
func TestStartSessionIssueLinkFailureLeavesNothing(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusUnauthorized} {
		t.Run(strconv.Itoa(status), func(t *testing.T) { testStartSessionIssueLinkFailure(t, status) })
	}
}

func testStartSessionIssueLinkFailure(t *testing.T, status int) {
	g := &quickLinkGate{retryAfter: 3}
	a := newApp(t, &appOptions{QuickLinks: g.wrap})
	g.refuse.Store(int64(status))
	before := a.rows()
	key := map[string]string{"Idempotency-Key": "link-fails-" + randomHex(t, 4)}
	for _, header := range []map[string]string{nil, key} {
		r := a.do("POST", "/api/sessions", []byte(`{"issueLink":true,"qr":"png"}`), header)
		r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
		if after := a.rows(); !mapsEqual(before, after) {
			t.Errorf("the table changed: %v → %v", before, after)
		}
	}
	stats := a.stub.Stats()
	if stats.Create != 2 || stats.Delete != 2 {
		t.Errorf("Face saw %d creates and %d deletes, want 2 and 2", stats.Create, stats.Delete)
	}
	tokens := a.stub.IssuedTokens()
	if len(tokens) != 2 {
		t.Fatalf("Face issued %d tokens, want 2", len(tokens))
	}
	for _, tok := range tokens {
		if id, _, live := a.stub.SessionByToken(tok); live {
			t.Errorf("Face session %s of a failed start is still live", id)
		}
	}
	// The key was released with the failed start: a retry once the service is back succeeds.
	g.refuse.Store(0)
	r := a.do("POST", "/api/sessions", []byte(`{"issueLink":true,"qr":"png"}`), key)
	if r.status != http.StatusCreated || r.startedOf(t).Link == nil {
		t.Errorf("retry = %d %.200s, want 201 with a link", r.status, r.body)
	}
}

func TestStartSessionQRNeedsIssueLink(t *testing.T) {
	a := newApp(t, nil)
	before := a.rows()
	for _, body := range []string{
		`{"qr":"svg"}`,
		`{"issueLink":false,"qr":"png"}`,
		`{"issueLink":true,"qr":"gif"}`,
		`{"issueLink":true,"qr":""}`,
		`{"issueLink":true,"qr":null}`,
		`{"issueLink":true,"qr":true}`,
	} {
		t.Run(body, func(t *testing.T) {
			r := a.on(t).do("POST", "/api/sessions", []byte(body), nil)
			r.wantProblem(t, http.StatusBadRequest, "invalid_request")
			if !strings.Contains(string(r.body), "qr") {
				t.Errorf("the problem does not name qr: %s", r.body)
			}
		})
	}
	if got := a.stub.Stats().Total; got != 0 {
		t.Errorf("the Face stand-in got %d requests, want none", got)
	}
	if after := a.rows(); !mapsEqual(before, after) {
		t.Errorf("the table changed: %v → %v", before, after)
	}
}
