package quicklinkstub_test

import (
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/standin/quicklinkstub"
	"github.com/liveness-quicklink/functions/internal/testing/fakeclock"
	"github.com/liveness-quicklink/functions/internal/testing/logsink"
)

const (
	livenessPath = "/face/v1.2/detectLiveness-sessions"
	verifyPath   = "/face/v1.2/detectLivenessWithVerify-sessions"
	// callbackURL is shaped like the handler's signed callback, with characters html/template would
	// re-encode (' and parentheses), to prove the return leaves it unchanged.
	callbackURL = "http://127.0.0.1:7071/api/callback/3f2a?exp=1767225600&sig=Ab-_x%2By(1)'z"
)

// env is both stand-ins on one listener, routed as cmd/standin routes them.
type env struct {
	face   *facestub.Server
	quick  *quicklinkstub.Server
	clock  *fakeclock.Clock
	logs   *logsink.Buffer
	srv    *httptest.Server
	client *http.Client // follows no redirects
}

func newEnv(t *testing.T, st quicklinkstub.Settings) *env {
	t.Helper()
	e := &env{clock: fakeclock.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)), logs: &logsink.Buffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	e.face = facestub.New(&facestub.Options{Now: e.clock.Now, Logger: log})
	e.quick = quicklinkstub.New(e.face, &quicklinkstub.Options{Now: e.clock.Now, Logger: log, Settings: st})
	mux := http.NewServeMux()
	mux.Handle("/face/", e.face)
	mux.Handle("/_stub/", e.face)
	mux.Handle("/", e.quick)
	e.srv = httptest.NewServer(mux)
	e.client = &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(func() {
		e.face.Close()
		e.srv.Close()
	})
	return e
}

type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", req.Method, req.URL.Path, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (e *env) do(t *testing.T, method, path, contentType, body string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("request %s %s: %v", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return e.send(t, req)
}

// session creates a Face liveness session through the Face routes and returns its id and token.
func (e *env) session(t *testing.T) (id, token string) {
	t.Helper()
	r := e.do(t, http.MethodPost, livenessPath, "application/json",
		`{"livenessOperationMode":"Passive","deviceCorrelationId":"d"}`, http.Header{"Ocp-Apim-Subscription-Key": {"k"}})
	if r.status != http.StatusOK {
		t.Fatalf("create Face session: %d %s", r.status, r.body)
	}
	var s struct{ SessionID, AuthToken string }
	if err := json.Unmarshal([]byte(r.body), &s); err != nil {
		t.Fatalf("decode Face session: %v", err)
	}
	return s.SessionID, s.AuthToken
}

// quicklink swaps token for a link and returns the raw answer.
func (e *env) quicklink(t *testing.T, token string) response {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return e.do(t, http.MethodPost, "/api/quicklink", "", "", h)
}

// link makes a Face session and its quick link, and returns the session id and the link id s.
func (e *env) link(t *testing.T) (sessionID, s string) {
	t.Helper()
	sessionID, token := e.session(t)
	return sessionID, e.linkFor(t, token)
}

// linkFor swaps token for a quick link and returns its link id s.
func (e *env) linkFor(t *testing.T, token string) string {
	t.Helper()
	r := e.quicklink(t, token)
	if r.status != http.StatusOK {
		t.Fatalf("POST /api/quicklink: %d %s", r.status, r.body)
	}
	var out struct{ URL string }
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatalf("decode quick link: %v", err)
	}
	s, ok := strings.CutPrefix(out.URL, "/?s=")
	if !ok || s == "" {
		t.Fatalf("quick link url = %q, want /?s=<id>", out.URL)
	}
	return s
}

func (e *env) open(t *testing.T, s, callback string) response {
	t.Helper()
	q := "s=" + url.QueryEscape(s)
	if callback != "" {
		q += "&callbackUrl=" + url.QueryEscape(callback)
	}
	return e.do(t, http.MethodGet, "/?"+q, "", "", nil)
}

func (e *env) capture(t *testing.T, s, form string) response {
	t.Helper()
	return e.do(t, http.MethodPost, "/capture/"+url.PathEscape(s), "application/x-www-form-urlencoded", form, nil)
}

type attempt struct {
	AttemptID     int
	AttemptStatus string
	Result        *struct{ LivenessDecision, Digest string }
	Error         *struct{ Code string }
}

// attempts reads the session's attempts back through the Face GET route.
func (e *env) attempts(t *testing.T, sessionID string) []attempt {
	t.Helper()
	r := e.do(t, http.MethodGet, livenessPath+"/"+sessionID, "", "", http.Header{"Ocp-Apim-Subscription-Key": {"k"}})
	if r.status != http.StatusOK {
		t.Fatalf("GET Face session: %d %s", r.status, r.body)
	}
	var s struct{ Results struct{ Attempts []attempt } }
	if err := json.Unmarshal([]byte(r.body), &s); err != nil {
		t.Fatalf("decode Face session: %v", err)
	}
	return s.Results.Attempts
}

func wantGone(t *testing.T, what string, r response) {
	t.Helper()
	if r.status != http.StatusGone || !strings.Contains(r.body, "link already used") {
		t.Errorf("%s: %d %q, want 410 with \"link already used\"", what, r.status, r.body)
	}
}

var (
	returnFormRE = regexp.MustCompile(`<form id="return" method="post" action="([^"]*)">`)
	hiddenRE     = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// returnForm is the post mode page's form target and hidden fields, as a browser reads them.
func returnForm(t *testing.T, body string) (action string, fields url.Values) {
	t.Helper()
	m := returnFormRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no <form id=\"return\" method=\"post\" action=...> in %s", body)
	}
	fields = url.Values{}
	for _, h := range hiddenRE.FindAllStringSubmatch(body, -1) {
		fields.Add(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return html.UnescapeString(m[1]), fields
}
