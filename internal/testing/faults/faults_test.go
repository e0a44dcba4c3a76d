package faults

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/testing/stack"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// suiteTimeout bounds the whole suite: three builds and five processes on two busy cores, the
// minimum session TTL (60 s) the expiry case waits out, and the Service Bus send pause (30 s)
// the outage case waits out; the cases run meanwhile.
const suiteTimeout = 5 * time.Minute

// quiet is how long the suite waits, before and after a last Reconcile, for a duplicate that
// would follow an event.
const quiet = 2 * time.Second

// ttlMin is the shortest session TTL the API (api/openapi.yaml, ttlSeconds) and the Face
// stand-in accept.
const ttlMin = 60

// sendPause is how long the handler skips sends after one failed (handlers/sendpause.go), and
// a little more.
const sendPause = 31 * time.Second

// figure is what one fault case did, for the suite's report.
type figure struct {
	fault    string
	sessions []string
	want     []liveness.Status
	wall     time.Duration
}

// run is the stack and the sessions the suite started, with what each must end as.
type run struct {
	st       *stack.Stack
	figures  []*figure
	secrets  stack.Secrets // links and callback signatures the suite saw
	sessions int
}

// TestProcessFaults runs the handler as a process and injects, one after another on one stack,
// faults 4, 5, 6 and 9 of issue 10 and the expiry and abandon cases; then, after a quiet period
// and one more Reconcile, every session must be final in the table with exactly one event, and
// no secret may appear in any log line, answer, event or row.
func TestProcessFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{
		Root:         testenv.RepoRoot(t),
		AbandonAfter: time.Second,
		BuildTags:    []string{"faulthooks"},
		TablesProxy:  true,
		// Announce entries due a second after the commit, expiry a second after the TTL: the
		// defaults (1 and 2 minutes) would hold the suite for minutes.
		HandlerEnv: []string{"FAULTHOOK_ANNOUNCE_DELAY=1s", "FAULTHOOK_EXPIRY_GRACE=1s"},
	})
	if err != nil {
		t.Fatalf("starting the local stack: %v", err)
	}
	defer st.Close()
	defer func() {
		if t.Failed() {
			lines := st.Lines.All()
			if len(lines) > 300 {
				lines = lines[len(lines)-300:]
			}
			t.Logf("the last %d lines of the stack's processes:\n%s", len(lines), strings.Join(lines, "\n"))
		}
	}()
	r := &run{st: st, secrets: stack.Secrets{}}

	// Started first: the user never returns, and the TTL cannot be shorter than a minute.
	expiring := r.start(ctx, t, ttlMin).SessionID
	expiredCase := &figure{fault: "user never returns → expired", sessions: []string{expiring}, want: []liveness.Status{liveness.StatusExpired}}
	started := time.Now()

	pid := st.Handler().Pid()
	t.Run("4 Service Bus down during a callback", func(t *testing.T) { r.serviceBusDown(ctx, t) })
	r.checkAlive(t, pid)
	var reconciledLater string
	var laterStarted time.Time
	t.Run("5 Azurite down during a callback", func(t *testing.T) { reconciledLater, laterStarted = r.azuriteDown(ctx, t) })
	r.checkAlive(t, pid)
	t.Run("6 handler killed between the commit and the send", func(t *testing.T) { r.killedAfterCommit(ctx, t) })
	pid = st.Handler().Pid()
	t.Run("9 idle Service Bus link detached", func(t *testing.T) { r.detached(ctx, t) })
	r.checkAlive(t, pid)
	t.Run("user returns without an attempt → abandoned", func(t *testing.T) { r.abandoned(ctx, t) })

	t.Run("user never returns → expired", func(t *testing.T) {
		r.finalizeByReconcile(ctx, t, expiring, liveness.StatusExpired, time.Until(started.Add((ttlMin+30)*time.Second)))
		expiredCase.wall = time.Since(started)
		r.figures = append(r.figures, expiredCase)
	})
	if reconciledLater != "" {
		t.Run("5b Azurite back: Reconcile finalizes the callback it refused", func(t *testing.T) {
			f := &figure{fault: "Azurite down during a callback, finalized by Reconcile", sessions: []string{reconciledLater}, want: []liveness.Status{liveness.StatusCompleted}}
			start := time.Now()
			r.finalizeByReconcile(ctx, t, reconciledLater, liveness.StatusCompleted, time.Until(laterStarted.Add((ttlMin+30)*time.Second)))
			f.wall = time.Since(start)
			r.figures = append(r.figures, f)
		})
	}
	r.checkAlive(t, pid)

	t.Run("exactly one event per final state after a quiet period and one more Reconcile", func(t *testing.T) {
		time.Sleep(quiet)
		if err := st.Reconcile(ctx); err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		time.Sleep(quiet)
		for _, f := range r.figures {
			for i, id := range f.sessions {
				r.checkFinal(ctx, t, f.fault, id, f.want[i])
			}
			t.Logf("%s: %d sessions, final %v, %d events delivered, %v", f.fault, len(f.sessions), f.want, r.delivered(f.sessions), f.wall.Round(100*time.Millisecond))
		}
	})

	t.Run("no secret in any log line, answer, event or table row", func(t *testing.T) {
		named, err := st.Secrets(ctx, r.sessions)
		if err != nil {
			t.Fatalf("%v", err)
		}
		for v, kind := range r.secrets {
			named[v] = kind
		}
		leaks, scanned, err := st.ScanForLeaks(ctx, named)
		if err != nil {
			t.Fatalf("%v", err)
		}
		for _, l := range leaks {
			t.Error(l)
		}
		t.Logf("events redelivered after a lost completion (not counted twice): %d", st.Events.Redelivered())
		t.Logf("secret scan: %d log lines, %d answers, %d events, %d rows for %d secrets; %d leaks",
			scanned.Lines, scanned.Answers, scanned.Events, scanned.Rows, len(named), len(leaks))
	})
}

