package handlers

import (
	"net/http"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// After a final state is recorded the Face session must be deleted (design §4: the token, the link
// and any session image die with it). When that delete fails, Reconcile only logs it and drops the
// due item; FaceDeleted stays false and no later run tries again, so the session image outlives the
// session although Face is healthy again.
func TestReconcileRetriesAFailedFaceDelete(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"image","enableSessionImage":true}`)
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	a.hooks.set(func(r *http.Request) {
		if r.Method == http.MethodDelete { // Face fails every delete, after the read went through
			a.stub.SetFaults(facestub.Faults{ServerErrors: 100})
		}
	})
	a.passDue(v)
	a.reconcile()
	a.hooks.set(nil)
	a.stub.SetFaults(facestub.Faults{})
	if _, err := a.faceSession(v.Kind, v.SessionID); err != nil {
		t.Fatalf("the Face session is already gone (%v): the test proves nothing", err)
	}
	if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusCompleted {
		t.Fatalf("status after Reconcile = %s, want completed", g.Status)
	}

	// Face is healthy again; Reconcile keeps running on its schedule.
	for range 3 {
		a.clock.Advance(2 * time.Minute)
		a.reconcile()
	}
	if _, err := a.faceSession(v.Kind, v.SessionID); err == nil {
		t.Errorf("the Face session (and its session image) still exists after Face recovered; want it deleted")
	}
}

// Reconcile has no budget: with Face down, each due item costs a full Face retry cycle (about 5 s
// of backoff on 5xx, up to 30 s when Face hangs), and a batch of 100 runs 9 to 50 minutes, far past
// functionTimeout (5 min), so the host fails the run and recycles the worker. The first
// upstream failure from Face should end the run; the items stay due.
func TestReconcileStopsWhenFaceIsDown(t *testing.T) {
	a := newApp(t, nil)
	var views []sessionView
	for range 3 {
		views = append(views, a.start(`{"externalReference":"outage"}`))
	}
	a.passDue(views[len(views)-1]) // the last one is due last: all three are due now

	var mu sync.Mutex
	tried := map[string]bool{}
	a.hooks.set(func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tried[path.Base(r.URL.Path)] = true
	})
	a.stub.SetFaults(facestub.Faults{ServerErrors: 1000})
	a.reconcile()
	a.hooks.set(nil)

	mu.Lock()
	defer mu.Unlock()
	if len(tried) > 1 {
		t.Errorf("Reconcile called Face for %d sessions while Face failed every call, want it to stop after the first", len(tried))
	}
	for _, v := range views {
		if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusCreated {
			t.Errorf("session %s = %s during the outage, want still created (and due)", v.SessionID, g.Status)
		}
	}
}
