package handlers

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/store"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
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
		// check, when set, looks further at what is left.
		check func(a *app, v sessionView)
	}{
		{
			// Its commit is still under way or failed: look again later, less often each time.
			name:       "an announce entry of an open session is filed again for later",
			file:       func(a *app, v sessionView) { a.addDue(v.SessionID, liveness.DueAnnounce, a.clock.Now()) },
			wantStatus: liveness.StatusCreated,
			wantDue:    []liveness.DueReason{liveness.DueAnnounce, liveness.DueExpire},
			wantLog:    "reconcile: 1 due, 0 finalized, 0 events sent, 0 failed, 0 purged, 0 left",
			check: func(a *app, v sessionView) {
				for _, d := range a.dueFor(v.SessionID) {
					if d.Reason != liveness.DueAnnounce {
						continue
					}
					if want := a.clock.Now().Add(retryDelay(1)); !d.Due.Equal(want) || d.Attempts != 1 {
						a.t.Errorf("announce entry due %v after %d attempts, want %v after 1", d.Due, d.Attempts, want)
					}
				}
			},
		},
		{
			name: "an abandon entry after a return finishes the session as abandoned",
			file: func(a *app, v sessionView) {
				a.recordReturn(v.SessionID)
				a.addDue(v.SessionID, liveness.DueAbandon, a.clock.Now())
			},
			wantStatus: liveness.StatusAbandoned,
			wantDue:    []liveness.DueReason{liveness.DueAnnounce, liveness.DueExpire},
			wantLog:    "reconcile: 1 due, 1 finalized, 0 events sent, 0 failed, 0 purged, 0 left",
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
			wantLog:    "reconcile: 1 due, 1 finalized, 0 events sent, 0 failed, 0 purged, 0 left",
		},
		{
			name:       "an abandon entry without a recorded return is dropped; the expiry still stands",
			file:       func(a *app, v sessionView) { a.addDue(v.SessionID, liveness.DueAbandon, a.clock.Now()) },
			wantStatus: liveness.StatusCreated,
			wantDue:    []liveness.DueReason{liveness.DueExpire},
			wantLog:    "reconcile: 1 due, 0 finalized, 0 events sent, 0 failed, 0 purged, 0 left",
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
			wantDue:    []liveness.DueReason{liveness.DueExpire},
			wantLog:    "reconcile: 0 due, 0 finalized, 0 events sent, 0 failed, 0 purged, 0 left",
			check: func(a *app, v sessionView) {
				rows := a.rows()
				found := false
				for k := range rows {
					found = found || strings.HasSuffix(k, "/"+v.SessionID+"_retain")
				}
				if !found {
					a.t.Errorf("the entry of an unknown reason is gone: %v", rows)
				}
			},
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
			if tt.check != nil {
				tt.check(a.on(t), v)
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

// Filed again within the minute it was listed for, an early expiry entry replaces its own row:
// the run must count that as done, not failed.
func TestReconcileFilesAnEarlyExpiryEntryAgainInTheSameMinute(t *testing.T) {
	a := newApp(t, nil)
	a.clock.Set(time.Date(2026, 11, 30, 12, 0, 30, 0, time.UTC))
	v := a.start(`{"ttlSeconds":600}`) // expires 12:10:30, due 12:12:30
	own := a.dueFor(v.SessionID)
	if len(own) != 1 || own[0].Due.Second() != 30 {
		t.Fatalf("due entries after start = %v, want the expiry entry at hh:mm:30", own)
	}
	if err := a.store.DeleteDue(t.Context(), own[0]); err != nil {
		t.Fatalf("DeleteDue: %v", err)
	}
	a.addDue(v.SessionID, liveness.DueExpire, own[0].Due.Truncate(time.Minute)) // 12:12:00
	a.clock.Set(own[0].Due.Add(-20 * time.Second))                              // 12:12:10
	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 1 due, 0 finalized, 0 events sent, 0 failed, 0 purged, 0 left" {
		t.Errorf("Reconcile logs = %q, want the entry handled without a failure", logs)
	}
	want := []liveness.DueItem{{SessionID: v.SessionID, Reason: liveness.DueExpire, Due: own[0].Due}}
	if diff := cmp.Diff(want, a.dueFor(v.SessionID), ignoreETag); diff != "" {
		t.Errorf("due entries (-want +got):\n%s", diff)
	}
	a.clock.Set(own[0].Due.Add(time.Second))
	a.reconcile()
	if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusExpired {
		t.Errorf("status after the entry came due = %s, want expired", g.Status)
	}
}

// CancelSession records canceled first and then revokes the Face session; a 200 promises both.
// When Face fails the revocation the answer is 503 although the session is canceled, and either a
// repeated DELETE or Reconcile's announce entry revokes it once Face is back — after which nothing
// calls Face for the session again.
func TestCancelAnswers503UntilTheFaceSessionIsRevoked(t *testing.T) {
	for _, revokedBy := range []string{"a repeated DELETE", "Reconcile"} {
		t.Run(revokedBy, func(t *testing.T) {
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
			r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
			if _, err := a.faceSession(v.Kind, v.SessionID); err != nil {
				t.Fatalf("the Face session is gone (%v): the test proves nothing", err)
			}
			if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusCanceled {
				t.Fatalf("status after the 503 = %s, want canceled (recorded before the revocation)", g.Status)
			}

			if revokedBy == "Reconcile" {
				a.clock.Advance(2 * time.Minute) // past the announce entry
				a.reconcile()
			} else if r := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil); r.status != http.StatusOK || r.session(t).Status != liveness.StatusCanceled {
				t.Errorf("repeated DELETE = %d %s, want 200 canceled", r.status, r.body)
			}
			if _, err := a.faceSession(v.Kind, v.SessionID); err == nil {
				t.Errorf("the Face session still exists after %s", revokedBy)
			}
			if stored, err := a.store.GetSession(t.Context(), v.SessionID); err != nil || !stored.FaceDeleted || stored.Status != liveness.StatusCanceled {
				t.Errorf("stored session = %+v, %v; want canceled and FaceDeleted", stored, err)
			}

			calls := a.stub.Stats().Total
			a.passDue(v)
			a.reconcile()
			if got := a.stub.Stats().Total; got != calls {
				t.Errorf("Reconcile called Face %d times for a session already revoked, want none", got-calls)
			}
			if due := a.workDue(v.SessionID); len(due) != 0 {
				t.Errorf("due entries after every entry came due = %v, want none but the purge", due)
			}
		})
	}
}

// Canceling is revoking: DELETE_FACE_SESSIONS=false keeps the Face sessions of outcomes, never
// the token and link of a canceled session.
func TestCancelRevokesEvenWhenFaceSessionsAreKept(t *testing.T) {
	a := newApp(t, &appOptions{KeepFaceSessions: true})
	v := a.start(``)
	if r := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil); r.status != http.StatusOK {
		t.Fatalf("DELETE = %d %s, want 200", r.status, r.body)
	}
	if _, err := a.faceSession(v.Kind, v.SessionID); err == nil {
		t.Errorf("the canceled session's Face session (token and link) still exists with DELETE_FACE_SESSIONS off")
	}
}