// start starts a session with a link and a return URL; ttl 0 is the default TTL.
func (r *run) start(ctx context.Context, t *testing.T, ttl int) stack.Started {
	t.Helper()
	body := map[string]any{"issueLink": true, "returnUrl": r.st.DemoURL + "/done"}
	if ttl > 0 {
		body["ttlSeconds"] = ttl
	}
	s, err := r.st.StartSession(ctx, body)
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	r.sessions++
	r.secrets.Add("quick link URL", s.Link)
	return s
}

// capture plays the user's capture with outcome and returns the callback URL the quick link
// stand-in sends the browser back to.
func (r *run) capture(ctx context.Context, t *testing.T, s stack.Started, outcome string) string {
	t.Helper()
	cb, err := r.st.Capture(ctx, s.Link, outcome)
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	u, err := url.Parse(cb)
	if err != nil || u.Query().Get("sig") == "" {
		t.Fatalf("the callback URL has no sig (%v)", err)
	}
	r.secrets.Add("callback sig", u.Query().Get("sig"))
	return cb
}

// callback returns the user to cb and wants status; for a redirect, to the session's returnUrl.
func (r *run) callback(ctx context.Context, t *testing.T, cb string, want int) {
	t.Helper()
	status, location, err := r.st.Callback(ctx, cb)
	switch {
	case err != nil:
		t.Fatalf("callback: %v", err)
	case status != want:
		t.Fatalf("callback answered %d, want %d", status, want)
	case want == 303 && !strings.HasPrefix(location, r.st.DemoURL+"/done?"):
		t.Fatalf("callback redirected to %q, want the returnUrl %s/done?…", location, r.st.DemoURL)
	}
}

// status reads the session's Status from its row in Azurite.
func (r *run) status(ctx context.Context, t *testing.T, id string) liveness.Status {
	t.Helper()
	s, err := r.st.SessionStatus(ctx, id)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return liveness.Status(s)
}

// deliver runs Reconcile as the host does, once a second, until id's event arrived or limit
// passed; it fails the test in the second case.
func (r *run) deliver(ctx context.Context, t *testing.T, id string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for len(r.st.Events.For(id)) == 0 {
		if time.Now().After(deadline) {
			counters, err := r.st.ServiceBus().Counters()
			var got []string
			for _, ev := range r.st.Events.All() {
				got = append(got, ev.MessageID)
			}
			t.Fatalf("no event for session %s within %v of Reconcile runs; the stand-in's counters: %+v (%v); the receiver's errors: %v; events received: %v",
				id, limit, counters, err, r.st.Events.Err(), got)
		}
		if err := r.st.Reconcile(ctx); err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		if ctx.Err() != nil {
			t.Fatalf("%v", ctx.Err())
		}
		time.Sleep(time.Second)
	}
}

// finalizeByReconcile runs Reconcile once a second until id is final (then delivered), within
// limit, and wants it to end as want.
func (r *run) finalizeByReconcile(ctx context.Context, t *testing.T, id string, want liveness.Status, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !r.status(ctx, t, id).Final() {
		if time.Now().After(deadline) {
			t.Fatalf("session %s still %s after Reconcile runs for %v", id, r.status(ctx, t, id), limit)
		}
		if err := r.st.Reconcile(ctx); err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		time.Sleep(time.Second)
	}
	if got := r.status(ctx, t, id); got != want {
		t.Fatalf("session %s ended %s, want %s", id, got, want)
	}
	r.deliver(ctx, t, id, 30*time.Second)
}

