package quicklinkstub_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/standin/quicklinkstub"
)

func TestCapturePageOffersTheFiveOutcomes(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{})
	_, s := e.link(t)
	r := e.open(t, s, callbackURL)
	if r.status != http.StatusOK {
		t.Fatalf("GET capture page: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	for _, want := range []string{
		`<form class="outcomes" method="post" action="/capture/` + s + `">`,
		`<button type="submit" name="outcome" value="realface" id="realface">Real face</button>`,
		`<button type="submit" name="outcome" value="spoofface" id="spoofface">Spoof</button>`,
		`<button type="submit" name="outcome" value="uncertain" id="uncertain">Uncertain</button>`,
		`<button type="submit" name="outcome" value="error" id="error">Attempt error</button>`,
		`<button type="submit" name="outcome" value="abandon" id="abandon">Abandon</button>`,
		`<p class="kind" id="kind">Liveness session</p>`,
		`name="viewport"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("capture page lacks %s", want)
		}
	}
	if strings.Contains(r.body, "http://") || strings.Contains(r.body, "https://") || strings.Contains(r.body, "src=") {
		t.Errorf("capture page refers to outside assets or the callbackUrl:\n%s", r.body)
	}
	if got := r.header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy = %q, want no-referrer (the page URL is a bearer secret)", got)
	}
}

func TestCapturePageNamesAVerifySession(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("livenessOperationMode", "Passive")
	mw.WriteField("deviceCorrelationId", "d")
	fw, _ := mw.CreateFormFile("verifyImage", "face.jpg")
	fw.Write(append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 2044)...)) // starts like a JPEG
	mw.Close()
	r := e.do(t, http.MethodPost, verifyPath, mw.FormDataContentType(), body.String(),
		http.Header{"Ocp-Apim-Subscription-Key": {"k"}})
	if r.status != http.StatusOK {
		t.Fatalf("create verify session: %d %s", r.status, r.body)
	}
	var sess struct{ AuthToken string }
	if err := json.Unmarshal([]byte(r.body), &sess); err != nil {
		t.Fatalf("decode verify session: %v", err)
	}
	s := e.linkFor(t, sess.AuthToken)
	page := e.open(t, s, callbackURL)
	if !strings.Contains(page.body, `<p class="kind" id="kind">Liveness with verify session</p>`) {
		t.Errorf("capture page of a verify session: %d, lacks its kind:\n%s", page.status, page.body)
	}
}

// wantAttempt is what an outcome leaves in the Face session; nil for abandon.
func wantAttempt(outcome string) *attempt {
	switch outcome {
	case "abandon":
		return nil
	case "error":
		return &attempt{AttemptID: 1, AttemptStatus: "Failed", Error: &struct{ Code string }{"FaceWithMaskDetected"}}
	}
	return &attempt{AttemptID: 1, AttemptStatus: "Succeeded",
		Result: &struct{ LivenessDecision, Digest string }{LivenessDecision: outcome}}
}

func TestCaptureRecordsTheOutcomeAndReturns(t *testing.T) {
	for _, mode := range []quicklinkstub.ReturnMode{quicklinkstub.ReturnGet, quicklinkstub.ReturnPost} {
		for _, appendParams := range []bool{false, true} {
			for _, outcome := range []string{"realface", "spoofface", "uncertain", "error", "abandon"} {
				name := fmt.Sprintf("%s/append=%v/%s", mode, appendParams, outcome)
				t.Run(name, func(t *testing.T) {
					e := newEnv(t, quicklinkstub.Settings{ReturnMode: mode, AppendParams: appendParams})
					sessionID, s := e.link(t)
					if r := e.open(t, s, callbackURL); r.status != http.StatusOK {
						t.Fatalf("GET capture page: %d %s", r.status, r.body)
					}
					r := e.capture(t, s, "outcome="+outcome)

					params := url.Values{}
					wantLocation := callbackURL
					if appendParams {
						ts := strconv.FormatInt(e.clock.Now().Unix(), 10)
						params = url.Values{"sessionId": {sessionID}, "result": {outcome}, "timestamp": {ts}}
						wantLocation += "&sessionId=" + sessionID + "&result=" + outcome + "&timestamp=" + ts
					}
					switch mode {
					case quicklinkstub.ReturnGet:
						if r.status != http.StatusSeeOther {
							t.Fatalf("capture: %d %s, want 303", r.status, r.body)
						}
						if got := r.header.Get("Location"); got != wantLocation {
							t.Errorf("Location = %q, want %q", got, wantLocation)
						}
					case quicklinkstub.ReturnPost:
						if r.status != http.StatusOK {
							t.Fatalf("capture: %d %s, want 200", r.status, r.body)
						}
						action, fields := returnForm(t, r.body)
						if action != callbackURL {
							t.Errorf("form action = %q, want the callbackUrl %q unchanged", action, callbackURL)
						}
						if diff := cmp.Diff(params, fields); diff != "" {
							t.Errorf("hidden fields (-want +got):\n%s", diff)
						}
						if !strings.Contains(r.body, `<script>document.getElementById("return").submit();</script>`) {
							t.Errorf("return page has no auto-submit script:\n%s", r.body)
						}
						if !strings.Contains(r.body, `<noscript><button type="submit">`) {
							t.Errorf("return page has no button for browsers without scripts:\n%s", r.body)
						}
					}

					got := e.attempts(t, sessionID)
					want := wantAttempt(outcome)
					if want == nil {
						if len(got) != 0 {
							t.Errorf("attempts after abandon = %+v, want none", got)
						}
						return
					}
					if len(got) != 1 {
						t.Fatalf("attempts = %+v, want exactly one", got)
					}
					if got[0].Result != nil && got[0].Result.Digest == "" {
						t.Errorf("succeeded attempt has no digest")
					}
					if got[0].Result != nil {
						got[0].Result.Digest = ""
					}
					if diff := cmp.Diff(*want, got[0]); diff != "" {
						t.Errorf("attempt (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

func TestCaptureKeepsTheFirstCallbackURL(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{})
	_, s := e.link(t)
	if r := e.open(t, s, callbackURL); r.status != http.StatusOK {
		t.Fatalf("first GET: %d %s", r.status, r.body)
	}
	if r := e.open(t, s, "https://evil.example/steal"); r.status != http.StatusBadRequest {
		t.Errorf("GET with another callbackUrl: %d, want 400", r.status)
	}
	if r := e.open(t, s, ""); r.status != http.StatusOK {
		t.Errorf("reload without callbackUrl: %d, want 200", r.status)
	}
	r := e.do(t, http.MethodPost, "/capture/"+s+"?callbackUrl="+url.QueryEscape("https://evil.example/"),
		"application/x-www-form-urlencoded", "outcome=realface&callbackUrl=https%3A%2F%2Fevil.example%2F", nil)
	if got := r.header.Get("Location"); r.status != http.StatusSeeOther || got != callbackURL {
		t.Errorf("capture with a callbackUrl of its own: %d Location %q, want 303 to %q", r.status, got, callbackURL)
	}
}

func TestCaptureWithoutCallbackURLShowsDone(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{})
	sessionID, s := e.link(t)
	if r := e.open(t, s, ""); r.status != http.StatusOK {
		t.Fatalf("GET without callbackUrl: %d %s", r.status, r.body)
	}
	r := e.capture(t, s, "outcome=realface")
	if r.status != http.StatusOK || r.header.Get("Location") != "" || !strings.Contains(r.body, "close this window") {
		t.Errorf("capture without callbackUrl: %d %q, want 200 done page", r.status, r.body)
	}
	if n := len(e.attempts(t, sessionID)); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
}

func TestUsedLinkIsGone(t *testing.T) {
	for _, outcome := range []string{"realface", "abandon"} {
		t.Run(outcome, func(t *testing.T) {
			e := newEnv(t, quicklinkstub.Settings{})
			sessionID, s := e.link(t)
			e.open(t, s, callbackURL)
			if r := e.capture(t, s, "outcome="+outcome); r.status != http.StatusSeeOther {
				t.Fatalf("first capture: %d %s", r.status, r.body)
			}
			before := len(e.attempts(t, sessionID))
			wantGone(t, "GET after use", e.open(t, s, callbackURL))
			wantGone(t, "second capture", e.capture(t, s, "outcome=spoofface"))
			if after := len(e.attempts(t, sessionID)); after != before {
				t.Errorf("attempts after reuse = %d, want %d", after, before)
			}
		})
	}
}

func TestUnknownLinkIsGone(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{})
	e.link(t)
	for _, s := range []string{"00000000-0000-0000-0000-000000000000", "nope", "%2e%2e"} {
		wantGone(t, "GET /?s="+s, e.do(t, http.MethodGet, "/?s="+s+"&callbackUrl="+url.QueryEscape(callbackURL), "", "", nil))
		wantGone(t, "POST /capture/"+s, e.capture(t, s, "outcome=realface"))
	}
}

func TestLinkDiesWithItsSession(t *testing.T) {
	t.Run("deleted", func(t *testing.T) {
		e := newEnv(t, quicklinkstub.Settings{})
		sessionID, s := e.link(t)
		e.open(t, s, callbackURL)
		r := e.do(t, http.MethodDelete, livenessPath+"/"+sessionID, "", "", http.Header{"Ocp-Apim-Subscription-Key": {"k"}})
		if r.status != http.StatusNoContent {
			t.Fatalf("DELETE Face session: %d %s", r.status, r.body)
		}
		wantGone(t, "GET after delete", e.open(t, s, callbackURL))
		wantGone(t, "capture after delete", e.capture(t, s, "outcome=realface"))
	})
	t.Run("expired", func(t *testing.T) {
		e := newEnv(t, quicklinkstub.Settings{})
		_, s := e.link(t)
		e.open(t, s, callbackURL)
		e.clock.Advance(48*3600*1e9 + 1)
		wantGone(t, "GET after expiry", e.open(t, s, callbackURL))
		wantGone(t, "capture after expiry", e.capture(t, s, "outcome=realface"))
	})
}

func TestInvalidOutcomeIsRejectedAndLeavesTheLinkUsable(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{})
	sessionID, s := e.link(t)
	e.open(t, s, callbackURL)
	for _, form := range []string{"", "outcome=", "outcome=REALFACE", "outcome=bogus", "outcome=realface&outcome=spoofface",
		"result=realface", "outcome=%zz"} {
		if r := e.capture(t, s, form); r.status != http.StatusBadRequest {
			t.Errorf("capture %q: %d, want 400", form, r.status)
		}
	}
	if r := e.do(t, http.MethodPost, "/capture/"+s+"?outcome=realface", "", "", nil); r.status != http.StatusBadRequest {
		t.Errorf("capture with the outcome in the query only: %d, want 400", r.status)
	}
	if n := len(e.attempts(t, sessionID)); n != 0 {
		t.Fatalf("attempts after bad outcomes = %d, want 0", n)
	}
	if r := e.capture(t, s, "outcome=realface"); r.status != http.StatusSeeOther {
		t.Errorf("capture after bad outcomes: %d, want 303", r.status)
	}
}

func TestCallbackURLMustBeAnAbsoluteHTTPURL(t *testing.T) {
	for _, cb := range []string{
		"javascript:alert(1)",
		"JavaScript:alert(1)//http://x",
		"data:text/html,<script>alert(1)</script>",
		"/api/callback/x",
		"//evil.example/x",
		"api/callback",
		"ftp://example.com/x",
		"http:///nohost",
		"http:example.com",
		"https://user:pw@example.com/",
		"http://example.com/a b",
		"http://example.com/\"><script>",
		"http://example.com/\r\nSet-Cookie: x=1",
		"http://exämple.com/",
	} {
		t.Run(cb, func(t *testing.T) {
			e := newEnv(t, quicklinkstub.Settings{})
			sessionID, s := e.link(t)
			if r := e.open(t, s, cb); r.status != http.StatusBadRequest {
				t.Errorf("GET with callbackUrl %q: %d, want 400", cb, r.status)
			}
			// Nothing was bound: the link still opens with a good callbackUrl and returns there.
			if r := e.open(t, s, callbackURL); r.status != http.StatusOK {
				t.Fatalf("GET with a good callbackUrl after: %d", r.status)
			}
			if r := e.capture(t, s, "outcome=realface"); r.header.Get("Location") != callbackURL {
				t.Errorf("capture after: %d Location %q, want %q", r.status, r.header.Get("Location"), callbackURL)
			}
			if n := len(e.attempts(t, sessionID)); n != 1 {
				t.Errorf("attempts = %d, want 1", n)
			}
		})
	}
}

func TestPageRejectsAmbiguousQueries(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{})
	_, s := e.link(t)
	cb := url.QueryEscape(callbackURL)
	for _, q := range []string{"", "callbackUrl=" + cb, "s=" + s + "&s=" + s, "s=" + s + "&callbackUrl=" + cb + "&callbackUrl=" + cb,
		"s=" + s + "&callbackUrl=%zz"} {
		if r := e.do(t, http.MethodGet, "/?"+q, "", "", nil); r.status != http.StatusBadRequest {
			t.Errorf("GET /?%s: %d, want 400", q, r.status)
		}
	}
}

func TestConcurrentCapturesOfOneLinkRecordOnce(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{})
	sessionID, s := e.link(t)
	e.open(t, s, callbackURL)
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = e.capture(t, s, "outcome=realface").status })
	}
	wg.Wait()
	count := map[int]int{}
	for _, st := range statuses {
		count[st]++
	}
	if diff := cmp.Diff(map[int]int{http.StatusSeeOther: 1, http.StatusGone: n - 1}, count); diff != "" {
		t.Errorf("statuses of %d concurrent captures (-want +got):\n%s", n, diff)
	}
	if got := len(e.attempts(t, sessionID)); got != 1 {
		t.Errorf("attempts = %d, want exactly 1", got)
	}
}

func TestLogsHoldNoLinkIDOrToken(t *testing.T) {
	e := newEnv(t, quicklinkstub.Settings{ReturnMode: quicklinkstub.ReturnGet, AppendParams: true})
	_, token := e.session(t)
	s := e.linkFor(t, token)
	e.open(t, s, callbackURL)
	e.capture(t, s, "outcome=realface")
	e.capture(t, s, "outcome=realface")
	e.quicklink(t, token)
	logs := e.logs.String()
	if !strings.Contains(logs, `"route":"POST /capture/{s}"`) {
		t.Fatalf("logs lack the capture's route template:\n%s", logs)
	}
	for _, secret := range []string{s, token, "sig=", "Ab-_x"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold %q:\n%s", secret, logs)
		}
	}
}
