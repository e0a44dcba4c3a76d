package handlers

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/callbackurl"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// Request headers of the three kinds of caller the Callback tells apart.
var (
	browserGET  = map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
	browserPOST = map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html,*/*;q=0.8"}
	plainPOST   = map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
)

// callbackLink is the path and query of the callback URL s signs for id, valid until exp.
func callbackLink(t *testing.T, s *callbackurl.Signer, id string, exp time.Time) string {
	t.Helper()
	u, err := url.Parse(s.URL(&url.URL{Scheme: "https", Host: "liveness.example.net"}, id, exp))
	if err != nil {
		t.Fatalf("the signer's URL: %v", err)
	}
	return u.RequestURI()
}

// signedCallback is the callback path and query of session id as this app signs it, valid for an hour.
func (a *app) signedCallback(id string) string {
	a.t.Helper()
	return callbackLink(a.t, a.srv.settings.Callbacks, id, a.clock.Now().Add(time.Hour))
}

// callback calls the Callback route as a browser (GET), a browser's form post, or a back end's
// POST, as header says; a POST carries a body the handler must ignore.
func (a *app) callback(method, pathQuery string, header map[string]string) *reply {
	a.t.Helper()
	var body []byte
	if method == http.MethodPost {
		body = []byte("outcome=realface&status=completed")
		if header["Content-Type"] == "application/json" {
			body = []byte(`{"status":"completed","decision":"realface"}`)
		}
	}
	return a.do(method, pathQuery, body, header)
}

// storedSession reads session id behind the handler's back.
func (a *app) storedSession(id string) *liveness.Session {
	a.t.Helper()
	sess, err := a.store.GetSession(a.t.Context(), id)
	if err != nil {
		a.t.Fatalf("GetSession(%s): %v", id, err)
	}
	return sess
}

// variant serves the same store, Face and Service Bus as a, through a second Server whose settings
// and options change sets (other signing keys, a shorter poll).
func (a *app) variant(t *testing.T, change func(*Settings, *Options)) *app {
	t.Helper()
	settings, opts := a.srv.settings, a.srv.opts
	change(&settings, &opts)
	srv := New(Deps{Face: a.face, QuickLinks: a.srv.quickLinks, Store: a.store, Events: a.srv.events}, settings, &opts)
	hs := httptest.NewServer(a.api.Middleware(t, noSecrets(t, a.secrets, srv.Handler())))
	t.Cleanup(hs.Close)
	b := *a
	b.t, b.srv, b.url = t, srv, hs.URL
	return &b
}

func newSigner(t *testing.T, keys ...[]byte) *callbackurl.Signer {
	t.Helper()
	s, err := callbackurl.NewSigner(keys)
	if err != nil {
		t.Fatalf("callbackurl.NewSigner: %v", err)
	}
	return s
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// wantRedirect fails t unless r is a 303 to returnUrl with sessionId and status set, and returns
// the Location's query.
func (r *reply) wantRedirect(t *testing.T, returnURL, id string, status liveness.Status) url.Values {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("status = %d, want 303 (body %.300s)", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatalf("Location %q: %v", r.header.Get("Location"), err)
	}
	want, _ := url.Parse(returnURL)
	if loc.Scheme != want.Scheme || loc.Host != want.Host || loc.Path != want.Path || loc.Fragment != want.Fragment {
		t.Errorf("Location %q is not the returnUrl %q", loc, returnURL)
	}
	q := loc.Query()
	if q.Get("sessionId") != id || q.Get("status") != string(status) {
		t.Errorf("Location query sessionId=%q status=%q, want %q %q", q.Get("sessionId"), q.Get("status"), id, status)
	}
	for _, k := range []string{"decision", "outcome", "passed"} {
		if q.Has(k) {
			t.Errorf("Location %q carries %q: the decision is never in the URL", loc, k)
		}
	}
	return q
}

// wantPage fails t unless r is an HTML page with status that holds every one of words.
func (r *reply) wantPage(t *testing.T, status int, words ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %.300s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	for _, w := range words {
		if !bytes.Contains(r.body, []byte(w)) {
			t.Errorf("the page does not say %q: %.300s", w, r.body)
		}
	}
}

// Every refused signature is 401 invalid_signature, with no Face call and no write, for each
// method; a browser hears it as a page, a back end as a problem.
func TestCallbackRefusesBadSignatures(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"returnUrl":"https://app.example.com/done"}`)
	other := a.start(``)
	signer := a.srv.settings.Callbacks
	valid := a.signedCallback(v.SessionID)
	validURL, _ := url.Parse(valid)
	q := validURL.Query()
	path := "/api/callback/" + v.SessionID
	withQuery := func(q url.Values) string { return path + "?" + q.Encode() }
	set := func(k, val string) string {
		c := url.Values{}
		for kk, vv := range q {
			c[kk] = append([]string(nil), vv...)
		}
		if val == "" {
			c.Del(k)
		} else {
			c.Set(k, val)
		}
		return withQuery(c)
	}
	forged := make([]byte, 32)
	if _, err := rand.Read(forged); err != nil {
		t.Fatal(err)
	}
	exp := q.Get("exp")
	tampered := exp[:len(exp)-1] + string('0'+(exp[len(exp)-1]-'0'+1)%10)
	otherQuery, _ := url.Parse(a.signedCallback(other.SessionID))
	// A server whose keys no longer include the key that signed valid.
	rotatedOut := a.variant(t, func(s *Settings, _ *Options) { s.Callbacks = newSigner(t, randomKey(t)) })

	tests := []struct {
		name      string
		pathQuery string
		via       *app
	}{
		{"forged signature", set("sig", base64.RawURLEncoding.EncodeToString(forged)), a},
		{"another session's signature", path + "?" + otherQuery.RawQuery, a},
		{"expired exp", callbackLink(t, signer, v.SessionID, a.clock.Now().Add(-time.Second)), a},
		{"exp ends now", callbackLink(t, signer, v.SessionID, a.clock.Now()), a},
		{"tampered exp", set("exp", tampered), a},
		{"missing sig", set("sig", ""), a},
		{"missing exp", set("exp", ""), a},
		{"no query", path, a},
		{"repeated sig", valid + "&sig=" + url.QueryEscape(q.Get("sig")), a},
		{"repeated exp", valid + "&exp=" + exp, a},
		{"malformed sig", set("sig", "not-a-signature"), a},
		{"malformed exp", set("exp", "0"+exp), a},
		{"signature by a key since removed", valid, rotatedOut},
		{"another session's id in the path", "/api/callback/" + other.SessionID + "?" + validURL.RawQuery, a},
	}
	for _, tt := range tests {
		for _, m := range []struct {
			method string
			header map[string]string
		}{{"GET", browserGET}, {"GET", nil}, {"POST", browserPOST}, {"POST", plainPOST}, {"HEAD", nil}} {
			t.Run(tt.name+"/"+m.method+"/"+m.header["Accept"], func(t *testing.T) {
				b := tt.via.on(t)
				before, calls := b.rows(), b.stub.Stats().Total
				r := b.callback(m.method, tt.pathQuery, m.header)
				switch {
				case m.method == "HEAD":
					if r.status != http.StatusUnauthorized || len(r.body) != 0 {
						t.Errorf("HEAD = %d with %d body bytes, want 401 and none", r.status, len(r.body))
					}
				case fromBrowserHeader(m.header):
					r.wantPage(t, http.StatusUnauthorized, "invalid_signature")
				default:
					r.wantProblem(t, http.StatusUnauthorized, "invalid_signature")
				}
				if got := b.stub.Stats().Total - calls; got != 0 {
					t.Errorf("%d Face calls, want none", got)
				}
				if after := b.rows(); !mapsEqual(before, after) {
					t.Errorf("the table changed: %v → %v", before, after)
				}
			})
		}
	}
	if s := a.storedSession(v.SessionID); s.Status != liveness.StatusCreated || !s.ReturnedAt.IsZero() {
		t.Errorf("after refused callbacks the session is %s returned at %v, want created and never returned", s.Status, s.ReturnedAt)
	}
	a.callback("GET", valid, browserGET).wantRedirect(t, "https://app.example.com/done", v.SessionID, liveness.StatusCreated)
	for _, sig := range []string{q.Get("sig"), otherQuery.Query().Get("sig")} {
		if bytes.Contains(a.logs.Bytes(), []byte(sig)) {
			t.Errorf("a callback signature reached the log")
		}
	}
	if !bytes.Contains(a.logs.Bytes(), []byte(`"code":"invalid_signature"`)) {
		t.Errorf("no request line names invalid_signature: the log check above would prove nothing")
	}
}

func fromBrowserHeader(h map[string]string) bool {
	return strings.Contains(h["Accept"], "text/html") || strings.HasPrefix(h["Content-Type"], "application/x-www-form-urlencoded")
}

// A link signed with the old first key still works after a new key is put first, and links the
// new key signs work too.
func TestCallbackKeyRotation(t *testing.T) {
	a := newApp(t, nil)
	old := a.start(`{"returnUrl":"https://app.example.com/done"}`)
	oldLink := a.signedCallback(old.SessionID) // signed by the one key a has
	rotated := a.variant(t, func(s *Settings, _ *Options) { s.Callbacks = newSigner(t, randomKey(t), a.signingKey) })
	if r := rotated.callback("HEAD", oldLink, nil); r.status != http.StatusOK {
		t.Errorf("HEAD with the old key's link after rotation = %d, want 200", r.status)
	}
	if err := rotated.stub.AddAttempt(old.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
		t.Fatal(err)
	}
	rotated.callback("GET", oldLink, browserGET).wantRedirect(t, "https://app.example.com/done", old.SessionID, liveness.StatusCompleted)

	fresh := a.start(``)
	newLink := rotated.signedCallback(fresh.SessionID)
	if newLink == a.signedCallback(fresh.SessionID) {
		t.Fatalf("the rotated server signs with the old key")
	}
	if r := rotated.callback("POST", newLink, plainPOST); r.status != http.StatusOK {
		t.Errorf("POST with the new key's link = %d %s, want 200", r.status, r.body)
	}
}

// The stored returnUrl is the only target: nothing in the callback's query changes the
// Location, and the returnUrl's own query is kept.
func TestCallbackIsNoOpenRedirect(t *testing.T) {
	a := newApp(t, nil)
	const returnURL = "https://app.example.com/orders/done?order=42&lang=en"
	v := a.start(`{"returnUrl":"` + returnURL + `"}`)
	link := a.signedCallback(v.SessionID)
	plain := a.callback("GET", link, browserGET)
	q := plain.wantRedirect(t, returnURL, v.SessionID, liveness.StatusCreated)
	if q.Get("order") != "42" || q.Get("lang") != "en" {
		t.Errorf("Location %q lost the returnUrl's own query", plain.header.Get("Location"))
	}
	added := []string{
		"returnUrl=https%3A%2F%2Fevil.example%2F", "redirect=https%3A%2F%2Fevil.example%2F", "redirect_uri=//evil.example",
		"next=https%3A%2F%2Fevil.example", "url=javascript:alert(1)", "sessionId=00000000-0000-0000-0000-000000000000",
		"status=completed", "decision=realface", "order=43", "location=https://evil.example", "%zz=1", "=x", "a;b=c",
	}
	for _, extra := range append(added, strings.Join(added, "&")) {
		for _, m := range []struct {
			method string
			header map[string]string
		}{{"GET", browserGET}, {"POST", browserPOST}} {
			r := a.callback(m.method, link+"&"+extra, m.header)
			if got, want := r.header.Get("Location"), plain.header.Get("Location"); r.status != http.StatusSeeOther || got != want {
				t.Errorf("%s with &%s = %d Location %q, want 303 %q", m.method, extra, r.status, got, want)
			}
		}
	}
}

// Each outcome at Face is recorded as design §4 says, with its event, and the browser goes on with
// the recorded status.
func TestCallbackRecordsTheOutcome(t *testing.T) {
	tests := []struct {
		name     string
		attempts []facestub.Attempt
		want     liveness.Status
		decision string
		failure  string
	}{
		{"real face", []facestub.Attempt{{Decision: "realface"}}, liveness.StatusCompleted, "realface", ""},
		{"spoof", []facestub.Attempt{{Decision: "spoofface"}}, liveness.StatusCompleted, "spoofface", ""},
		{"uncertain", []facestub.Attempt{{Decision: "uncertain"}}, liveness.StatusCompleted, "uncertain", ""},
		{"failed attempt", []facestub.Attempt{{Status: facestub.StatusFailed, ErrorCode: "FaceWithMaskDetected"}}, liveness.StatusFailed, "", "FaceWithMaskDetected"},
		{"a failure, then a real face", []facestub.Attempt{{Status: facestub.StatusFailed}, {Decision: "realface"}}, liveness.StatusCompleted, "realface", ""},
		{"a spoof, then a failure", []facestub.Attempt{{Decision: "spoofface"}, {Status: facestub.StatusFailed, ErrorCode: "FaceWithMaskDetected"}}, liveness.StatusFailed, "", "FaceWithMaskDetected"},
	}
	a := newApp(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := a.on(t)
			const returnURL = "https://app.example.com/done"
			v := a.start(`{"returnUrl":"` + returnURL + `"}`)
			for _, at := range tt.attempts {
				if err := a.stub.AddAttempt(v.SessionID, at); err != nil {
					t.Fatalf("AddAttempt: %v", err)
				}
			}
			a.callback("GET", a.signedCallback(v.SessionID), browserGET).wantRedirect(t, returnURL, v.SessionID, tt.want)
			got := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t)
			if got.Status != tt.want || got.Outcome == nil {
				t.Fatalf("GetSession = %s %+v, want %s with an outcome", got.Status, got.Outcome, tt.want)
			}
			if got.Outcome.Decision != tt.decision || got.Outcome.AttemptCount != len(tt.attempts) {
				t.Errorf("outcome decision %q after %d attempts, want %q after %d", got.Outcome.Decision, got.Outcome.AttemptCount, tt.decision, len(tt.attempts))
			}
			if code := failureCode(got.Outcome); code != tt.failure {
				t.Errorf("outcome failure %q, want %q", code, tt.failure)
			}
			if !bytes.Contains(a.sentEvent(v.SessionID), []byte(`"status":"`+string(tt.want)+`"`)) {
				t.Errorf("the event does not say %s", tt.want)
			}
			if _, err := a.faceSession(liveness.Kind(v.Kind), v.SessionID); !face.IsNotFound(err) {
				t.Errorf("the Face session after the outcome was recorded: %v, want deleted", err)
			}
		})
	}
}

func failureCode(o *outcomeView) string {
	if o == nil || o.Failure == nil {
		return ""
	}
	return o.Failure.Code
}

// With no finished attempt the callback records the return and files the abandon entry; Reconcile
// then records abandoned once ABANDON_AFTER_SECONDS passed (one event), or the outcome of an
// attempt that finished meanwhile.
func TestCallbackWithoutAnAttempt(t *testing.T) {
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	a := newApp(t, &appOptions{ServiceBus: sb})
	abandoned, completedLater := a.start(``), a.start(``)
	for _, v := range []sessionView{abandoned, completedLater} {
		returned := a.clock.Now()
		before := a.storedSession(v.SessionID)
		r := a.callback("GET", a.signedCallback(v.SessionID), browserGET)
		r.wantPage(t, http.StatusOK, "You can close this window")
		s := a.storedSession(v.SessionID)
		if s.Status != before.Status || !s.ReturnedAt.Equal(returned) {
			t.Errorf("after the callback: %s returned at %v, want %s returned at %v", s.Status, s.ReturnedAt, before.Status, returned)
		}
		var abandonAt []time.Time
		for _, d := range a.dueFor(v.SessionID) {
			if d.Reason == liveness.DueAbandon {
				abandonAt = append(abandonAt, d.Due)
			}
		}
		if want := []time.Time{returned.Add(a.srv.settings.AbandonAfter)}; !cmp.Equal(abandonAt, want) {
			t.Errorf("abandon entries at %v, want %v", abandonAt, want)
		}
		if _, found := a.outbox(v.SessionID); found {
			t.Errorf("a return without an attempt recorded an event")
		}
	}
	// The user comes back twice: the first return counts, and nothing else is written.
	rows := a.rows()
	a.clock.Advance(time.Second)
	a.callback("POST", a.signedCallback(abandoned.SessionID), browserPOST).wantPage(t, http.StatusOK, "You can close this window")
	if after := a.rows(); !mapsEqual(rows, after) {
		t.Errorf("a second return changed the table: %v → %v", rows, after)
	}

	if err := a.stub.AddAttempt(completedLater.SessionID, facestub.Attempt{Decision: "spoofface"}); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(a.srv.settings.AbandonAfter)
	a.reconcile()
	if got := a.storedSession(abandoned.SessionID); got.Status != liveness.StatusAbandoned || got.Outcome != nil {
		t.Errorf("after ABANDON_AFTER_SECONDS: %s %+v, want abandoned without an outcome", got.Status, got.Outcome)
	}
	if got := a.storedSession(completedLater.SessionID); got.Status != liveness.StatusCompleted || got.Outcome == nil || got.Outcome.Decision != "spoofface" {
		t.Errorf("after an attempt that finished meanwhile: %s %+v, want completed spoofface", got.Status, got.Outcome)
	}
	a.wantOneEventEach(sb, abandoned.SessionID+"/abandoned", completedLater.SessionID+"/completed")
}

// wantOneEventEach fails the test unless, once every resend had its time, the topic took exactly
// the events ids (one each) and the all subscription delivers them.
func (a *app) wantOneEventEach(sb *services.ServiceBus, ids ...string) {
	a.t.Helper()
	a.clock.Advance(waitForever)
	a.reconcile()
	if top, _, _ := counters(a.t, sb); top.Accepted != len(ids) {
		a.t.Errorf("topic accepted %d events, want %d: one per session", top.Accepted, len(ids))
	}
	checkDelivered(a.t, testenv.Receive(a.t, sb, topic, "all", len(ids)), ids, false)
}

// HEAD (link scanners) checks the signature and touches nothing; a scanner's early GET records a
// return but does not end the session before ABANDON_AFTER_SECONDS, and the user's attempt after
// it is recorded.
func TestCallbackLinkScanners(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"returnUrl":"https://app.example.com/done"}`)
	link := a.signedCallback(v.SessionID)
	before, calls := a.rows(), a.stub.Stats().Total
	for range 3 {
		if r := a.callback("HEAD", link, nil); r.status != http.StatusOK || len(r.body) != 0 {
			t.Errorf("HEAD = %d with %d body bytes, want 200 and none", r.status, len(r.body))
		}
	}
	if got := a.stub.Stats().Total - calls; got != 0 {
		t.Errorf("HEAD made %d Face calls, want none", got)
	}
	if after := a.rows(); !mapsEqual(before, after) {
		t.Errorf("HEAD changed the table: %v → %v", before, after)
	}

	a.callback("GET", link, nil).wantRedirect(t, "https://app.example.com/done", v.SessionID, liveness.StatusCreated) // the scanner
	a.clock.Advance(a.srv.settings.AbandonAfter - time.Second)
	a.reconcile()
	if got := a.storedSession(v.SessionID).Status; got != liveness.StatusCreated {
		t.Fatalf("before ABANDON_AFTER_SECONDS the session is %s, want still created", got)
	}
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
		t.Fatal(err)
	}
	a.callback("GET", link, browserGET).wantRedirect(t, "https://app.example.com/done", v.SessionID, liveness.StatusCompleted)
	a.clock.Advance(time.Hour)
	a.reconcile()
	if got := a.storedSession(v.SessionID); got.Status != liveness.StatusCompleted {
		t.Errorf("after the abandon entry came due the session is %s, want completed", got.Status)
	}
}

// Repeating a callback is safe: sequentially or 20 at once, one final state, one event, and
// every answer the same 303.
func TestCallbackRepeated(t *testing.T) {
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	a := newApp(t, &appOptions{ServiceBus: sb})
	const returnURL = "https://app.example.com/done"
	sequential, concurrent := a.start(`{"returnUrl":"`+returnURL+`"}`), a.start(`{"returnUrl":"`+returnURL+`"}`)
	for _, v := range []sessionView{sequential, concurrent} {
		if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
			t.Fatal(err)
		}
	}
	link := a.signedCallback(sequential.SessionID)
	for range 5 {
		a.callback("GET", link, browserGET).wantRedirect(t, returnURL, sequential.SessionID, liveness.StatusCompleted)
	}

	link = a.signedCallback(concurrent.SessionID)
	const n = 20
	var wg sync.WaitGroup
	answers := make([]string, n)
	for i := range n {
		wg.Go(func() {
			req := a.request("GET", link, nil, browserGET)
			resp, _, err := roundTrip(a.client, req)
			if err != nil {
				answers[i] = err.Error()
				return
			}
			answers[i] = resp.Status + " " + resp.Header.Get("Location")
		})
	}
	wg.Wait()
	want := "303 See Other " + returnURL + "?sessionId=" + concurrent.SessionID + "&status=completed"
	for i, got := range answers {
		if got != want {
			t.Errorf("concurrent callback %d = %q, want %q", i, got, want)
		}
	}
	for _, v := range []sessionView{sequential, concurrent} {
		if got := a.storedSession(v.SessionID).Status; got != liveness.StatusCompleted {
			t.Errorf("%s is %s, want completed", v.SessionID, got)
		}
	}
	a.wantOneEventEach(sb, sequential.SessionID+"/completed", concurrent.SessionID+"/completed")
}

// How each caller is answered: a browser's form post gets the 303, a back end's POST JSON, and a
// browser without a returnUrl the page.
func TestCallbackAnswers(t *testing.T) {
	a := newApp(t, nil)
	const returnURL = "https://app.example.com/done"
	v := a.start(`{"returnUrl":"` + returnURL + `"}`)
	none := a.start(``)

	a.callback("POST", a.signedCallback(v.SessionID), browserPOST).wantRedirect(t, returnURL, v.SessionID, liveness.StatusCreated)
	multipart := map[string]string{"Content-Type": "multipart/form-data; boundary=x"}
	a.callback("POST", a.signedCallback(v.SessionID), multipart).wantRedirect(t, returnURL, v.SessionID, liveness.StatusCreated)

	r := a.callback("POST", a.signedCallback(v.SessionID), plainPOST)
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); r.status != http.StatusOK || err != nil {
		t.Fatalf("JSON POST = %d %s, want 200 JSON", r.status, r.body)
	}
	if want := map[string]any{"sessionId": v.SessionID, "status": "created"}; !cmp.Equal(got, want) {
		t.Errorf("JSON POST body %v, want %v", got, want)
	}

	a.callback("GET", a.signedCallback(none.SessionID), browserGET).wantPage(t, http.StatusOK, "You can close this window")
	a.callback("POST", a.signedCallback(none.SessionID), browserPOST).wantPage(t, http.StatusOK, "You can close this window")

	// An unknown session (its rows gone after retention) with a valid signature.
	gone := "0f0f0f0f-0000-4000-8000-000000000000"
	a.callback("GET", a.signedCallback(gone), browserGET).wantPage(t, http.StatusNotFound, "session_not_found")
	a.callback("POST", a.signedCallback(gone), plainPOST).wantProblem(t, http.StatusNotFound, "session_not_found")
}

// While Face says Running, the callback reads again for a bounded time: it records an attempt that
// finishes meanwhile, and gives up at the bound leaving the session returned.
func TestCallbackPollsARunningSession(t *testing.T) {
	a := newApp(t, nil)
	const returnURL = "https://app.example.com/done"

	t.Run("records the attempt that finishes during the poll", func(t *testing.T) {
		b := a.variant(t, func(_ *Settings, o *Options) { o.CallbackPoll = 10 * time.Second })
		v := b.start(`{"returnUrl":"` + returnURL + `"}`)
		if err := b.stub.AddAttempt(v.SessionID, facestub.Attempt{Status: facestub.StatusRunning}); err != nil {
			t.Fatal(err)
		}
		gets := b.stub.Stats().Get
		done := make(chan error, 1)
		time.AfterFunc(700*time.Millisecond, func() { done <- b.stub.AddAttempt(v.SessionID, facestub.Attempt{Decision: "uncertain"}) })
		start := time.Now()
		b.callback("GET", b.signedCallback(v.SessionID), browserGET).wantRedirect(t, returnURL, v.SessionID, liveness.StatusCompleted)
		if err := <-done; err != nil {
			t.Fatalf("AddAttempt: %v", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("the callback took %v, want it to stop polling once the attempt finished", took)
		}
		if n := b.stub.Stats().Get - gets; n < 2 {
			t.Errorf("%d Face reads, want the poll to have read again", n)
		}
		if got := b.storedSession(v.SessionID); got.Outcome == nil || got.Outcome.Decision != "uncertain" {
			t.Errorf("recorded %+v, want the uncertain decision", got.Outcome)
		}
	})

	t.Run("gives up at the bound", func(t *testing.T) {
		const bound = 1200 * time.Millisecond
		b := a.variant(t, func(_ *Settings, o *Options) { o.CallbackPoll = bound })
		v := b.start(`{"returnUrl":"` + returnURL + `"}`)
		if err := b.stub.AddAttempt(v.SessionID, facestub.Attempt{Status: facestub.StatusRunning}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		b.callback("GET", b.signedCallback(v.SessionID), browserGET).wantRedirect(t, returnURL, v.SessionID, liveness.StatusCreated)
		if took := time.Since(start); took < bound || took > bound+5*time.Second {
			t.Errorf("the callback took %v, want about its bound %v", took, bound)
		}
		if got := b.storedSession(v.SessionID); got.Status != liveness.StatusCreated || got.ReturnedAt.IsZero() {
			t.Errorf("after the poll the session is %s returned at %v, want created and returned", got.Status, got.ReturnedAt)
		}
	})
}

// Face unavailable: 503 (a page for a browser), with Retry-After, and nothing recorded.
func TestCallbackFaceUnavailable(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"returnUrl":"https://app.example.com/done"}`)
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
		t.Fatal(err)
	}
	before := a.rows()
	a.stub.SetFaults(facestub.Faults{ServerErrors: 100})
	r := a.callback("GET", a.signedCallback(v.SessionID), browserGET)
	r.wantPage(t, http.StatusServiceUnavailable, "upstream_unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	a.callback("POST", a.signedCallback(v.SessionID), plainPOST).wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	if after := a.rows(); !mapsEqual(before, after) {
		t.Errorf("the table changed while Face was down: %v → %v", before, after)
	}
	a.stub.SetFaults(facestub.Faults{})
	a.callback("GET", a.signedCallback(v.SessionID), browserGET).wantRedirect(t, "https://app.example.com/done", v.SessionID, liveness.StatusCompleted)
}