// checkFinal wants id's row final as want and exactly one event for it, the final state's.
func (r *run) checkFinal(ctx context.Context, t *testing.T, fault, id string, want liveness.Status) {
	t.Helper()
	if got := r.status(ctx, t, id); got != want {
		t.Errorf("%s: session %s is %s in the table, want %s", fault, id, got, want)
	}
	evs := r.st.Events.For(id)
	if len(evs) != 1 {
		t.Errorf("%s: session %s: %d events delivered on %s/%s, want exactly 1", fault, id, len(evs), stack.Topic, stack.Subscription)
		return
	}
	if got, wantID := evs[0].MessageID, events.MessageID(id, want); got != wantID {
		t.Errorf("%s: session %s: event %q delivered, want %q", fault, id, got, wantID)
	}
}

func (r *run) delivered(ids []string) int {
	n := 0
	for _, id := range ids {
		n += len(r.st.Events.For(id))
	}
	return n
}

// checkAlive wants the handler still the process pid: a dependency's failure must never end it.
func (r *run) checkAlive(t *testing.T, pid int) {
	t.Helper()
	h := r.st.Handler()
	select {
	case <-h.Done():
		t.Fatalf("the handler exited (%v) on a dependency failure", h.Err())
	default:
	}
	if h.Pid() != pid {
		t.Fatalf("the handler is pid %d, want %d: it was restarted", h.Pid(), pid)
	}
}

// record adds a case's figure once its sessions are final.
func (r *run) record(fault string, start time.Time, ids []string, want ...liveness.Status) {
	r.figures = append(r.figures, &figure{fault: fault, sessions: ids, want: want, wall: time.Since(start)})
}

// serviceBusDown is fault 4: the Service Bus stand-in stops while the user returns. The redirect
// and the commit do not wait for it; once it is back (on the same port), Reconcile sends the event
// from the outbox, after the send pause the failed send started.
func (r *run) serviceBusDown(ctx context.Context, t *testing.T) {
	start := time.Now()
	s := r.start(ctx, t, 0)
	cb := r.capture(ctx, t, s, "realface")
	if err := r.st.StopServiceBus(); err != nil {
		t.Fatalf("stopping the Service Bus stand-in: %v", err)
	}
	r.callback(ctx, t, cb, 303)
	if got := r.status(ctx, t, s.SessionID); got != liveness.StatusCompleted {
		t.Fatalf("after the callback the session is %s, want completed (committed while Service Bus is down)", got)
	}
	failedAt := time.Now()
	if err := r.st.StartServiceBus(); err != nil {
		t.Fatalf("restarting the Service Bus stand-in: %v", err)
	}
	// The failed send paused sends for 30 s; a Reconcile run within the pause files the announce
	// entry again a minute later (retryDelay), so the first run here comes after it, as the
	// host's timer (every minute) would.
	time.Sleep(time.Until(failedAt.Add(sendPause)))
	r.deliver(ctx, t, s.SessionID, 30*time.Second)
	r.record("4 Service Bus down during a callback", start, []string{s.SessionID}, liveness.StatusCompleted)
}

// azuriteDown is fault 5: Azurite is cut off from the handler (faultproxy down) while users return.
// The callback answers 503 and records nothing, sends nothing; once Azurite is back, a repeated
// callback finalizes one session at once, and Reconcile the other (returned, with when it
// started, to the caller: its expiry entry comes due a second after its one-minute TTL, and
// Reconcile finds the attempt).
func (r *run) azuriteDown(ctx context.Context, t *testing.T) (reconciledLater string, laterStarted time.Time) {
	start := time.Now()
	again := r.start(ctx, t, 0)
	laterStarted = time.Now()
	later := r.start(ctx, t, ttlMin)
	cbAgain := r.capture(ctx, t, again, "realface")
	cbLater := r.capture(ctx, t, later, "realface")
	r.st.TablesProxy.SetDown(true)
	began := time.Now()
	r.callback(ctx, t, cbAgain, 503)
	r.callback(ctx, t, cbLater, 503)
	t.Logf("two callbacks answered 503 in %v with Azurite down", time.Since(began).Round(100*time.Millisecond))
	r.st.TablesProxy.SetDown(false)
	for _, s := range []stack.Started{again, later} {
		if got := r.status(ctx, t, s.SessionID); got != liveness.StatusLinkIssued {
			t.Errorf("after the refused callback session %s is %s, want linkIssued (nothing recorded)", s.SessionID, got)
		}
	}
	time.Sleep(quiet)
	if n := r.delivered([]string{again.SessionID, later.SessionID}); n != 0 {
		t.Errorf("%d events delivered for callbacks answered 503, want 0", n)
	}
	r.callback(ctx, t, cbAgain, 303)
	r.deliver(ctx, t, again.SessionID, 10*time.Second)
	r.record("5 Azurite down during a callback, repeated callback", start, []string{again.SessionID}, liveness.StatusCompleted)
	return later.SessionID, laterStarted
}

