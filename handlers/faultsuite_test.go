package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// wantDeliveredOnce fails t unless the all subscription of sb delivers exactly one event for each
// of sessionIDs and nothing else, a second after the last arrived (a late duplicate shows), and
// returns how many it delivered.
func wantDeliveredOnce(t *testing.T, sb *services.ServiceBus, sessionIDs []string) int {
	t.Helper()
	msgs := testenv.Receive(t, sb, topic, "all", len(sessionIDs))
	time.Sleep(time.Second)
	var got []string
	for _, m := range msgs {
		id, _, _ := strings.Cut(m.MessageID, "/")
		got = append(got, id)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(sessionIDs)), slices.Sorted(slices.Values(got))); diff != "" {
		t.Errorf("delivered events by session (-one per session +delivered):\n%s", diff)
	}
	if _, all, _ := counters(t, sb); all.Accepted != len(sessionIDs) {
		t.Errorf("subscription all accepted %d events, want exactly %d: one per session", all.Accepted, len(sessionIDs))
	}
	return len(msgs)
}

// faceTimes records when each Face request of a arrives.
type faceTimes struct {
	mu sync.Mutex
	at []time.Time
}

func (f *faceTimes) record(*http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at = append(f.at, time.Now())
}

// gaps returns the time between consecutive Face requests so far, and forgets them.
func (f *faceTimes) gaps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(f.at); i++ {
		out = append(out, f.at[i].Sub(f.at[i-1]))
	}
	f.at = nil
	return out
}

// TestFaceFaultsThenServes (issue 10, faults 1 and 2): Face throttles twice with Retry-After: 1,
// or fails three times with 500, on the create of a StartSession and again on the read of a
// Callback after a finished attempt; both calls succeed within the Face client's total bound, a
// throttled retry waits the second it was told, and the session ends completed with one event.
func TestFaceFaultsThenServes(t *testing.T) {
	started := time.Now()
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	tests := []struct {
		name    string
		faults  facestub.Faults
		minGap  time.Duration // between a failed try and the next
		retries int
	}{
		{"429 with Retry-After 1 twice", facestub.Faults{Throttle: 2, RetryAfterSeconds: 1}, 950 * time.Millisecond, 2},
		{"500 three times", facestub.Faults{ServerErrors: 3}, 0, 3},
	}
	var ids []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, &appOptions{ServiceBus: sb})
			times := &faceTimes{}
			a.hooks.set(times.record)
			check := func(call string, took time.Duration) {
				t.Helper()
				gaps := times.gaps()
				if len(gaps) < tt.retries {
					t.Fatalf("%s: %d Face requests, want the %d failed tries and the one that served", call, len(gaps)+1, tt.retries)
				}
				for i, g := range gaps[:tt.retries] {
					if g < tt.minGap {
						t.Errorf("%s: retry %d came %v after the try before, want at least %v (Retry-After)", call, i+1, g, tt.minGap)
					}
				}
				if took >= upstream.DefaultTotalTimeout {
					t.Errorf("%s took %v, want within the Face client's total bound %v", call, took, upstream.DefaultTotalTimeout)
				}
				t.Logf("%s: %v, gaps between Face tries %v", call, took.Round(time.Millisecond), gaps)
			}

			a.stub.SetFaults(tt.faults)
			t0 := time.Now()
			v := a.start(`{"returnUrl":"https://app.example.com/done"}`)
			check("StartSession", time.Since(t0))
			ids = append(ids, v.SessionID)
			if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
				t.Fatalf("AddAttempt: %v", err)
			}

			// The browser's poll window (CallbackPoll, 3 s) is widened: what is measured is the
			// client's honoured waits, which a busy machine must not push past that window.
			cb := a.variant(t, func(_ *Settings, o *Options) { o.CallbackPoll = 10 * time.Second })
			a.stub.SetFaults(tt.faults)
			t0 = time.Now()
			r := cb.callback("GET", cb.signedCallback(v.SessionID), browserGET)
			took := time.Since(t0)
			r.wantRedirect(t, "https://app.example.com/done", v.SessionID, liveness.StatusCompleted)
			check("Callback", took)
			if got := a.storedSession(v.SessionID); got.Status != liveness.StatusCompleted {
				t.Errorf("stored status %s, want completed", got.Status)
			}
			a.clock.Advance(waitForever)
			a.reconcile()
		})
	}
	n := wantDeliveredOnce(t, sb, ids)
	t.Logf("faults 1-2: %d sessions, %d events delivered, %v", len(ids), n, time.Since(started).Round(time.Second))
}

