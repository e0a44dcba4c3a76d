package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"

	"github.com/liveness-quicklink/functions/internal/testing/logsink"
)

const (
	testPublicURL = "http://127.0.0.1:8080"
	testKey       = "function-key-0123456789abcdef"
)

// testDemo is the demo's handler in front of a fake API.
type testDemo struct {
	t      *testing.T
	url    string
	api    *fakeAPI
	logs   *logsink.Buffer
	client *http.Client
}

func newTestDemo(t *testing.T, key string) *testDemo {
	t.Helper()
	api := newFakeAPI(t)
	td := serveDemo(t, api.url, key)
	td.api = api
	// Whatever a test did, no log line may hold the key, the link, its s value or an owner token.
	t.Cleanup(func() {
		secrets := []string{testKey, fakeLinkURL, fakeLinkID, "secret-signature"}
		if c := td.ownerCookie(); c != nil {
			secrets = append(secrets, c.Value)
		}
		for _, secret := range secrets {
			if strings.Contains(td.logs.String(), secret) {
				t.Errorf("a log line holds the secret %q:\n%s", secret, td.logs.String())
			}
		}
	})
	return td
}

// serveDemo serves the demo's handler in front of the API at apiURL, with the function key key.
func serveDemo(t *testing.T, apiURL, key string) *testDemo {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The client is the browser that presses Start: it keeps the cookies the demo sets.
	td := &testDemo{t: t, logs: &logsink.Buffer{}, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	d := &demo{
		api:       &apiClient{base: apiURL, functionKey: key, http: &http.Client{Timeout: 20 * time.Second}},
		publicURL: testPublicURL,
		links:     newLinkStore(time.Now),
		log:       slog.New(slog.NewJSONHandler(td.logs, nil)),
	}
	srv := httptest.NewServer(d.handler())
	t.Cleanup(srv.Close)
	td.url = srv.URL
	return td
}

// page is an answer of the demo, read in full.
type page struct {
	status int
	header http.Header
	body   string
	doc    *html.Node
}

func (td *testDemo) get(path string) *page { return td.send(http.MethodGet, path, nil) }

func (td *testDemo) send(method, path string, header http.Header) *page {
	td.t.Helper()
	req, err := http.NewRequest(method, td.url+path, nil)
	if err != nil {
		td.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := td.client.Do(req)
	if err != nil {
		td.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p := &page{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if p.doc, err = html.Parse(bytes.NewReader(b)); err != nil {
			td.t.Fatalf("%s %s: not HTML: %v", method, path, err)
		}
	}
	return p
}

// start presses Start and returns the session page's path.
func (td *testDemo) start() string {
	td.t.Helper()
	p := td.send(http.MethodPost, "/start", nil)
	if p.status != http.StatusSeeOther {
		td.t.Fatalf("POST /start = %d, want 303\n%s", p.status, p.body)
	}
	return p.header.Get("Location")
}

// ownerCookie is the owner cookie the test's browser holds for the session page of fakeID, or nil.
func (td *testDemo) ownerCookie() *http.Cookie {
	u, err := url.Parse(td.url + "/sessions/" + fakeID)
	if err != nil {
		td.t.Fatal(err)
	}
	for _, c := range td.client.Jar.Cookies(u) {
		if c.Name == ownerCookie {
			return c
		}
	}
	return nil
}

// byID is the element with id, or nil.
func (p *page) byID(id string) *html.Node {
	var found *html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode && attr(n, "id") == id {
			found = n
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	if p.doc != nil {
		walk(p.doc)
	}
	return found
}

// text is the text of element id, or "<no #id>".
func (p *page) text(id string) string {
	n := p.byID(id)
	if n == nil {
		return "<no #" + id + ">"
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func TestStartCallsStartSessionWithALinkAndAnSvgQRCode(t *testing.T) {
	for _, c := range []struct {
		name, key string
	}{{"with a function key", testKey}, {"without one", ""}} {
		t.Run(c.name, func(t *testing.T) {
			td := newTestDemo(t, c.key)
			if got := td.start(); got != "/sessions/"+fakeID {
				t.Errorf("POST /start went to %q, want /sessions/%s", got, fakeID)
			}
			want := []apiRequest{{Method: "POST", Path: "/api/sessions", ContentType: "application/json", FunctionKey: c.key,
				Body: map[string]any{"issueLink": true, "qr": "svg", "returnUrl": testPublicURL + "/return"}}}
			if diff := cmp.Diff(want, td.api.calls()); diff != "" {
				t.Errorf("the demo's calls to the function API (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionPageShowsTheLinkTheQRCodeAndTheStatus(t *testing.T) {
	td := newTestDemo(t, testKey)
	p := td.get(td.start())
	if p.status != http.StatusOK {
		t.Fatalf("session page = %d, want 200\n%s", p.status, p.body)
	}
	if got := p.text("session-id"); got != fakeID {
		t.Errorf("#session-id = %q, want %q", got, fakeID)
	}
	if got := p.text("status"); got != "linkIssued" {
		t.Errorf("#status = %q, want GetSession's linkIssued", got)
	}
	if a := p.byID("link"); a == nil || a.Data != "a" || attr(a, "href") != fakeLinkURL {
		t.Errorf("#link is not <a href=%q>:\n%s", fakeLinkURL, p.body)
	}
	if got := qrOf(t, p); got != fakeSvg {
		t.Errorf("the QR code in #qr is %q, want the API's qrSvg %q", got, fakeSvg)
	}
	for name, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
		if got := p.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q (the page holds a bearer link)", name, got, want)
		}
	}
	gets := 0
	for _, r := range td.api.calls() {
		if r.Method == "GET" && r.Path == "/api/sessions/"+fakeID && r.FunctionKey == testKey {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("GetSession calls with the function key = %d, want 1: %+v", gets, td.api.calls())
	}
}

// qrOf is the SVG markup inside #qr's image data URL ("" when there is none).
func qrOf(t *testing.T, p *page) string {
	t.Helper()
	qr := p.byID("qr")
	if qr == nil {
		t.Fatalf("the page has no #qr:\n%s", p.body)
	}
	for c := qr.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == "img" {
			b64, ok := strings.CutPrefix(attr(c, "src"), "data:image/svg+xml;base64,")
			if !ok {
				t.Fatalf("#qr img src = %.80q, want an SVG data URL", attr(c, "src"))
			}
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatalf("#qr img src: %v", err)
			}
			return string(b)
		}
	}
	return ""
}

// The QR markup is the API's output: a script in it must never become part of the page.
func TestSessionPageNeverInlinesTheAPIsMarkup(t *testing.T) {
	for _, c := range []struct{ name, svg, want string }{
		{"svg with a script", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`},
		{"not svg", `<img src=x onerror=alert(1)>`, ""},
		{"empty", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			td := newTestDemo(t, "")
			td.api.qrSvg = c.svg
			p := td.get(td.start())
			if got := qrOf(t, p); got != c.want {
				t.Errorf("QR image = %q, want %q", got, c.want)
			}
			if strings.Contains(p.body, "alert(1)") {
				t.Errorf("the API's markup reached the page as markup:\n%s", p.body)
			}
		})
	}
}

// A link that is not an http(s) URL is never put on the page.
func TestSessionPageShowsOnlyAWebLink(t *testing.T) {
	for _, link := range []string{"javascript:alert(1)", "data:text/html,x", "/relative?s=1", ""} {
		t.Run(link, func(t *testing.T) {
			td := newTestDemo(t, "")
			td.api.linkURL = link
			p := td.get(td.start())
			if p.byID("link") != nil || p.byID("qr") != nil {
				t.Errorf("link %q reached the page:\n%s", link, p.body)
			}
			if got := p.text("status"); got != "linkIssued" {
				t.Errorf("#status = %q, want linkIssued", got)
			}
		})
	}
}

func TestStatusEndpointReadsGetSession(t *testing.T) {
	td := newTestDemo(t, testKey)
	td.start()
	td.api.addSession("0b7e5a4c-1d2f-4e3a-9c8b-7a6f5e4d3c2b", "completed")
	for _, c := range []struct {
		name, path string
		status     int
		want       map[string]any
	}{
		{"live", "/api/sessions/" + fakeID + "/status", 200, map[string]any{"status": "linkIssued", "final": false}},
		{"final", "/api/sessions/0b7e5a4c-1d2f-4e3a-9c8b-7a6f5e4d3c2b/status", 200, map[string]any{"status": "completed", "final": true}},
		{"upper-case id", "/api/sessions/" + strings.ToUpper(fakeID) + "/status", 200, map[string]any{"status": "linkIssued", "final": false}},
		{"unknown", "/api/sessions/11111111-2222-4333-8444-555555555555/status", 404, map[string]any{"error": "session_not_found", "apiStatus": 404.0}},
		{"not a GUID", "/api/sessions/not-a-guid/status", 400, map[string]any{"error": "sessionId is not a GUID"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := td.get(c.path)
			if p.status != c.status || p.header.Get("Content-Type") != "application/json" {
				t.Errorf("GET %s = %d %s, want %d application/json", c.path, p.status, p.header.Get("Content-Type"), c.status)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(p.body), &got); err != nil {
				t.Fatalf("body %q: %v", p.body, err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("GET %s (-want +got):\n%s", c.path, diff)
			}
		})
	}
}

// The return page's status is GetSession's: a status written into its query changes nothing.
func TestReturnPageShowsGetSessionsStatusNotTheQuerys(t *testing.T) {
	td := newTestDemo(t, testKey)
	td.start()
	path := "/return?sessionId=" + fakeID + "&status=completed"
	p := td.get(path)
	if p.status != http.StatusOK {
		t.Fatalf("GET %s = %d\n%s", path, p.status, p.body)
	}
	if got := p.text("status"); got != "linkIssued" {
		t.Errorf("#status = %q with a forged status=completed in the query, want GetSession's linkIssued", got)
	}
	if p.byID("outcome") != nil || strings.Contains(p.body, "completed") {
		t.Errorf("the page shows an outcome or the forged status before the session is final:\n%s", p.body)
	}
	if got := attr(p.byID("session-id").Parent.Parent, "data-final"); got != "false" {
		t.Errorf("data-final = %q, want false: the page must keep polling", got)
	}

	passed := true
	td.api.finish(fakeID, "completed", map[string]any{"decision": "realface", "attemptCount": 1}, &passed)
	p = td.get("/return?sessionId=" + fakeID + "&status=failed")
	for id, want := range map[string]string{"session-id": fakeID, "status": "completed", "decision": "realface", "passed": "true"} {
		if got := p.text(id); got != want {
			t.Errorf("#%s = %q, want %q", id, got, want)
		}
	}
	if p.byID("outcome") == nil {
		t.Errorf("no #outcome on the final page:\n%s", p.body)
	}
}

func TestReturnPageShowsEveryFinalOutcome(t *testing.T) {
	no := false
	for _, c := range []struct {
		status  string
		outcome map[string]any
		passed  *bool
		want    string
	}{
		{"completed", map[string]any{"decision": "spoofface", "attemptCount": 1}, &no, "Decision: spoofface Passed: false"},
		{"failed", map[string]any{"attemptCount": 1, "failure": map[string]any{"code": "FaceWithMaskDetected"}}, &no, "Passed: false The attempt failed: FaceWithMaskDetected"},
		{"abandoned", nil, &no, "Passed: false No attempt finished."},
	} {
		t.Run(c.status, func(t *testing.T) {
			td := newTestDemo(t, "")
			td.start()
			td.api.finish(fakeID, c.status, c.outcome, c.passed)
			p := td.get("/return?sessionId=" + fakeID + "&status=completed")
			if got := p.text("status"); got != c.status {
				t.Errorf("#status = %q, want %q", got, c.status)
			}
			if got := p.text("outcome"); got != c.want {
				t.Errorf("#outcome = %q, want %q", got, c.want)
			}
		})
	}
}

func TestANonGUIDSessionIDIsA400PageWithoutAnAPICall(t *testing.T) {
	for _, path := range []string{
		"/sessions/not-a-guid",
		"/sessions/" + fakeID + "x",
		"/sessions/..%2Fhealth",
		"/return",
		"/return?sessionId=",
		"/return?sessionId=../health",
		"/return?sessionId=" + url.QueryEscape("{"+fakeID+"}"),
		"/return?sessionId=urn:uuid:" + fakeID,
	} {
		t.Run(path, func(t *testing.T) {
			td := newTestDemo(t, "")
			p := td.get(path)
			if p.status != http.StatusBadRequest || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
				t.Errorf("GET %s = %d %s, want a 400 page", path, p.status, p.header.Get("Content-Type"))
			}
			if got := p.text("error"); !strings.Contains(got, "GUID") {
				t.Errorf("the page says %q, want it to say the id must be a GUID", got)
			}
			if n := len(td.api.calls()); n != 0 {
				t.Errorf("%d calls to the function API, want none: %+v", n, td.api.calls())
			}
		})
	}
}

// A failed API call is a page with the API's status, problem code and title, and never the rest
// of its body, which might hold anything.
func TestAPIErrorsBecomeAClearPage(t *testing.T) {
	for _, c := range []struct {
		name, contentType, body string
		apiStatus, status       int
		want                    string
	}{
		{"problem", "application/problem+json", `{"type":"about:blank","title":"Upstream unavailable","status":503,"code":"upstream_unavailable","detail":"secret-detail token=abc"}`,
			503, 502, "The function API answered 503 upstream_unavailable: Upstream unavailable"},
		{"not a problem", "text/plain", "secret-detail token=abc", 500, 502, "The function API answered 500: Internal Server Error"},
		{"not found", "application/problem+json", `{"type":"about:blank","title":"Session not found","status":404,"code":"session_not_found","detail":"secret-detail"}`,
			404, 404, "The function API answered 404 session_not_found: Session not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			td := newTestDemo(t, testKey)
			td.api.fail(c.apiStatus, c.contentType, c.body)
			for _, path := range []string{"POST /start", "GET /sessions/" + fakeID, "GET /return?sessionId=" + fakeID} {
				method, target, _ := strings.Cut(path, " ")
				p := td.send(method, target, nil)
				if p.status != c.status {
					t.Errorf("%s = %d, want %d", path, p.status, c.status)
				}
				if got := p.text("api-error"); got != c.want {
					t.Errorf("%s: #api-error = %q, want %q", path, got, c.want)
				}
				if strings.Contains(p.body, "secret-detail") || strings.Contains(p.body, "token=abc") {
					t.Errorf("%s: the API's body reached the page:\n%s", path, p.body)
				}
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		td := serveDemo(t, dead.URL, testKey)
		p := td.send(http.MethodPost, "/start", nil)
		if p.status != http.StatusBadGateway || !strings.Contains(p.text("error"), "could not be reached") {
			t.Errorf("POST /start with the API down = %d %q, want 502 and that it could not be reached", p.status, p.text("error"))
		}
	})
}

// Another site's page cannot start sessions through the demo.
func TestCrossSiteStartIsRefused(t *testing.T) {
	td := newTestDemo(t, testKey)
	p := td.send(http.MethodPost, "/start", http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if p.status != http.StatusForbidden {
		t.Errorf("cross-site POST /start = %d, want 403", p.status)
	}
	if n := len(td.api.calls()); n != 0 {
		t.Errorf("%d calls to the function API, want none", n)
	}
}

func TestIndexHasTheStartButton(t *testing.T) {
	td := newTestDemo(t, "")
	p := td.get("/")
	b := p.byID("start")
	if p.status != 200 || b == nil || b.Data != "button" || p.text("start") != "Start a liveness check" {
		t.Fatalf("GET / = %d without <button id=start>Start a liveness check</button>:\n%s", p.status, p.body)
	}
	form := b.Parent
	if form.Data != "form" || attr(form, "method") != "post" || attr(form, "action") != "/start" {
		t.Errorf("the start button is not in a form that POSTs /start: <%s %v>", form.Data, form.Attr)
	}
	for _, asset := range []string{"/static/demo.css", "/static/poll.js"} {
		if a := td.get(asset); a.status != 200 || a.body == "" {
			t.Errorf("GET %s = %d", asset, a.status)
		}
	}
}

// run serves until its context ends, printing LISTENING once it accepts connections.
func TestRunPrintsListeningAndStopsOnCancel(t *testing.T) {
	api := newFakeAPI(t)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-api", api.url + "/"}, pw, slog.New(slog.DiscardHandler))
		pw.Close()
	}()
	line := make([]byte, 64)
	n, err := pr.Read(line)
	if err != nil {
		t.Fatalf("reading LISTENING: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(string(line[:n])), "LISTENING ")
	if !ok {
		t.Fatalf("first line %q, want LISTENING <host:port>", line[:n])
	}
	go io.Copy(io.Discard, pr)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("GET /: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET / = %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop within 10 s of its context ending")
	}
}

func TestRunRefusesBadURLs(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-api", "localhost:7071"},
		{"-api", "ftp://x"},
		{"-api", "http://127.0.0.1:7071?x=1"},
		{"-api", "http://127.0.0.1:7071", "-public-url", "javascript:alert(1)"},
	} {
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, slog.New(slog.DiscardHandler))
		if err == nil {
			t.Errorf("run %q succeeded, want an error", args)
		}
	}
}

// Session ids are not secret (log lines, the returnUrl's query, events), so the session page
// shows the link, a bearer secret, and its QR code only to the browser that pressed Start.
func TestSessionPageShowsTheLinkOnlyToTheBrowserThatStartedIt(t *testing.T) {
	td := newTestDemo(t, "")
	path := td.start()
	owner := td.ownerCookie()
	if owner == nil {
		t.Fatalf("POST /start set no %s cookie for %s", ownerCookie, path)
	}
	other, err := url.Parse(td.url + "/return")
	if err != nil {
		t.Fatal(err)
	}
	if cs := td.client.Jar.Cookies(other); len(cs) != 0 {
		t.Errorf("the owner cookie is sent beyond the session page: %v", cs)
	}

	for _, c := range []struct {
		name   string
		cookie string // "" sends none
		shown  bool
	}{
		{"the browser that started it", owner.Value, true},
		{"another client without a cookie", "", false},
		{"a wrong cookie value", newOwnerToken(), false},
		{"the right value with one more character", owner.Value + "A", false},
		{"the right value cut short", owner.Value[:len(owner.Value)-1], false},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, td.url+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.cookie != "" {
				req.AddCookie(&http.Cookie{Name: ownerCookie, Value: c.cookie})
			}
			resp, err := http.DefaultClient.Do(req) // no jar: only the cookie set above
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			doc, err := html.Parse(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			p := &page{status: resp.StatusCode, header: resp.Header, body: string(b), doc: doc}
			if p.status != http.StatusOK || p.text("status") != "linkIssued" || p.text("session-id") != fakeID {
				t.Errorf("GET %s = %d #session-id %q #status %q, want 200 with the session and linkIssued", path, p.status, p.text("session-id"), p.text("status"))
			}
			if c.shown {
				if a := p.byID("link"); a == nil || attr(a, "href") != fakeLinkURL {
					t.Errorf("the starting browser gets no #link %q:\n%s", fakeLinkURL, p.body)
				}
				if got := qrOf(t, p); got != fakeSvg {
					t.Errorf("the starting browser's QR code = %q, want %q", got, fakeSvg)
				}
				return
			}
			if p.byID("link") != nil || p.byID("qr") != nil || strings.Contains(p.body, fakeLinkID) || strings.Contains(p.body, "base64,") {
				t.Errorf("the link or its QR code reached a browser that did not start the session:\n%s", p.body)
			}
			if got := p.text("link-note"); !strings.Contains(got, "only in the browser that started") {
				t.Errorf("#link-note = %q, want it to say the link is shown only in the browser that started the session", got)
			}
		})
	}
}

// The owner cookie: random 32 bytes, base64url, kept from scripts and from other sites'
// requests, scoped to the session's page, and Secure when the demo is reached over https.
func TestStartSetsAStrictHttpOnlyOwnerCookieForTheSessionPage(t *testing.T) {
	for _, c := range []struct {
		publicURL string
		secure    bool
	}{{"http://127.0.0.1:8080", false}, {"https://demo.example.test", true}} {
		t.Run(c.publicURL, func(t *testing.T) {
			api := newFakeAPI(t)
			d := &demo{api: &apiClient{base: api.url, http: &http.Client{Timeout: 20 * time.Second}},
				publicURL: c.publicURL, links: newLinkStore(time.Now), log: slog.New(slog.DiscardHandler)}
			var values []string
			for range 2 {
				rec := httptest.NewRecorder()
				d.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/start", nil))
				cs := rec.Result().Cookies()
				if rec.Code != http.StatusSeeOther || len(cs) != 1 {
					t.Fatalf("POST /start = %d with cookies %v, want 303 and one cookie", rec.Code, cs)
				}
				got := cs[0]
				want := http.Cookie{Name: ownerCookie, Value: got.Value, Path: "/sessions/" + fakeID,
					HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure}
				if diff := cmp.Diff(want, *got, cmp.FilterPath(func(p cmp.Path) bool {
					return p.Last().String() == ".Raw" || p.Last().String() == ".Quoted"
				}, cmp.Ignore())); diff != "" {
					t.Errorf("owner cookie (-want +got):\n%s", diff)
				}
				if b, err := base64.RawURLEncoding.DecodeString(got.Value); err != nil || len(b) != 32 {
					t.Errorf("owner cookie value %q is not 32 bytes of base64url (%d bytes, %v)", got.Value, len(b), err)
				}
				values = append(values, got.Value)
			}
			if values[0] == values[1] {
				t.Errorf("two Starts set the same owner value %q", values[0])
			}
		})
	}
}