// killedAfterCommit is fault 6: the handler (built with faulthooks) pauses right after the
// callback's commit, before the send; the test SIGKILLs it there, starts it again on the same port
// and runs Reconcile, which sends the event the killed process never did.
func (r *run) killedAfterCommit(ctx context.Context, t *testing.T) {
	start := time.Now()
	if err := r.st.RestartHandler(ctx, "FAULTHOOK_PAUSE_AFTER_COMMIT=1"); err != nil {
		t.Fatalf("restarting the handler with the pause: %v", err)
	}
	pausing := true
	defer func() {
		// A case that failed half-way must not leave a handler that pauses every final state.
		if pausing {
			if err := r.st.RestartHandler(ctx); err != nil {
				t.Errorf("restarting the handler without the pause: %v", err)
			}
		}
	}()
	s := r.start(ctx, t, 0)
	cb := r.capture(ctx, t, s, "realface")
	answered := make(chan error, 1)
	go func() {
		status, _, err := r.st.Callback(ctx, cb)
		if err == nil {
			err = errors.New("answered " + http.StatusText(status))
		}
		answered <- err
	}()
	if _, err := r.st.WaitLine(ctx, "handler", "FAULTHOOK paused after commit "+s.SessionID, 30*time.Second); err != nil {
		t.Fatalf("the handler did not pause after the commit: %v", err)
	}
	if got := r.status(ctx, t, s.SessionID); got != liveness.StatusCompleted {
		t.Fatalf("paused after the commit, the session is %s, want completed", got)
	}
	if err := r.st.KillHandler(); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	if err := <-answered; err == nil || strings.HasPrefix(err.Error(), "answered") {
		t.Errorf("the callback cut by SIGKILL: %v, want no answer", err)
	}
	if n := len(r.st.Events.For(s.SessionID)); n != 0 {
		t.Fatalf("%d events before the restart, want 0 (killed before the send)", n)
	}
	pausing = false
	if err := r.st.RestartHandler(ctx); err != nil {
		t.Fatalf("restarting the handler: %v", err)
	}
	r.deliver(ctx, t, s.SessionID, 30*time.Second)
	r.record("6 handler SIGKILLed between the commit and the send", start, []string{s.SessionID}, liveness.StatusCompleted)
}

// detached is fault 9: the handler's connection to Service Bus is idle when the stand-in detaches
// its sender link (as Service Bus does after 10 idle minutes), twice in a row; each next
// session's event is sent anyway, inline or from the outbox by Reconcile.
func (r *run) detached(ctx context.Context, t *testing.T) {
	start := time.Now()
	var ids []string
	for _, fault := range []struct {
		name   string
		inject func() error
	}{
		{"detach the topic's links", func() error { return r.st.ServiceBus().Detach(stack.Topic) }},
		{"detach the topic's links again", func() error { return r.st.ServiceBus().Detach(stack.Topic) }},
	} {
		s := r.start(ctx, t, 0)
		cb := r.capture(ctx, t, s, "realface")
		time.Sleep(time.Second) // the connection idles
		if err := fault.inject(); err != nil {
			t.Fatalf("%s: %v", fault.name, err)
		}
		r.callback(ctx, t, cb, 303)
		inline := r.st.Events.WaitFor(ctx, s.SessionID, 5*time.Second, 0)
		t.Logf("%s: %d events within 5 s of the callback (inline send)", fault.name, len(inline))
		r.deliver(ctx, t, s.SessionID, 45*time.Second)
		ids = append(ids, s.SessionID)
	}
	r.record("9 idle Service Bus sender link detached (twice)", start, ids, liveness.StatusCompleted, liveness.StatusCompleted)
}

// abandoned: the user comes back without an attempt; the callback records the return, and
// Reconcile abandons the session ABANDON_AFTER_SECONDS later.
func (r *run) abandoned(ctx context.Context, t *testing.T) {
	start := time.Now()
	s := r.start(ctx, t, 0)
	cb := r.capture(ctx, t, s, "abandon")
	r.callback(ctx, t, cb, 303)
	r.finalizeByReconcile(ctx, t, s.SessionID, liveness.StatusAbandoned, 30*time.Second)
	r.record("user returns without an attempt → abandoned", start, []string{s.SessionID}, liveness.StatusAbandoned)
}