// lossyBatch loses the answer of the first entity-group transaction after the table service
// committed it, as a connection reset would; azcore then retries the same batch.
type lossyBatch struct{ dropped atomic.Bool }

func (l *lossyBatch) Do(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && strings.HasSuffix(req.URL.Path, "$batch") && l.dropped.CompareAndSwap(false, true) {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, errors.New("connection reset by the test after the commit")
	}
	return resp, err
}

// A cancel whose commit answer was lost meets its own canceled row on the retry: it must still
// revoke before it answers 200.
func TestCancelWhoseCommitAnswerWasLostStillRevokes(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"lost-answer"}`)
	lossy := &lossyBatch{}
	svc, err := aztables.NewServiceClientFromConnectionString(testenv.StartAzurite(t).ConnectionString(),
		&aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: lossy}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(t.Context(), svc, &store.Options{TablePrefix: a.prefix, Now: a.clock.Now})
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	rec := a.serveGone(t.Context(), a.face, st, a.request("DELETE", "/api/sessions/"+v.SessionID, nil, nil))
	if !lossy.dropped.Load() {
		t.Fatalf("no transaction answer was lost: the test proves nothing")
	}
	if rec.Code != http.StatusOK {
		t.Errorf("DELETE = %d %s, want 200", rec.Code, rec.Body)
	}
	if _, err := a.faceSession(v.Kind, v.SessionID); err == nil {
		t.Errorf("DELETE answered %d, yet the Face session still exists", rec.Code)
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
