package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// rowClass names the kind of a table row by its RowKey: session, idempotency, event, or
// due:<reason> for an entry of the due index (RowKey <sessionId>_<reason>).
func rowClass(rowKey string) string {
	if i := strings.LastIndexByte(rowKey, '_'); i >= 0 {
		return "due:" + rowKey[i+1:]
	}
	return rowKey
}

// writeOf names the table write x is ("PUT session", "insert event", "batch", …); ok is false for
// a read.
func writeOf(x faultproxy.Exchange) (name string, ok bool) {
	switch {
	case x.Method == http.MethodGet || x.Method == http.MethodHead:
		return "", false
	case strings.HasSuffix(x.Path, "$batch"):
		return "batch", true
	case strings.Contains(x.Path, "RowKey='"):
		_, rk, _ := strings.Cut(x.Path, "RowKey='")
		rk, _, _ = strings.Cut(rk, "'")
		return x.Method + " " + rowClass(rk), true
	}
	var e struct{ RowKey string }
	if err := json.Unmarshal(x.Body, &e); err != nil || e.RowKey == "" {
		return x.Method + " " + x.Path, true // not a row write we know: the table of cases will say so
	}
	return "insert " + rowClass(e.RowKey), true
}

// writesOf is the table writes among xs, in order.
func writesOf(xs []faultproxy.Exchange) []string {
	var out []string
	for _, x := range xs {
		if w, ok := writeOf(x); ok {
			out = append(out, w)
		}
	}
	return out
}

