package handlers

import (
	"context"
	"net/http"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/liveness-quicklink/functions/internal/face"
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
	for range upstreamFailuresToStop + 2 {
		views = append(views, a.start(`{"externalReference":"outage"}`))
	}
	a.passDue(views[len(views)-1]) // the last one is due last: all are due now

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
	if len(tried) != upstreamFailuresToStop {
		t.Errorf("Reconcile called Face for %d sessions while Face failed every call, want it to stop after %d in a row", len(tried), upstreamFailuresToStop)
	}
	for _, v := range views {
		if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusCreated {
			t.Errorf("session %s = %s during the outage, want still created (and due)", v.SessionID, g.Status)
		}
	}
}

// failingFace fails every call for some sessions, as Face answers a session it will not serve.
type failingFace struct {
	FaceSessions
	ids map[string]bool
}

func (f *failingFace) Get(ctx context.Context, kind face.Kind, id string) (*face.Session, error) {
	if f.ids[id] {
		return nil, &azcore.ResponseError{StatusCode: http.StatusForbidden, ErrorCode: "PermissionDenied"}
	}
	return f.FaceSessions.Get(ctx, kind, id)
}

// One session that Face keeps refusing must not hold up the sessions due after it, run after run.
func TestReconcileGoesPastOneFailingSession(t *testing.T) {
	a := newApp(t, nil)
	stuck := a.start(`{"ttlSeconds":60}`)
	a.clock.Advance(time.Minute) // the others are due a minute later: the stuck one comes first
	var others []sessionView
	for range upstreamFailuresToStop + 1 {
		others = append(others, a.start(`{"ttlSeconds":60}`))
	}
	a.passDue(others[len(others)-1])
	opts := a.srv.opts
	srv := New(Deps{Face: &failingFace{FaceSessions: a.face, ids: map[string]bool{stuck.SessionID: true}}, QuickLinks: a.srv.quickLinks, Store: a.store, Events: a.srv.events}, a.srv.settings, &opts)
	res, err := srv.Reconcile(t.Context())
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if want := (ReconcileResult{Due: len(others) + 1, Finalized: len(others), Failed: 1, Left: 1}); res != want {
		t.Errorf("Reconcile = %+v, want %+v", res, want)
	}
	for _, v := range others {
		if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusExpired {
			t.Errorf("session %s behind the failing one = %s, want expired", v.SessionID, g.Status)
		}
	}
	if g := a.do("GET", "/api/sessions/"+stuck.SessionID, nil, nil).session(t); g.Status != liveness.StatusCreated {
		t.Errorf("the failing session = %s, want still created (and due)", g.Status)
	}
}

func TestRetryDelayDoublesUpToAnHour(t *testing.T) {
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := retryDelay(i + 1); got != w {
			t.Errorf("retryDelay(%d) = %v, want %v", i+1, got, w)
		}
	}
}

// Sessions that keep failing are filed again for later, so the work behind them gets done in
// the following runs, however many fail.
func TestReconcileMovesFailingSessionsOutOfTheWay(t *testing.T) {
	a := newApp(t, nil)
	var stuck []sessionView
	for range upstreamFailuresToStop {
		stuck = append(stuck, a.start(`{"ttlSeconds":60}`))
	}
	a.clock.Advance(time.Minute) // the others are due a minute later: the stuck ones come first
	var others []sessionView
	for range 2 {
		others = append(others, a.start(`{"ttlSeconds":60}`))
	}
	a.passDue(others[len(others)-1])
	refused := map[string]bool{}
	for _, v := range stuck {
		refused[v.SessionID] = true
	}
	opts := a.srv.opts
	srv := New(Deps{Face: &failingFace{FaceSessions: a.face, ids: refused}, QuickLinks: a.srv.quickLinks, Store: a.store, Events: a.srv.events}, a.srv.settings, &opts)
	for range 2 { // the first run stops at the failures; the next finds the others first
		if _, err := srv.Reconcile(t.Context()); err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
	}
	for _, v := range others {
		if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusExpired {
			t.Errorf("session %s behind %d failing ones = %s, want expired", v.SessionID, len(stuck), g.Status)
		}
	}
	for _, v := range stuck {
		due := a.dueFor(v.SessionID)
		if len(due) != 1 || due[0].Attempts != 1 || !due[0].Due.Equal(a.clock.Now().Add(retryDelay(1))) {
			t.Errorf("due entries of a failing session = %+v, want its expiry filed again a minute later, 1 attempt", due)
		}
	}
}
