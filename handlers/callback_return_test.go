package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// The returnUrl's own query reaches the browser as it was stored: pairs that net/url cannot parse,
// their order and bare keys included; only sessionId and status are set by the callback.
func TestCallbackKeepsTheReturnURLQueryAsStored(t *testing.T) {
	a := newApp(t, nil)
	// {id} stands for the session's id.
	tests := []struct{ returnURL, want string }{
		{"https://app.example.com/done?x=1;y=2&k=v", "https://app.example.com/done?x=1;y=2&k=v&sessionId={id}&status=created"},
		{"https://app.example.com/done?bad=%zz&k=v", "https://app.example.com/done?bad=%zz&k=v&sessionId={id}&status=created"},
		{"https://app.example.com/done?z=1&a=2", "https://app.example.com/done?z=1&a=2&sessionId={id}&status=created"},
		{"https://app.example.com/done?flag&k=v", "https://app.example.com/done?flag&k=v&sessionId={id}&status=created"},
		{"https://app.example.com/done?sessionId=other&k=v&status=completed", "https://app.example.com/done?k=v&sessionId={id}&status=created"},
		{"https://app.example.com/done", "https://app.example.com/done?sessionId={id}&status=created"},
		{"https://app.example.com/done?", "https://app.example.com/done?sessionId={id}&status=created"},
		{"https://app.example.com/done?k=v#top", "https://app.example.com/done?k=v&sessionId={id}&status=created#top"},
		{"https://app.example.com/done?name=José", "https://app.example.com/done?name=Jos%C3%A9&sessionId={id}&status=created"},
		{"https://app.example.com/done?SessionId=other&STATUS=completed&k=v", "https://app.example.com/done?k=v&sessionId={id}&status=created"},
	}
	for _, tt := range tests {
		t.Run(tt.returnURL, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"returnUrl": tt.returnURL})
			v := a.on(t).start(string(body))
			r := a.on(t).callback("GET", a.on(t).signedCallback(v.SessionID), browserGET)
			if r.status != http.StatusSeeOther {
				t.Fatalf("status = %d, want 303", r.status)
			}
			if got, want := r.header.Get("Location"), strings.ReplaceAll(tt.want, "{id}", v.SessionID); got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
		})
	}
}

// An abandon entry that comes due while the user is in the middle of an attempt (a link scanner
// followed the callback early, or the user came back and started again) does not end the
// session: it looks again one abandon period later, and the attempt's outcome is recorded.
func TestReconcileDoesNotAbandonARunningAttempt(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"returnUrl":"https://app.example.com/done"}`)
	a.callback("GET", a.signedCallback(v.SessionID), nil).wantRedirect(t, "https://app.example.com/done", v.SessionID, liveness.StatusCreated)
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Status: facestub.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(a.srv.settings.AbandonAfter + time.Second)
	a.reconcile()
	if got := a.storedSession(v.SessionID).Status; got != liveness.StatusCreated {
		t.Fatalf("with an attempt running, the due abandon entry made the session %s, want still created", got)
	}
	if _, err := a.face.Get(context.Background(), faceKind(liveness.KindLiveness), v.SessionID); err != nil {
		t.Fatalf("the Face session of the running attempt: %v (it must not be deleted)", err)
	}
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(a.srv.settings.AbandonAfter + time.Second)
	a.reconcile()
	if got := a.storedSession(v.SessionID); got.Status != liveness.StatusCompleted || got.Outcome == nil || got.Outcome.Decision != "realface" {
		t.Errorf("after the attempt finished the session is %s (%+v), want completed realface", got.Status, got.Outcome)
	}
}

// A browser that leaves while the callback reads Face still has its return recorded: the callback
// is a signal the app cannot ask for again.
func TestCallbackRecordsTheReturnOfABrowserThatLeft(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"returnUrl":"https://app.example.com/done"}`)
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Status: facestub.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url+a.signedCallback(v.SessionID), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if resp, err := a.client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the callback answered %d before the client gave up; the poll should take longer", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second) // the poll's bound is 3 s; this only guards a hang
	for a.storedSession(v.SessionID).ReturnedAt.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the return of a browser that left during the poll was never recorded")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Callbacks that arrive together for one session share one Face poll: a burst of anonymous
// callbacks (a link is all they need) does not multiply the reads of the shared Face resource.
func TestCallbackBurstSharesOneFacePoll(t *testing.T) {
	a := newApp(t, nil)
	fast := a.variant(t, func(_ *Settings, o *Options) { o.CallbackPoll = 1500 * time.Millisecond })
	v := a.start(`{"returnUrl":"https://app.example.com/done"}`)
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Status: facestub.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	link := fast.signedCallback(v.SessionID)
	before := a.stub.Stats().Get
	const callers = 20
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() { fast.callback("GET", link, browserGET) })
	}
	wg.Wait()
	// One poll reads every 0.5 s for 1.5 s: 4 reads; a second poll may start after the first
	// ended for callers whose conflict made them decide again. 20 separate polls would be 80.
	if got := a.stub.Stats().Get - before; got > 10 {
		t.Errorf("%d callbacks made %d Face reads, want one shared poll (at most 10)", callers, got)
	}
}
