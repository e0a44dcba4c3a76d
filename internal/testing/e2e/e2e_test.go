package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/testing/browser"
	"github.com/liveness-quicklink/functions/internal/testing/stack"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// suiteTimeout bounds the whole suite: start-up (three builds, five processes, Chromium) and
// fifteen flows of a few seconds each.
const suiteTimeout = 8 * time.Minute

// maxFailedFlows stops the suite early: a broken page fails every flow the same way, each after
// a step's timeout.
const maxFailedFlows = 3

// outcome is what one capture page button must lead to.
type outcome struct {
	button       string // the capture page's button (id and outcome value)
	returnStatus string // `status` on the demo's return URL, right after the callback
	status       string // the final status (GetSession, the return page, the event)
	eventType    string
	decision     string
	passed       bool
	failed       bool // the session failed: the event and GetSession carry a failure code
	attempts     int
}

var outcomes = []outcome{
	{button: "realface", returnStatus: "completed", status: "completed", eventType: "Liveness.Session.Completed", decision: "realface", passed: true, attempts: 1},
	{button: "spoofface", returnStatus: "completed", status: "completed", eventType: "Liveness.Session.Completed", decision: "spoofface", attempts: 1},
	{button: "uncertain", returnStatus: "completed", status: "completed", eventType: "Liveness.Session.Completed", decision: "uncertain", attempts: 1},
	{button: "error", returnStatus: "failed", status: "failed", eventType: "Liveness.Session.Failed", failed: true, attempts: 1},
	// The user comes back without an attempt: the callback only records the return, and the
	// session becomes abandoned when Reconcile runs ABANDON_AFTER_SECONDS later.
	{button: "abandon", returnStatus: "linkIssued", status: "abandoned", eventType: "Liveness.Session.Abandoned"},
}

// returnModes are the quick link stand-in's ways back to the callback (the real service's
// behaviour is not documented): a GET redirect or an auto-submitted form POST, with or without
// parameters of its own appended.
var returnModes = []struct {
	name         string
	mode         string
	appendParams bool
}{
	{"get", "get", false},
	{"post", "post", false},
	{"get+params", "get", true},
}

// secrets are what the flows saw that must never be logged, answered, published or stored.
type secrets struct {
	links, linkIDs, sigs []string
}