// tableState sums up the table as kinds of rows with what matters of them (a session's status and
// whether its Face session is revoked, whether an event is sent): two runs of one scenario that
// end with the same state have equal sums whatever their ids and times.
func (a *app) tableState() []string {
	a.t.Helper()
	var out []string
	for _, raw := range a.rawEntities() {
		var e struct {
			RowKey, Status string
			FaceDeleted    bool
			Sent           bool
		}
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			a.t.Fatalf("decoding a row: %v", err)
		}
		c := rowClass(e.RowKey)
		switch c {
		case "session":
			c += fmt.Sprintf(" %s faceDeleted=%v", e.Status, e.FaceDeleted)
		case "event":
			c += fmt.Sprintf(" sent=%v", e.Sent)
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// writeScenario is one endpoint call whose table writes the suite spoils one by one.
type writeScenario struct {
	name string
	// writes are the table writes the call makes, in any order: the suite fails when the call
	// makes one not listed here (a write no case covers) or misses one.
	writes []string
	// purges says the call deletes its session (retention): it ends with no session row and no
	// event row rather than one final session and its sent event.
	purges bool
	// setup brings the app to where the call starts, through the server without the proxy, and
	// returns the session the call is about ("" when the call creates it).
	setup func(a *app) string
	// call makes the call through the proxy and returns what the test compares between runs, and
	// the id of the session it is about.
	call func(a *app, id string) (answer string, sessionID string)
}

// answerOf sums up a reply as what a client acts on: the status, and for a redirect the status
// the Location reports.
func answerOf(r *reply) string {
	if loc := r.header.Get("Location"); loc != "" {
		_, status, _ := strings.Cut(loc, "status=")
		return fmt.Sprintf("%d status=%s", r.status, status)
	}
	return fmt.Sprint(r.status)
}

func writeScenarios() []writeScenario {
	startCall := func(body string, withKey bool) func(a *app, _ string) (string, string) {
		return func(a *app, _ string) (string, string) {
			h := map[string]string{}
			if withKey {
				h["Idempotency-Key"] = "w-" + randomHex(a.t, 8)
			}
			r := a.do("POST", "/api/sessions", []byte(body), h)
			if r.status != http.StatusCreated {
				return answerOf(r), ""
			}
			var v struct{ SessionID string }
			_ = json.Unmarshal(r.body, &v)
			if withKey { // a replay answers the same session, and writes nothing new
				again := a.do("POST", "/api/sessions", []byte(body), h)
				var w struct{ SessionID string }
				_ = json.Unmarshal(again.body, &w)
				if again.status != http.StatusOK || w.SessionID != v.SessionID {
					return fmt.Sprintf("201, then replay %d %s (want 200 %s)", again.status, w.SessionID, v.SessionID), v.SessionID
				}
			}
			return answerOf(r), v.SessionID
		}
	}
	started := func(a *app) string { return a.start(`{"returnUrl":"https://app.example.com/done"}`).SessionID }
	finished := func(a *app) string {
		id := started(a)
		if err := a.stub.AddAttempt(id, facestub.Attempt{Decision: "realface"}); err != nil {
			a.t.Fatalf("AddAttempt: %v", err)
		}
		return id
	}
	callback := func(a *app, id string) (string, string) {
		return answerOf(a.callback("GET", a.signedCallback(id), browserGET)), id
	}
	reconcile := func(a *app, id string) (string, string) { return strings.Join(a.reconcile(), "\n"), id }
	// announced is a session (v, or a new one) cancelled and announced: its event sent and its
	// purge entry filed, its other entries dropped.
	announced := func(a *app, v ...sessionView) string {
		if len(v) == 0 {
			v = append(v, a.start(``))
		}
		a.cancel(v[0])
		a.passDue(v[0]) // its expiry entry too, dropped as the session is final
		a.clock.Advance(announceWait)
		a.reconcile()
		return v[0].SessionID
	}
	return []writeScenario{
		{
			name: "StartSession", writes: []string{"insert session", "PUT due:expire"},
			call: startCall(`{"externalReference":"w"}`, false),
		},
		{
			name: "StartSession with Idempotency-Key",
			// The second reservation is the replay's, which meets the first.
			writes: []string{"insert idempotency", "insert session", "PUT due:expire", "PUT idempotency", "PUT due:forget-key", "insert idempotency"},
			call:   startCall(`{"externalReference":"w"}`, true),
		},
		{
			name:   "StartSession with issueLink",
			writes: []string{"insert session", "PUT due:expire"}, // the row is inserted linkIssued
			call:   startCall(`{"externalReference":"w","issueLink":true}`, false),
		},
		{
			name:   "StartSession with issueLink and Idempotency-Key",
			writes: []string{"insert idempotency", "insert session", "PUT due:expire", "PUT idempotency", "PUT due:forget-key", "insert idempotency"},
			call:   startCall(`{"externalReference":"w","issueLink":true}`, true),
		},
		{
			name: "IssueLink", writes: []string{"PUT session"}, setup: started,
			call: func(a *app, id string) (string, string) { return answerOf(a.link(id, nil)), id },
		},
		{
			name: "Callback after a finished attempt", setup: finished, call: callback,
			writes: []string{"PUT due:announce", "batch", "PATCH event", "PATCH session"},
		},
		{
			name: "Callback before any attempt", setup: started, call: callback,
			writes: []string{"PUT due:abandon", "PUT session"},
		},
		{
			name: "Cancel", setup: started,
			writes: []string{"PUT due:announce", "batch", "PATCH event", "PATCH session"},
			call: func(a *app, id string) (string, string) {
				return answerOf(a.do("DELETE", "/api/sessions/"+id, nil, nil)), id
			},
		},
		{
			name: "Reconcile expiring a session", call: reconcile,
			setup: func(a *app) string {
				v := a.start(``)
				a.passDue(v)
				return v.SessionID
			},
			writes: []string{"PUT due:announce", "batch", "PATCH event", "PATCH session", "DELETE due:expire"},
		},
		{
			name: "Reconcile abandoning a session", call: reconcile,
			setup: func(a *app) string {
				id := started(a)
				if r := a.callback("GET", a.signedCallback(id), browserGET); r.status != http.StatusSeeOther {
					a.t.Fatalf("callback = %d, want 303", r.status)
				}
				a.clock.Advance(a.srv.settings.AbandonAfter + time.Second)
				return id
			},
			writes: []string{"PUT due:announce", "batch", "PATCH event", "PATCH session", "DELETE due:abandon"},
		},
		{
			name: "Reconcile closing an announced session", call: reconcile,
			setup: func(a *app) string {
				v := a.start(``)
				a.cancel(v)
				a.clock.Advance(announceWait)
				return v.SessionID
			},
			writes: []string{"PUT due:purge", "DELETE due:announce"},
		},
		{
			name: "Reconcile purging a session", purges: true,
			// A run whose delete's answer was lost finds the rows gone when it tries again, and
			// cannot tell its own delete from another run's: it does not count the session as
			// purged. The table (every row gone) is what the case checks, not that count.
			call: func(a *app, id string) (string, string) {
				report, _ := reconcile(a, id)
				return regexp.MustCompile(`\d+ purged`).ReplaceAllString(report, "N purged"), id
			},
			setup: func(a *app) string {
				id := announced(a)
				a.clock.Advance(a.srv.settings.Retention + time.Second)
				return id
			},
			writes: []string{"batch", "DELETE due:purge"},
		},
		{
			name: "Reconcile forgetting an Idempotency-Key", call: reconcile,
			setup: func(a *app) string {
				h := map[string]string{"Idempotency-Key": "w-" + randomHex(a.t, 8)}
				r := a.do("POST", "/api/sessions", []byte(`{}`), h)
				if r.status != http.StatusCreated {
					a.t.Fatalf("start = %d %s, want 201", r.status, r.body)
				}
				id := announced(a, r.session(a.t))
				a.clock.Advance(a.srv.opts.IdempotencyWindow)
				return id
			},
			writes: []string{"DELETE idempotency", "DELETE due:forget-key"},
		},
	}
}

// writeRun is what one run of a scenario ended with.
type writeRun struct {
	writes         []string
	answer         string
	sessionID      string
	state          []string
	faceCreates    int
	links          int
	liveFaceTokens int
}

// runWrite runs sc on a fresh app whose store reaches the table through a proxy, spoiling the
// write named write (its skip+1-th occurrence) with fault when fault is non-zero; then it lets
// Reconcile run twice, long after, so that anything left undone is done (and a duplicate shows).
func runWrite(t *testing.T, sb *services.ServiceBus, sc writeScenario, write string, skip int, fault faultproxy.Fault) writeRun {
	t.Helper()
	a := newApp(t, &appOptions{ServiceBus: sb})
	id := ""
	if sc.setup != nil {
		id = sc.setup(a)
	}
	p := a.throughProxy(t)
	if fault != 0 {
		p.Inject(faultproxy.Rule{Fault: fault, Skip: skip, Match: func(method, path string, body []byte) bool {
			w, ok := writeOf(faultproxy.Exchange{Method: method, Path: path, Body: body})
			return ok && w == write
		}})
	}
	seen := len(p.Exchanges())
	var run writeRun
	run.answer, run.sessionID = sc.call(a, id)
	run.writes = writesOf(p.Exchanges()[seen:])
	if fault != 0 && p.Pending() != 0 {
		t.Fatalf("write %q #%d was never made: the case proves nothing (writes %q)", write, skip+1, run.writes)
	}
	a.clock.Advance(waitForever)
	a.reconcile()
	a.clock.Advance(waitForever)
	a.reconcile()
	run.state = a.tableState()
	run.faceCreates = a.stub.Stats().Create
	run.links = len(a.quick.IssuedLinkIDs())
	for _, tok := range a.stub.IssuedTokens() {
		if _, _, ok := a.stub.SessionByToken(tok); ok {
			run.liveFaceTokens++
		}
	}
	return run
}

// TestEveryTableWriteMayLoseItsAnswer (issue 10, fault 10): for each table write of StartSession
// (with and without Idempotency-Key and issueLink), IssueLink, Callback, Cancel and Reconcile,
// the write commits and its answer is then lost (connection reset) or replaced by a 500. Each
// call answers as it does without the fault, and ends, once Reconcile has run long after (every
// session is then final: expired if nothing else), with the same table (one session row, one
// event, the same due entries), the same Face sessions and links, and one delivered event per
// session. The writes each call makes are recorded first and must be exactly the ones
// listed: a new write without its case fails here.
func TestEveryTableWriteMayLoseItsAnswer(t *testing.T) {
	started := time.Now()
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	var finals []string
	cases := 0
	for _, sc := range writeScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			base := runWrite(t, sb, sc, "", 0, 0)
			if diff := cmp.Diff(slices.Sorted(slices.Values(sc.writes)), slices.Sorted(slices.Values(base.writes))); diff != "" {
				t.Fatalf("the call's table writes differ from its cases (-listed +made):\n%s", diff)
			}
			finals = append(finals, base.sessionID)
			sessions, sent := 0, 0
			for _, row := range base.state {
				if strings.HasPrefix(row, "session ") && !strings.HasPrefix(row, "session created") {
					sessions++
				}
				if row == "event sent=true" {
					sent++
				}
			}
			switch {
			case sc.purges && len(base.state) != 0:
				t.Fatalf("without a fault the call ended with %q, want every row of the session deleted", base.state)
			case !sc.purges && (sessions != 1 || sent != 1):
				t.Fatalf("without a fault the call ended with %q, want one final session and its event sent", base.state)
			}
			for i, w := range sc.writes {
				skip := 0
				for _, earlier := range sc.writes[:i] {
					if earlier == w {
						skip++
					}
				}
				for _, fault := range []faultproxy.Fault{faultproxy.Lose, faultproxy.Fail} {
					t.Run(fmt.Sprintf("%s #%d/%s", w, skip+1, fault), func(t *testing.T) {
						cases++
						got := runWrite(t, sb, sc, w, skip, fault)
						finals = append(finals, got.sessionID)
						if got.answer != base.answer {
							t.Errorf("answer = %q, want %q as without the fault", got.answer, base.answer)
						}
						if diff := cmp.Diff(base.state, got.state); diff != "" {
							t.Errorf("table after the call and Reconcile (-without the fault +with it):\n%s", diff)
						}
						if got.faceCreates != base.faceCreates || got.links != base.links || got.liveFaceTokens != base.liveFaceTokens {
							t.Errorf("Face creates %d, links %d, live Face tokens %d; want %d, %d, %d as without the fault",
								got.faceCreates, got.links, got.liveFaceTokens, base.faceCreates, base.links, base.liveFaceTokens)
						}
					})
				}
			}
		})
	}
	var want []string
	for _, id := range finals {
		if id == "" {
			t.Errorf("a session without an id: a call failed")
			continue
		}
		want = append(want, id)
	}
	delivered := wantDeliveredOnce(t, sb, want)
	t.Logf("fault 10: %d spoiled writes over %d calls, %d sessions (each final), %d events delivered, %v",
		cases, len(writeScenarios()), len(want), delivered, time.Since(started).Round(time.Second))
}

// An IssueLink whose swap went through but whose write of the link fails (the table refuses it,
// every try) answers 503 and drops the Face token the quick link service spent: the row keeps no
// dead secret, and a later IssueLink is told the link is unavailable rather than trying again.
func TestIssueLinkDropsTheTokenWhenTheLinkCannotBeRecorded(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(``)
	p := a.throughProxy(t)
	p.Inject(faultproxy.Rule{Method: "PUT", Path: "RowKey='session'", Body: `"LinkIssuedAt"`, Fault: faultproxy.Refuse, Times: 100})
	a.link(v.SessionID, nil).wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	if p.Spoiled() == 0 {
		t.Fatal("the link's write was never refused: the test proves nothing")
	}
	if got := len(a.quick.IssuedLinkIDs()); got != 1 {
		t.Fatalf("quick links created = %d, want the one swap", got)
	}
	a.checkTokenDropped(t, v.SessionID)
	p.Clear()
	a.link(v.SessionID, nil).wantProblem(t, http.StatusConflict, "link_unavailable")
	if got := len(a.quick.IssuedLinkIDs()); got != 1 {
		t.Errorf("quick links created after the second IssueLink = %d, want still 1", got)
	}
}