// TestFaceHangs (issue 10, fault 3): with every Face request held unanswered, each call that
// needs Face answers 503 upstream_unavailable with a Retry-After within the Face client's total
// bound, and records nothing: the table is as before (Reconcile files its entry again for later),
// no event. GetSession reads no Face and still answers. Once Face is back every session ends
// final with one event.
func TestFaceHangs(t *testing.T) {
	started := time.Now()
	const total = time.Second
	bound := total + 2*time.Second // the client's total, and the rest of the request
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	a := newApp(t, &appOptions{ServiceBus: sb, FaceTotalTimeout: total, FaceTryTimeout: 300 * time.Millisecond})
	v := a.start(`{"returnUrl":"https://app.example.com/done"}`)
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	link := a.signedCallback(v.SessionID)
	a.stub.SetFaults(facestub.Faults{Hang: true})

	calls := []struct {
		name string
		do   func() *reply
	}{
		{"StartSession", func() *reply { return a.do("POST", "/api/sessions", []byte(`{}`), nil) }},
		{"Cancel", func() *reply { return a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil) }},
		{"Callback (browser)", func() *reply { return a.callback("GET", link, browserGET) }},
		{"Callback (back end)", func() *reply { return a.callback("POST", link, plainPOST) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			before := a.rows()
			t0 := time.Now()
			r := c.do()
			took := time.Since(t0)
			if strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				if r.status != http.StatusServiceUnavailable {
					t.Errorf("status = %d, want 503", r.status)
				}
			} else {
				r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
			}
			if r.header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			if took > bound {
				t.Errorf("answered after %v, want within %v", took, bound)
			}
			if after := a.rows(); !mapsEqual(before, after) {
				t.Errorf("the table changed: %v → %v", before, after)
			}
			t.Logf("%s: %d in %v", c.name, r.status, took.Round(time.Millisecond))
		})
	}
	t.Run("GetSession", func(t *testing.T) {
		if r := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil); r.status != http.StatusOK || r.session(t).Status != liveness.StatusCreated {
			t.Errorf("GET = %d %s, want 200 created (it reads no Face)", r.status, r.body)
		}
	})
	t.Run("Reconcile", func(t *testing.T) {
		a := a.on(t)
		a.passDue(v)
		t0 := time.Now()
		logs := a.reconcile()
		if took := time.Since(t0); took > bound {
			t.Errorf("Reconcile took %v, want within %v", took, bound)
		}
		if len(logs) != 1 || !strings.HasSuffix(logs[0], "0 finalized, 0 events sent, 1 failed, 0 purged, 1 left") {
			t.Errorf("Reconcile = %q, want the one entry failed", logs)
		}
		if due := a.dueFor(v.SessionID); len(due) != 1 || due[0].Reason != liveness.DueExpire || due[0].Attempts != 1 {
			t.Errorf("due entries = %+v, want the expiry entry filed again", due)
		}
	})
	if got := a.storedSession(v.SessionID); got.Status != liveness.StatusCreated || !got.ReturnedAt.IsZero() {
		t.Errorf("session while Face hung: %s (returned %v), want created, nothing recorded", got.Status, got.ReturnedAt)
	}
	if _, found := a.outbox(v.SessionID); found {
		t.Errorf("an event was recorded while Face hung")
	}

	a.stub.SetFaults(facestub.Faults{})
	a.clock.Advance(2 * time.Hour) // past the entry's retry delay
	a.reconcile()
	if got := a.storedSession(v.SessionID); got.Status != liveness.StatusCompleted {
		t.Errorf("once Face is back: %s, want completed (the attempt was there)", got.Status)
	}
	a.clock.Advance(waitForever)
	a.reconcile()
	n := wantDeliveredOnce(t, sb, []string{v.SessionID})
	t.Logf("fault 3: 1 session, %d calls refused, %d events delivered, %v", len(calls)+1, n, time.Since(started).Round(time.Second))
}

