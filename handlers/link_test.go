package handlers

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/liveness-quicklink/functions/internal/callbackurl"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// checkLink fails t unless link is sess's quick link as the contract composes it:
// {quickURL}/?s=<an issued GUID>&callbackUrl=<a callback URL signed for sess until its expiry
// plus the grace period>, with exactly one "&".
func (a *app) checkLink(t *testing.T, sess sessionView, link linkView) {
	t.Helper()
	if link.ExpiresAt != sess.ExpiresAt {
		t.Errorf("link expiresAt = %q, want the session's %q", link.ExpiresAt, sess.ExpiresAt)
	}
	rest, ok := strings.CutPrefix(link.URL, a.quickURL+"/?s=")
	if !ok {
		t.Fatalf("link %q does not start with %s/?s=", link.URL, a.quickURL)
	}
	if n := strings.Count(link.URL, "&"); n != 1 {
		t.Errorf("link has %d '&', want exactly 1", n)
	}
	s, cb, ok := strings.Cut(rest, "&callbackUrl=")
	if !ok {
		t.Fatalf("link has no &callbackUrl= after s")
	}
	if !guidPattern.MatchString(s) || !slices.Contains(a.quick.IssuedLinkIDs(), s) {
		t.Errorf("s = %q, want a GUID the quick link service issued", s)
	}
	callback, err := url.QueryUnescape(cb)
	if err != nil {
		t.Fatalf("callbackUrl is not percent-encoded: %v", err)
	}
	u, err := url.Parse(callback)
	if err != nil {
		t.Fatalf("callbackUrl %q: %v", callback, err)
	}
	if want := "https://liveness.example.net/api/callback/" + sess.SessionID; u.Scheme+"://"+u.Host+u.Path != want {
		t.Errorf("callbackUrl = %s, want %s?exp=…&sig=…", u.Redacted(), want)
	}
	signer, err := callbackurl.NewSigner([][]byte{a.signingKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := signer.Verify(sess.SessionID, u.Query(), a.clock.Now()); err != nil {
		t.Errorf("callbackUrl does not verify for the session: %v", err)
	}
	expires, err := time.Parse(time.RFC3339Nano, sess.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Query().Get("exp"), strconv.FormatInt(expires.Add(2*time.Minute).Unix(), 10); got != want {
		t.Errorf("exp = %s, want the session's expiry plus the 2 min grace, %s", got, want)
	}
}

// checkNoToken fails t unless the stored row of id is linkIssued and holds no Face auth token.
func (a *app) checkNoToken(t *testing.T, id string) {
	t.Helper()
	a.checkTokenless(t, id, liveness.StatusLinkIssued)
}

func TestIssueLink(t *testing.T) {
	a, gate := newLinkApp(t)
	sess := a.start(`{"ttlSeconds":900}`)
	if row := a.rawSession(sess.SessionID); row["AuthToken"] == nil {
		t.Fatalf("a created session's row holds no token: the check below would prove nothing")
	}
	r := a.link(sess.SessionID, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("IssueLink = %d %s, want 201", r.status, r.body)
	}
	link := r.linkOf(t)
	a.checkLink(t, sess, link)
	if link.QRSVG != "" || link.QRPNG != "" {
		t.Errorf("a QR code came without being asked for")
	}
	a.checkNoToken(t, sess.SessionID)
	got := a.do("GET", "/api/sessions/"+sess.SessionID, nil, nil).session(t)
	if got.Status != liveness.StatusLinkIssued || got.LinkIssuedAt != timestamp(a.clock.Now()) {
		t.Errorf("GetSession status %s linkIssuedAt %q, want linkIssued at %s", got.Status, got.LinkIssuedAt, timestamp(a.clock.Now()))
	}
	if n := gate.calls.Load(); n != 1 {
		t.Errorf("%d quick link calls, want 1", n)
	}
}

// decodeQR reads a QR code image with ZXing.
func decodeQR(t *testing.T, raw []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("qrPng is not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("the QR code does not read: %v", err)
	}
	return res.GetText()
}

func TestIssueLinkQRCodes(t *testing.T) {
	a, _ := newLinkApp(t)
	tests := []struct {
		qr    string
		check func(t *testing.T, link linkView)
	}{
		{"svg", func(t *testing.T, link linkView) {
			if !strings.HasPrefix(link.QRSVG, "<svg ") || !strings.HasSuffix(link.QRSVG, "</svg>") || link.QRPNG != "" {
				t.Errorf("qrSvg %.60q… qrPng %d bytes, want an SVG document and no PNG", link.QRSVG, len(link.QRPNG))
			}
		}},
		{"png", func(t *testing.T, link linkView) {
			raw, err := base64.StdEncoding.Strict().DecodeString(link.QRPNG)
			if err != nil || link.QRSVG != "" {
				t.Fatalf("qrPng is not standard base64 (%v), or an SVG came too", err)
			}
			if got := decodeQR(t, raw); got != link.URL {
				t.Errorf("the QR code reads %q, want the link", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.qr, func(t *testing.T) {
			a := a.on(t)
			sess := a.start(`{}`)
			r := a.link(sess.SessionID, []byte(`{"qr":"`+tt.qr+`"}`))
			if r.status != http.StatusCreated {
				t.Fatalf("IssueLink = %d %s, want 201", r.status, r.body)
			}
			link := r.linkOf(t)
			a.checkLink(t, sess, link)
			tt.check(t, link)
		})
	}
}

func TestIssueLinkRefusals(t *testing.T) {
	a, gate := newLinkApp(t)
	issued := a.start(`{}`)
	if r := a.link(issued.SessionID, nil); r.status != http.StatusCreated {
		t.Fatalf("first IssueLink = %d %s", r.status, r.body)
	}
	canceled := a.start(`{}`)
	if r := a.do("DELETE", "/api/sessions/"+canceled.SessionID, nil, nil); r.status != http.StatusOK {
		t.Fatalf("cancel = %d %s", r.status, r.body)
	}
	fresh := a.start(`{}`)
	tests := []struct {
		name, path string
		body       string
		header     map[string]string
		status     int
		code       string
	}{
		{"second link", "/api/sessions/" + issued.SessionID + "/link", "", nil, 409, "link_already_issued"},
		{"second link with a QR code", "/api/sessions/" + issued.SessionID + "/link", `{"qr":"png"}`, nil, 409, "link_already_issued"},
		{"finished session", "/api/sessions/" + canceled.SessionID + "/link", "", nil, 409, "session_finalized"},
		{"unknown session", "/api/sessions/00000000-0000-4000-8000-000000000000/link", "", nil, 404, "session_not_found"},
		{"not a session id", "/api/sessions/not-a-guid/link", "", nil, 400, "invalid_request"},
		{"bad qr", "/api/sessions/" + fresh.SessionID + "/link", `{"qr":"gif"}`, nil, 400, "invalid_request"},
		{"qr in capitals", "/api/sessions/" + fresh.SessionID + "/link", `{"qr":"SVG"}`, nil, 400, "invalid_request"},
		{"qr null", "/api/sessions/" + fresh.SessionID + "/link", `{"qr":null}`, nil, 400, "invalid_request"},
		{"qr not a string", "/api/sessions/" + fresh.SessionID + "/link", `{"qr":1}`, nil, 400, "invalid_request"},
		{"unknown field", "/api/sessions/" + fresh.SessionID + "/link", `{"qr":"svg","size":3}`, nil, 400, "invalid_request"},
		{"duplicate field", "/api/sessions/" + fresh.SessionID + "/link", `{"qr":"svg","qr":"png"}`, nil, 400, "invalid_request"},
		{"not an object", "/api/sessions/" + fresh.SessionID + "/link", `["svg"]`, nil, 400, "invalid_request"},
		{"too large", "/api/sessions/" + fresh.SessionID + "/link", `{"qr":"svg"` + strings.Repeat(" ", 2000) + `}`, nil, 413, "payload_too_large"},
		{"not JSON", "/api/sessions/" + fresh.SessionID + "/link", `qr=svg`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := a.on(t)
			before, calls := a.rows(), gate.calls.Load()
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			a.do("POST", tt.path, body, tt.header).wantProblem(t, tt.status, tt.code)
			if n := gate.calls.Load() - calls; n != 0 {
				t.Errorf("%d quick link calls, want none", n)
			}
			if after := a.rows(); !mapsEqual(before, after) {
				t.Errorf("the table changed: %v → %v", before, after)
			}
		})
	}
	// The refused requests left the fresh session as it was: it still gets its link.
	if r := a.link(fresh.SessionID, nil); r.status != http.StatusCreated {
		t.Errorf("IssueLink after the refusals = %d %s, want 201", r.status, r.body)
	}
}

// A failing quick link service (throttling, a timeout, 5xx) is a 503 with its Retry-After carried
// through; nothing is recorded, the token is kept, and the session still gets its link once the
// service is back. A refusal for good is TestIssueLinkTokenRefused.
func TestIssueLinkQuickLinkFailure(t *testing.T) {
	for _, status := range []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			g := &quickLinkGate{retryAfter: 7}
			a := newApp(t, &appOptions{QuickLinks: g.wrap})
			sess := a.start(`{}`)
			before := a.rows()
			g.refuse.Store(int64(status))
			r := a.link(sess.SessionID, []byte(`{"qr":"svg"}`))
			r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
			if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); status == http.StatusTooManyRequests && ra < 7 {
				t.Errorf("Retry-After = %q, want at least the service's 7", r.header.Get("Retry-After"))
			}
			if after := a.rows(); !mapsEqual(before, after) {
				t.Errorf("the table changed: %v → %v", before, after)
			}
			if bytes.Contains(r.body, []byte("refused by the test")) || bytes.Contains(a.logs.Bytes(), []byte("refused by the test")) {
				t.Errorf("the quick link service's answer reached the answer or the log")
			}
			g.refuse.Store(0)
			if r := a.link(sess.SessionID, nil); r.status != http.StatusCreated {
				t.Errorf("IssueLink once the service is back = %d %s, want 201", r.status, r.body)
			}
		})
	}
}

// Concurrent requests for one session: one link, issued once; every other request hears 409.
func TestIssueLinkConcurrent(t *testing.T) {
	a, gate := newLinkApp(t)
	sess := a.start(`{}`)
	const n = 20
	statuses := make([]int, n)
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := a.request("POST", "/api/sessions/"+sess.SessionID+"/link", nil, nil)
			resp, body, err := roundTrip(a.client, req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			statuses[i] = resp.StatusCode
			if resp.StatusCode != http.StatusCreated {
				r := &reply{status: resp.StatusCode, header: resp.Header, body: body}
				r.wantProblem(t, http.StatusConflict, "link_already_issued")
				codes[i] = "checked"
			}
		})
	}
	wg.Wait()
	if got := countOf(statuses, http.StatusCreated); got != 1 {
		t.Errorf("%d answers were 201, want exactly 1 (statuses %v)", got, statuses)
	}
	if got := countOf(statuses, http.StatusConflict); got != n-1 {
		t.Errorf("%d answers were 409, want %d", got, n-1)
	}
	if got := len(a.quick.IssuedLinkIDs()); got != 1 {
		t.Errorf("the quick link service made %d links, want 1", got)
	}
	if got := gate.calls.Load(); got != 1 {
		t.Errorf("%d quick link calls, want 1", got)
	}
	a.checkNoToken(t, sess.SessionID)
}

