package handlers

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

var ignoreETag = cmpopts.IgnoreFields(liveness.DueItem{}, "ETag")

// The expiry entry is what makes an abandoned session expire: filed for any other time (without
// the grace period, say), sessions would expire early or never, so its time is pinned here.
func TestStartFilesTheExpiryAtTTLPlusGrace(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"ttlSeconds":120}`)
	expires, err := time.Parse(time.RFC3339Nano, v.ExpiresAt)
	if err != nil {
		t.Fatalf("expiresAt %q: %v", v.ExpiresAt, err)
	}
	want := []liveness.DueItem{{SessionID: v.SessionID, Reason: liveness.DueExpire, Due: expires.Add(2 * time.Minute)}}
	if diff := cmp.Diff(want, a.dueFor(v.SessionID), ignoreETag); diff != "" {
		t.Errorf("due entries after start (-want +got):\n%s", diff)
	}
}

// Each due entry is handled as its reason says, whatever the clock suggests.
func TestReconcileDispatchesOnTheReason(t *testing.T) {
	tests := []struct {
		name string
		// file files the entry under test for session v, at the app's current time.
		file func(a *app, v sessionView)
		// attempt, when set, finishes an attempt at Face before Reconcile runs.
		attempt *facestub.Attempt
		// wantStatus is the session's status after Reconcile; wantDue its due entries (as
		// reasons: their times are checked by the tests above and below).
		wantStatus liveness.Status
		wantDue    []liveness.DueReason
		wantLog    string
	}{
		{
			name:       "an announce entry of an open session is dropped; the session stays open",
			file:       func(a *app, v sessionView) { a.addDue(v.SessionID, liveness.DueAnnounce, a.clock.Now()) },
			wantStatus: liveness.StatusCreated,
			wantDue:    []liveness.DueReason{liveness.DueExpire},
			wantLog:    "reconcile: 1 due, 0 finalized, 0 failed",
		},
		{
			name: "an abandon entry after a return finishes the session as abandoned",
			file: func(a *app, v sessionView) {
				a.recordReturn(v.SessionID)
				a.addDue(v.SessionID, liveness.DueAbandon, a.clock.Now())
			},
			wantStatus: liveness.StatusAbandoned,
			wantDue:    []liveness.DueReason{liveness.DueAnnounce, liveness.DueExpire},
			wantLog:    "reconcile: 1 due, 1 finalized, 0 failed",
		},
		{
			name: "an abandon entry records an attempt that finished meanwhile",
			file: func(a *app, v sessionView) {
				a.recordReturn(v.SessionID)
				a.addDue(v.SessionID, liveness.DueAbandon, a.clock.Now())
			},
			attempt:    &facestub.Attempt{Decision: "spoofface"},
			wantStatus: liveness.StatusCompleted,
			wantDue:    []liveness.DueReason{liveness.DueAnnounce, liveness.DueExpire},
			wantLog:    "reconcile: 1 due, 1 finalized, 0 failed",
		},
		{
			name:       "an abandon entry without a recorded return is dropped; the expiry still stands",
			file:       func(a *app, v sessionView) { a.addDue(v.SessionID, liveness.DueAbandon, a.clock.Now()) },
			wantStatus: liveness.StatusCreated,
			wantDue:    []liveness.DueReason{liveness.DueExpire},
			wantLog:    "reconcile: 1 due, 0 finalized, 0 failed",
		},
		{
			name: "an entry of an unknown reason stays for a version that knows it",
			file: func(a *app, v sessionView) {
				now := a.clock.Now().UTC()
				row := fmt.Sprintf(`{"PartitionKey":"due-%s","RowKey":"%s_retain","SessionID":%q,"Reason":"retain","Due":%q}`,
					now.Format("200601021504"), v.SessionID, v.SessionID, now.Format("2006-01-02T15:04:05.000000000Z"))
				if _, err := a.table.AddEntity(a.t.Context(), []byte(row), nil); err != nil {
					a.t.Fatalf("adding a raw due row: %v", err)
				}
			},
			wantStatus: liveness.StatusCreated,
			wantDue:    []liveness.DueReason{"retain", liveness.DueExpire},
			wantLog:    "reconcile: 1 due, 0 finalized, 1 failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, nil)
			v := a.start(`{"externalReference":"dispatch"}`)
			a.clock.Advance(time.Minute)
			tt.file(a, v)
			if tt.attempt != nil {
				if err := a.stub.AddAttempt(v.SessionID, *tt.attempt); err != nil {
					t.Fatalf("AddAttempt: %v", err)
				}
			}
			a.clock.Advance(time.Second)
			if logs := a.reconcile(); len(logs) != 1 || logs[0] != tt.wantLog {
				t.Errorf("Reconcile logs = %q, want %q", logs, tt.wantLog)
			}
			if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s", g.Status, tt.wantStatus)
			}
			var reasons []liveness.DueReason
			for _, d := range a.dueFor(v.SessionID) {
				reasons = append(reasons, d.Reason)
			}
			if diff := cmp.Diff(tt.wantDue, reasons, cmpopts.SortSlices(func(x, y liveness.DueReason) bool { return x < y })); diff != "" {
				t.Errorf("due entries left (-want +got):\n%s", diff)
			}
		})
	}
}

// An expiry entry filed before the session's expiry (by a bug, or by hand) must neither expire
// the session early nor vanish: Reconcile files it again for the right time.
func TestReconcileFilesAnEarlyExpiryEntryAgain(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(``)
	own := a.dueFor(v.SessionID)
	if len(own) != 1 {
		t.Fatalf("due entries after start = %v, want the expiry entry", own)
	}
	if err := a.store.DeleteDue(t.Context(), own[0]); err != nil {
		t.Fatalf("DeleteDue: %v", err)
	}
	a.addDue(v.SessionID, liveness.DueExpire, a.clock.Now()) // as if filed without TTL and grace

	a.clock.Advance(time.Minute)
	a.reconcile()
	if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusCreated {
		t.Fatalf("status = %s after an early expiry entry, want created", g.Status)
	}
	want := []liveness.DueItem{{SessionID: v.SessionID, Reason: liveness.DueExpire, Due: own[0].Due}}
	if diff := cmp.Diff(want, a.dueFor(v.SessionID), ignoreETag); diff != "" {
		t.Errorf("due entries after Reconcile (-want +got):\n%s", diff)
	}

	a.passDue(v)
	a.reconcile()
	if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusExpired {
		t.Errorf("status after the refiled entry came due = %s, want expired", g.Status)
	}
}

// CancelSession records canceled first; when Face then fails the revocation, the answer is still
// canceled and the announce entry makes Reconcile revoke the Face session once Face is back —
// after which nothing calls Face for the session again.
func TestCancelLeavesAFailedRevocationToReconcile(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"revoke-later"}`)
	a.hooks.set(func(r *http.Request) {
		if r.Method == http.MethodDelete {
			a.stub.SetFaults(facestub.Faults{ServerErrors: 100})
		}
	})
	r := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil)
	a.hooks.set(nil)
	a.stub.SetFaults(facestub.Faults{})
	if r.status != http.StatusOK || r.session(t).Status != liveness.StatusCanceled {
		t.Fatalf("DELETE while Face fails deletions = %d %s, want 200 canceled", r.status, r.body)
	}
	if _, err := a.faceSession(v.Kind, v.SessionID); err != nil {
		t.Fatalf("the Face session is gone (%v): the test proves nothing", err)
	}
	if stored, err := a.store.GetSession(t.Context(), v.SessionID); err != nil || stored.FaceDeleted {
		t.Fatalf("stored session = %+v, %v; want canceled with the Face session not yet deleted", stored, err)
	}

	a.clock.Advance(2 * time.Minute) // past the announce entry
	a.reconcile()
	if _, err := a.faceSession(v.Kind, v.SessionID); err == nil {
		t.Errorf("the Face session still exists after Reconcile handled the announce entry")
	}
	if stored, err := a.store.GetSession(t.Context(), v.SessionID); err != nil || !stored.FaceDeleted || stored.Status != liveness.StatusCanceled {
		t.Errorf("stored session = %+v, %v; want canceled and FaceDeleted", stored, err)
	}
	if due := a.dueFor(v.SessionID); len(due) != 1 || due[0].Reason != liveness.DueExpire {
		t.Errorf("due entries = %v, want only the expiry entry (the announce entry done)", due)
	}

	calls := a.stub.Stats().Total
	a.passDue(v)
	a.reconcile()
	if got := a.stub.Stats().Total; got != calls {
		t.Errorf("Reconcile called Face %d times for a session already revoked, want none", got-calls)
	}
	if due := a.dueFor(v.SessionID); len(due) != 0 {
		t.Errorf("due entries after the expiry entry came due = %v, want none", due)
	}
}

func (a *app) addDue(id string, reason liveness.DueReason, at time.Time) {
	a.t.Helper()
	if err := a.store.AddDue(a.t.Context(), liveness.DueItem{SessionID: id, Reason: reason, Due: at}); err != nil {
		a.t.Fatalf("AddDue(%s): %v", reason, err)
	}
}

// recordReturn records that the user came back without a finished attempt, as the Callback will.
func (a *app) recordReturn(id string) {
	a.t.Helper()
	sess, err := a.store.GetSession(a.t.Context(), id)
	if err != nil {
		a.t.Fatalf("GetSession: %v", err)
	}
	if err := sess.Returned(a.clock.Now()); err != nil {
		a.t.Fatalf("Returned: %v", err)
	}
	if err := a.store.UpdateSession(a.t.Context(), sess); err != nil {
		a.t.Fatalf("UpdateSession: %v", err)
	}
}