// TestConcurrentCallbacks (issue 10, fault 7): 50 callbacks of one session at once, after a
// finished attempt, from browsers, form posts and back ends: every caller gets a valid answer
// (303 to the returnUrl, or 200 JSON to a back end), the session is completed once, one event.
func TestConcurrentCallbacks(t *testing.T) {
	started := time.Now()
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	a := newApp(t, &appOptions{ServiceBus: sb})
	v := a.start(`{"returnUrl":"https://app.example.com/done"}`)
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	link := a.signedCallback(v.SessionID)
	kinds := []struct {
		method string
		header map[string]string
	}{{"GET", browserGET}, {"POST", browserPOST}, {"POST", plainPOST}}
	const n = 50
	answers := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		k := kinds[i%len(kinds)]
		var body []byte
		if k.method == "POST" {
			body = []byte("outcome=realface")
		}
		req := a.request(k.method, link, body, k.header)
		wg.Go(func() {
			resp, b, err := roundTrip(a.client, req)
			switch {
			case err != nil:
				answers[i] = err.Error()
			case resp.StatusCode == http.StatusSeeOther:
				loc := resp.Header.Get("Location")
				answers[i] = "303 " + loc
			case resp.StatusCode == http.StatusOK && k.header["Accept"] == "application/json":
				var cb callbackAnswer
				_ = json.Unmarshal(b, &cb)
				answers[i] = "200 " + string(cb.Status)
			default:
				answers[i] = resp.Status + " " + string(bytes.TrimSpace(b))
			}
		})
	}
	wg.Wait()
	want303 := "303 https://app.example.com/done?sessionId=" + v.SessionID + "&status=completed"
	for i, got := range answers {
		if got != want303 && got != "200 completed" {
			t.Errorf("callback %d answered %.300q, want %q or 200 completed", i, got, want303)
		}
	}
	if got := a.storedSession(v.SessionID); got.Status != liveness.StatusCompleted {
		t.Errorf("stored status %s, want completed", got.Status)
	}
	a.clock.Advance(waitForever)
	a.reconcile()
	a.reconcile()
	delivered := wantDeliveredOnce(t, sb, []string{v.SessionID})
	t.Logf("fault 7: 1 session, %d concurrent callbacks, %d Face reads, %d events delivered, %v",
		n, a.stub.Stats().Get, delivered, time.Since(started).Round(time.Millisecond))
}

// TestRacingReconcileRuns (issue 10, fault 8): two Reconcile runs of two instances at once over
// the same 40 due sessions, half of them with a finished attempt: each session is finalized once
// (completed or expired), the two runs' counts add up to 40, and each has one event.
func TestRacingReconcileRuns(t *testing.T) {
	started := time.Now()
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	a := newApp(t, &appOptions{ServiceBus: sb})
	b := a.variant(t, func(*Settings, *Options) {})
	var ids []string
	var last sessionView
	for i := range 40 {
		last = a.start(``)
		ids = append(ids, last.SessionID)
		if i%2 == 0 {
			if err := a.stub.AddAttempt(last.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
				t.Fatalf("AddAttempt: %v", err)
			}
		}
	}
	a.passDue(last)

	var wg sync.WaitGroup
	logs := make([]string, 2)
	for i, url := range []string{a.url, b.url} {
		req, err := http.NewRequest("POST", url+"/Reconcile", strings.NewReader(timerEnvelope))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		wg.Go(func() {
			resp, body, err := roundTrip(a.client, req)
			if err != nil || resp.StatusCode != http.StatusOK {
				logs[i] = "failed"
				return
			}
			var env struct{ Logs []string }
			_ = json.Unmarshal(body, &env)
			logs[i] = strings.Join(env.Logs, "\n")
		})
	}
	wg.Wait()
	finalized := 0
	for i, l := range logs {
		var due, fin, sent, failed int
		if _, err := fmt.Sscanf(l, "reconcile: %d due, %d finalized, %d events sent, %d failed", &due, &fin, &sent, &failed); err != nil {
			t.Fatalf("run %d logged %q: %v", i+1, l, err)
		}
		finalized += fin
	}
	if finalized != 40 {
		t.Errorf("runs %q finalized %d sessions in all, want 40: each once", logs, finalized)
	}
	var completed, expired int
	for i, id := range ids {
		switch got := a.storedSession(id).Status; {
		case i%2 == 0 && got == liveness.StatusCompleted:
			completed++
		case i%2 == 1 && got == liveness.StatusExpired:
			expired++
		default:
			t.Errorf("session %d is %s, want %s", i, got, map[bool]liveness.Status{true: liveness.StatusCompleted, false: liveness.StatusExpired}[i%2 == 0])
		}
	}
	a.clock.Advance(waitForever)
	a.reconcile()
	b.reconcile()
	delivered := wantDeliveredOnce(t, sb, ids)
	t.Logf("fault 8: 40 sessions (%d completed, %d expired), runs %q, %d events delivered, %v",
		completed, expired, logs, delivered, time.Since(started).Round(time.Millisecond))
}