func countOf(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

// Another instance records its link while this one's quick link call is in flight: this one's
// conditional write fails, and it answers 409 without ever showing its own link.
func TestIssueLinkLosesTheWriteToAnotherInstance(t *testing.T) {
	a, gate := newLinkApp(t)
	sess := a.start(`{}`)
	gate.onNextCall(func(*http.Request) {
		other := a.storedSession(sess.SessionID)
		if _, err := other.IssueLink(a.clock.Now()); err != nil {
			t.Errorf("the other instance's IssueLink: %v", err)
		}
		if err := a.store.UpdateSession(t.Context(), other); err != nil {
			t.Errorf("the other instance's write: %v", err)
		}
	})
	r := a.link(sess.SessionID, nil)
	r.wantProblem(t, http.StatusConflict, "link_already_issued")
	if got := len(a.quick.IssuedLinkIDs()); got != 1 {
		t.Fatalf("the quick link service made %d links, want this request's 1", got)
	}
	if id := a.quick.IssuedLinkIDs()[0]; bytes.Contains(r.body, []byte(id)) {
		t.Errorf("the losing link reached the answer")
	}
	a.checkNoToken(t, sess.SessionID)
}

// Another instance swapped the token first: the service refuses this one's call, and once the
// other link is recorded the answer is 409, not 503.
func TestIssueLinkRefusedAfterAnotherInstance(t *testing.T) {
	a, gate := newLinkApp(t)
	sess := a.start(`{}`)
	gate.onNextCall(func(r *http.Request) {
		// The other instance: its quick link call with the same token, then its write.
		other := httptest.NewRequest("POST", "/api/quicklink", nil)
		other.Header.Set("Authorization", r.Header.Get("Authorization"))
		rec := httptest.NewRecorder()
		a.quick.ServeHTTP(rec, other)
		if rec.Code != http.StatusOK {
			t.Errorf("the other instance's quick link call = %d", rec.Code)
		}
		o := a.storedSession(sess.SessionID)
		if _, err := o.IssueLink(a.clock.Now()); err != nil {
			t.Errorf("the other instance's IssueLink: %v", err)
		}
		if err := a.store.UpdateSession(t.Context(), o); err != nil {
			t.Errorf("the other instance's write: %v", err)
		}
	})
	a.link(sess.SessionID, nil).wantProblem(t, http.StatusConflict, "link_already_issued")
	if got := len(a.quick.IssuedLinkIDs()); got != 1 {
		t.Errorf("the quick link service made %d links, want the other instance's 1", got)
	}
	a.checkNoToken(t, sess.SessionID)
}
