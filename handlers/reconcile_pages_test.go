package handlers

import (
	"testing"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// One run reads the due index page by page until nothing due is left: a backlog larger than a
// page is finished in one run, not one page per timer tick.
func TestReconcileReadsEveryPageInOneRun(t *testing.T) {
	a := newApp(t, nil)
	var sessions []sessionView
	for i := range 7 {
		v := a.start(`{"ttlSeconds":60}`)
		if i%2 == 0 { // some with a finished attempt: their announce entries join the later pages
			if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
				t.Fatal(err)
			}
		}
		sessions = append(sessions, v)
	}
	a.passDue(sessions[len(sessions)-1])
	opts := a.srv.opts
	opts.ReconcileBatch = 2
	srv := New(Deps{Face: a.face, QuickLinks: a.srv.quickLinks, Store: a.store, Events: a.srv.events}, a.srv.settings, &opts)
	res, err := srv.Reconcile(t.Context())
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if res.Finalized != len(sessions) || res.Failed != 0 {
		t.Errorf("one run with pages of 2 = %+v, want all %d finalized, none failed", res, len(sessions))
	}
	for i, v := range sessions {
		want := liveness.StatusExpired
		if i%2 == 0 {
			want = liveness.StatusCompleted
		}
		if got := a.storedSession(v.SessionID).Status; got != want {
			t.Errorf("session %d = %s, want %s", i, got, want)
		}
	}
}
