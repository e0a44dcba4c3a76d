package handlers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/store"
	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// TestReconcileBudgetHoldsWithHangingDependencies: a run's budget holds because every call inside
// it ends when the run's context does, not at its own (much longer) call bound: with Face or the
// table hanging, a run with a 1 s budget ends within about 1 s, although one Face call may take
// 20 s and one table call 30 s (store.CallTimeout). Nothing is lost: the entries stay due, and
// the next run with Face back finalizes them.
func TestReconcileBudgetHoldsWithHangingDependencies(t *testing.T) {
	const budget = time.Second
	const slack = 2 * time.Second // scheduling on a busy machine; far below any call bound

	t.Run("Face hangs", func(t *testing.T) {
		a := newApp(t, &appOptions{FaceTotalTimeout: 20 * time.Second})
		for range 3 {
			a.start(``)
		}
		a.clock.Advance(time.Hour) // past every expiry and its grace
		a.stub.SetFaults(facestub.Faults{Hang: true})
		opts := a.srv.opts
		opts.ReconcileBudget = budget
		srv := New(Deps{Face: a.face, QuickLinks: a.srv.quickLinks, Store: a.store, Events: a.events}, a.srv.settings, &opts)

		start := time.Now()
		res, err := srv.Reconcile(t.Context())
		if took := time.Since(start); took > budget+slack {
			t.Errorf("Reconcile with Face hanging took %v, want at most its budget %v (+%v)", took, budget, slack)
		}
		if err != nil || res.Finalized != 0 {
			t.Errorf("Reconcile with Face hanging = %+v, %v; want nothing finalized and no error", res, err)
		}
		a.stub.Close() // releases the held calls
		a.stub.SetFaults(facestub.Faults{})
		if res, err := a.srv.Reconcile(t.Context()); err != nil || res.Finalized != 3 {
			t.Errorf("the next run with Face back = %+v, %v; want the 3 sessions finalized", res, err)
		}
	})

	t.Run("table and Face hang", func(t *testing.T) {
		a := newApp(t, &appOptions{FaceTotalTimeout: 20 * time.Second})
		a.start(``) // due later: the run has only the index to read
		proxy, connStr := faultproxy.InFront(t, testenv.StartAzurite(t).ConnectionString())
		svc, err := store.NewServiceClientFromConnectionString(connStr)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.New(t.Context(), svc, &store.Options{TablePrefix: a.prefix, Now: a.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		a.stub.SetFaults(facestub.Faults{Hang: true})
		proxy.Inject(faultproxy.Rule{Fault: faultproxy.Stall, Times: 1000})
		opts := a.srv.opts
		opts.ReconcileBudget = budget
		srv := New(Deps{Face: a.face, QuickLinks: a.srv.quickLinks, Store: st, Events: a.events}, a.srv.settings, &opts)

		start := time.Now()
		_, err = srv.Reconcile(t.Context())
		if took := time.Since(start); took > budget+slack {
			t.Errorf("Reconcile with the table hanging took %v, want at most its budget %v (+%v), not a table call's %v",
				took, budget, slack, store.CallTimeout)
		}
		if !errors.Is(err, liveness.ErrUpstreamUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Reconcile with the table hanging = %v, want the index unreadable", err)
		}
	})
}

// TestBudgetsNeedEveryCallBound: a dependency that cannot say how long one call takes makes the
// budgets unknowable, which Budgets says instead of guessing.
func TestBudgetsNeedEveryCallBound(t *testing.T) {
	a := newApp(t, nil)
	a.start(``)
	b, err := a.srv.Budgets()
	if err != nil {
		t.Fatalf("Budgets with the real clients: %v", err)
	}
	for _, e := range b {
		if e.Total() <= 0 {
			t.Errorf("%s: worst case %v, want a positive bound", e.Endpoint, e.Total())
		}
	}
	srv := New(Deps{Face: a.face, QuickLinks: a.srv.quickLinks, Store: a.store}, a.srv.settings, nil)
	srv.quickLinks = nil
	if _, err := srv.Budgets(); err == nil {
		t.Error("Budgets without a quick link client = nil error, want the missing bound named")
	}
}

// TestCallbackRedirectsPastASilentServiceBus: a namespace that accepts TCP and never answers does
// not hold the user's redirect past the send timeout after the commit; the event waits in the
// outbox for Reconcile.
func TestCallbackRedirectsPastASilentServiceBus(t *testing.T) {
	a := newApp(t, nil)
	a.serveWithEvents(t, silentPublisher(t))

	v := a.start(`{"returnUrl":"https://app.example.com/done"}`)
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := a.callback("GET", a.signedCallback(v.SessionID), browserGET)
	if took, limit := time.Since(start), sendTimeout+2*time.Second; took > limit {
		t.Errorf("the callback with a silent Service Bus took %v, want at most %v", took, limit)
	}
	r.wantRedirect(t, "https://app.example.com/done", v.SessionID, liveness.StatusCompleted)
	if row, found := a.outbox(v.SessionID); !found || row.Sent {
		t.Errorf("the event: recorded %v, sent %v; want recorded and unsent, for Reconcile", found, row.Sent)
	}
}