// TestBrowserFlows runs every outcome in every return mode through the demo app, the capture
// page and back, on one local stack, then scans everything the stack wrote for secrets.
func TestBrowserFlows(t *testing.T) {
	if _, err := browser.Path(); err != nil {
		// Never a skip: CI installs Chromium itself, and a suite that silently does not run
		// proves nothing.
		t.Fatalf("the browser suite needs Chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()

	st, err := stack.Start(ctx, stack.Options{Root: testenv.RepoRoot(t), AbandonAfter: 2 * time.Second})
	if err != nil {
		t.Fatalf("starting the local stack: %v", err)
	}
	defer st.Close()
	defer func() {
		if t.Failed() {
			logTail(t, st.Lines.All(), 300)
		}
	}()

	tab, stopBrowser, err := browser.Start(ctx)
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer stopBrowser()

	var seen secrets
	var sessions []string
	failed := 0
	for _, rm := range returnModes {
		t.Run(rm.name, func(t *testing.T) {
			if err := st.SetReturnMode(ctx, rm.mode, rm.appendParams); err != nil {
				t.Fatalf("switching the stand-in's return mode: %v", err)
			}
			for _, o := range outcomes {
				if failed >= maxFailedFlows {
					t.Errorf("%s not run: %d flows failed already", o.button, failed)
					continue
				}
				if !t.Run(o.button, func(t *testing.T) {
					id := runFlow(ctx, t, st, tab, o, &seen)
					if id != "" {
						sessions = append(sessions, id)
					}
				}) {
					failed++
				}
			}
		})
	}
	if t.Failed() {
		return
	}

	t.Run("used link and forged callback", func(t *testing.T) { checkUsedLinkAndForgery(ctx, t, st, seen) })

	t.Run("exactly one event per session after a further Reconcile", func(t *testing.T) {
		if err := st.Reconcile(ctx); err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		time.Sleep(2 * time.Second) // room for a resend that should not happen
		for _, id := range sessions {
			if got := st.Events.For(id); len(got) != 1 {
				t.Errorf("session %s: %d events on %s/%s, want exactly 1", id, len(got), stack.Topic, stack.Subscription)
			}
		}
		if got, want := len(st.Events.All()), len(sessions); got != want {
			t.Errorf("%d events in all, want %d (one per flow)", got, want)
		}
		if err := st.Events.Err(); err != nil {
			t.Errorf("the event receiver met errors: %v", err)
		}
	})

	t.Run("no secret in any log line, answer, event or table row", func(t *testing.T) {
		scanForSecrets(ctx, t, st, seen, len(sessions))
	})
}

// runFlow drives one flow in tab (one tab serves every flow: a tab opened in the background is
// not laid out, so clicks in it miss) and returns its session id ("" when it failed before one
// existed).
func runFlow(ctx context.Context, t *testing.T, st *stack.Stack, tab context.Context, o outcome, seen *secrets) string {
	t.Helper()
	if err := browser.Open(tab, st.DemoURL+"/"); err != nil {
		t.Fatalf("demo start page: %v", err)
	}
	s, err := browser.StartSession(tab)
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	id := s.SessionID
	if !strings.HasPrefix(s.URL, st.DemoURL+"/sessions/"+id) {
		t.Errorf("after #start the browser is at %q, want the demo's %s/sessions/%s", s.URL, st.DemoURL, id)
	}
	if !holdsSVG(s.QR) {
		t.Errorf("#qr holds no SVG (inline, or an img of a data:image/svg+xml URL): %.200q", s.QR)
	}
	linkID, sig := parseLink(t, st, s.Link, id)
	seen.links, seen.linkIDs, seen.sigs = append(seen.links, s.Link), append(seen.linkIDs, linkID), append(seen.sigs, sig)

	if err := browser.Open(tab, s.Link); err != nil {
		t.Fatalf("capture page: %v", err)
	}
	if err := browser.Choose(tab, o.button); err != nil {
		t.Fatalf("capture page: %v", err)
	}
	loc, err := browser.WaitLocation(tab, st.DemoURL+"/return")
	if err != nil {
		html, _ := browser.HTML(tab)
		t.Fatalf("after pressing %q: %v; the page:\n%.2000s", o.button, err, html)
	}
	back, _ := url.Parse(loc)
	if got := back.Query().Get("sessionId"); got != id {
		t.Errorf("return URL %s: sessionId %q, want %q", loc, got, id)
	}
	if got := back.Query().Get("status"); got != o.returnStatus {
		t.Errorf("return URL %s: status %q, want %q", loc, got, o.returnStatus)
	}

	if o.status == "abandoned" {
		abandon(ctx, t, st, tab, id)
	}
	if got, err := browser.WaitText(tab, "#status", o.status, 20*time.Second); err != nil {
		t.Errorf("demo return page: %v", err)
	} else if got != o.status {
		t.Errorf("demo return page #status %q, want %q", got, o.status)
	}
	if o.decision != "" {
		if _, err := browser.WaitTextContains(tab, "#outcome", o.decision, 10*time.Second); err != nil {
			t.Errorf("demo return page: %v", err)
		}
	}

	checkSession(ctx, t, st, id, o)
	checkEvent(ctx, t, st, id, o)
	return id
}

// holdsSVG reports whether markup is an inline SVG, or an image whose source is an SVG data URL.
func holdsSVG(markup string) bool {
	if strings.Contains(markup, "<svg") {
		return true
	}
	i := strings.Index(markup, `src="`)
	return strings.HasPrefix(markup, "<img") && i > 0 && strings.HasPrefix(markup[i+len(`src="`):], "data:image/svg+xml")
}

// parseLink checks the shape of the link the demo shows (design §3: the stand-in's base URL,
// `s` and the percent-encoded signed callback URL of this session, nothing else) and returns
// its `s` and the callback's `sig`.
func parseLink(t *testing.T, st *stack.Stack, link, id string) (linkID, sig string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Scheme+"://"+u.Host != st.StandinURL || (u.Path != "/" && u.Path != "") {
		t.Fatalf("#link %q is not under the quick link endpoint %s/ (%v)", link, st.StandinURL, err)
	}
	q := u.Query()
	linkID = q.Get("s")
	if linkID == "" || len(q) != 2 {
		t.Fatalf("#link has query keys %v, want exactly s and callbackUrl", keys(q))
	}
	cb, err := url.Parse(q.Get("callbackUrl"))
	if err != nil || !strings.HasPrefix(cb.String(), st.HandlerURL+"/api/callback/"+id+"?") {
		t.Fatalf("the link's callbackUrl %q is not %s/api/callback/%s?… (%v)", q.Get("callbackUrl"), st.HandlerURL, id, err)
	}
	sig = cb.Query().Get("sig")
	if sig == "" || cb.Query().Get("exp") == "" {
		t.Fatalf("the callback URL has no exp or sig")
	}
	return linkID, sig
}

// abandon waits out ABANDON_AFTER_SECONDS after the user's return and runs Reconcile as the host
// does, until the session is abandoned.
func abandon(ctx context.Context, t *testing.T, st *stack.Stack, tab context.Context, id string) {
	t.Helper()
	if got, err := browser.WaitText(tab, "#status", "linkIssued", 10*time.Second); err != nil {
		t.Errorf("before Reconcile the return page should still show linkIssued: %v", err)
	} else if got != "linkIssued" {
		t.Errorf("before Reconcile #status %q, want linkIssued", got)
	}
	if s, err := st.GetSession(ctx, id); err != nil {
		t.Fatalf("GetSession: %v", err)
	} else if s.Status != "linkIssued" {
		t.Errorf("right after the return GetSession says %q, want linkIssued (no attempt finished: the callback only records the return)", s.Status)
	}
	time.Sleep(st.AbandonAfter + 300*time.Millisecond)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := st.Reconcile(ctx); err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		s, err := st.GetSession(ctx, id)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		if s.Status == "abandoned" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Reconcile after ABANDON_AFTER_SECONDS (%v): session is %q, want abandoned", st.AbandonAfter, s.Status)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func checkSession(ctx context.Context, t *testing.T, st *stack.Stack, id string, o outcome) {
	t.Helper()
	s, err := st.GetSession(ctx, id)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if s.Status != o.status {
		t.Errorf("GetSession status %q, want %q", s.Status, o.status)
	}
	switch {
	case o.attempts == 0:
		if s.Outcome != nil && (s.Outcome.Decision != "" || s.Outcome.AttemptCount != 0) {
			t.Errorf("GetSession outcome %+v, want none (no attempt)", *s.Outcome)
		}
	case s.Outcome == nil:
		t.Errorf("GetSession has no outcome, want decision %q", o.decision)
	default:
		if s.Outcome.Decision != o.decision {
			t.Errorf("GetSession decision %q, want %q", s.Outcome.Decision, o.decision)
		}
		if s.Outcome.AttemptCount != o.attempts {
			t.Errorf("GetSession attemptCount %d, want %d", s.Outcome.AttemptCount, o.attempts)
		}
		if got := s.Outcome.Failure != nil && s.Outcome.Failure.Code != ""; got != o.failed {
			t.Errorf("GetSession failure code present: %v, want %v", got, o.failed)
		}
	}
}

// checkEvent waits for the session's event on the `all` subscription, and a little more for a
// duplicate, and checks there is exactly one, of the right type and data.
func checkEvent(ctx context.Context, t *testing.T, st *stack.Stack, id string, o outcome) {
	t.Helper()
	got := st.Events.WaitFor(ctx, id, 20*time.Second, time.Second)
	if len(got) != 1 {
		t.Fatalf("%d events for session %s on %s/%s, want exactly 1", len(got), id, stack.Topic, stack.Subscription)
	}
	ev := got[0]
	if ev.CloudEvent.Type != o.eventType || ev.Subject != o.eventType {
		t.Errorf("event type %q (message Subject %q), want %q", ev.CloudEvent.Type, ev.Subject, o.eventType)
	}
	if want := id + "/" + o.status; ev.CloudEvent.ID != want || ev.MessageID != want {
		t.Errorf("event id %q (MessageID %q), want %q", ev.CloudEvent.ID, ev.MessageID, want)
	}
	var data events.Data
	if err := json.Unmarshal(ev.CloudEvent.Data, &data); err != nil {
		t.Fatalf("event data: %v: %s", err, ev.CloudEvent.Data)
	}
	want := events.Data{SessionID: id, Kind: liveness.KindLiveness, Status: liveness.Status(o.status), Passed: o.passed,
		Decision: o.decision, AttemptCount: o.attempts}
	ignore := cmpopts.IgnoreFields(events.Data{}, "Failure", "CreatedAt", "CompletedAt", "ModelVersion", "ExternalReference")
	if diff := cmp.Diff(want, data, ignore); diff != "" {
		t.Errorf("event data (-want +got):\n%s", diff)
	}
	if gotFailure := data.Failure != nil && data.Failure.Code != ""; gotFailure != o.failed {
		t.Errorf("event data failure code present: %v, want %v (%+v)", gotFailure, o.failed, data.Failure)
	}
}

// checkUsedLinkAndForgery opens a used link (the stand-in must refuse it) and a callback with a
// forged signature (the handler must refuse it), so that their error pages join the scan.
func checkUsedLinkAndForgery(ctx context.Context, t *testing.T, st *stack.Stack, seen secrets) {
	link := seen.links[0]
	status, body, err := st.Fetch(ctx, link)
	if err != nil {
		t.Fatalf("GET a used link: %v", err)
	}
	if status != http.StatusGone || !strings.Contains(string(body), "link already used") {
		t.Errorf("a used link: %d %.300q, want 410 with \"link already used\"", status, body)
	}
	u, _ := url.Parse(link)
	cb, _ := url.Parse(u.Query().Get("callbackUrl"))
	q := cb.Query()
	q.Set("sig", base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	cb.RawQuery = q.Encode()
	status, body, err = st.Fetch(ctx, cb.String())
	if err != nil {
		t.Fatalf("GET a forged callback: %v", err)
	}
	if status != http.StatusUnauthorized {
		t.Errorf("a forged callback: %d %.300q, want 401", status, body)
	}
}

// scanForSecrets looks for every secret of the run in every line every process wrote, every
// answer body the tests received, every event and every table row.
func scanForSecrets(ctx context.Context, t *testing.T, st *stack.Stack, seen secrets, flows int) {
	named, err := st.Secrets(ctx, flows)
	if err != nil {
		t.Fatalf("%v", err)
	}
	tokens, linkIDs := 0, 0
	for _, kind := range named {
		switch kind {
		case "Face auth token":
			tokens++
		case "quick link id":
			linkIDs++
		}
	}
	named.Add("quick link id", seen.linkIDs...)
	named.Add("quick link URL", seen.links...)
	named.Add("callback sig", seen.sigs...)

	leaks, scanned, err := st.ScanForLeaks(ctx, named)
	if err != nil {
		t.Fatalf("%v", err)
	}
	for _, l := range leaks {
		t.Error(l)
	}
	t.Logf("secret scan: %d flows, %d log lines, %d answer bodies, %d events, %d table rows scanned for %d secrets (%d tokens, %d link ids, %d links, %d signatures, keys); %d leaks",
		flows, scanned.Lines, scanned.Answers, scanned.Events, scanned.Rows, len(named), tokens, linkIDs, len(seen.links), len(seen.sigs), len(leaks))
}

func keys(q url.Values) []string {
	var out []string
	for k := range q {
		out = append(out, k)
	}
	return out
}

func logTail(t *testing.T, lines []string, n int) {
	t.Helper()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	t.Logf("the last %d lines of the stack's processes:\n%s", len(lines), strings.Join(lines, "\n"))
}
