package handlers

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// A cancel must not throw away a result: when the user's attempt already finished at Face and
// nothing recorded it yet, CancelSession records that outcome through the finish path and
// answers 409 session_finalized; only a session with no finished attempt is canceled.
func TestCancelRecordsAFinishedAttemptInsteadOfCanceling(t *testing.T) {
	f, tr := false, true
	tests := []struct {
		name string
		// before prepares the Face session of the started session v.
		before     func(a *app, v sessionView)
		wantStatus int
		want       sessionView // Status, Passed and Outcome (without digest and model) are compared
	}{
		{
			name:       "a real face",
			before:     attempts(facestub.Attempt{Decision: "realface"}),
			wantStatus: http.StatusConflict,
			want:       sessionView{Status: liveness.StatusCompleted, Passed: &tr, Outcome: &outcomeView{Decision: "realface", AttemptCount: 1}},
		},
		{
			name:       "a spoof",
			before:     attempts(facestub.Attempt{Decision: "spoofface"}),
			wantStatus: http.StatusConflict,
			want:       sessionView{Status: liveness.StatusCompleted, Passed: &f, Outcome: &outcomeView{Decision: "spoofface", AttemptCount: 1}},
		},
		{
			name:       "a failed attempt",
			before:     attempts(facestub.Attempt{Status: "Failed", ErrorCode: "FaceWithMaskDetected", ErrorMessage: "Mask detected on face image."}),
			wantStatus: http.StatusConflict,
			want: sessionView{Status: liveness.StatusFailed, Passed: &f, Outcome: &outcomeView{AttemptCount: 1,
				Failure: &failureView{Code: "FaceWithMaskDetected", Message: "Mask detected on face image."}}},
		},
		{
			name:       "the latest of several attempts",
			before:     attempts(facestub.Attempt{Status: "Failed"}, facestub.Attempt{Decision: "realface"}),
			wantStatus: http.StatusConflict,
			want:       sessionView{Status: liveness.StatusCompleted, Passed: &tr, Outcome: &outcomeView{Decision: "realface", AttemptCount: 2}},
		},
		{
			name:       "no attempt yet",
			before:     func(*app, sessionView) {},
			wantStatus: http.StatusOK,
			want:       sessionView{Status: liveness.StatusCanceled, Passed: &f},
		},
		{
			name:       "a capture still running",
			before:     attempts(facestub.Attempt{Status: "Running"}),
			wantStatus: http.StatusOK,
			want:       sessionView{Status: liveness.StatusCanceled, Passed: &f},
		},
		{
			name: "a Face session that is gone",
			before: func(a *app, v sessionView) {
				if err := a.face.Delete(a.t.Context(), face.Kind(v.Kind), v.SessionID); err != nil {
					a.t.Fatalf("deleting the Face session: %v", err)
				}
			},
			wantStatus: http.StatusOK,
			want:       sessionView{Status: liveness.StatusCanceled, Passed: &f},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, nil)
			v := a.start(`{"externalReference":"cancel-after-capture"}`)
			tt.before(a, v)

			r := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil)
			if tt.wantStatus == http.StatusConflict {
				r.wantProblem(t, http.StatusConflict, "session_finalized")
			} else if r.status != tt.wantStatus {
				t.Errorf("DELETE = %d %s, want %d", r.status, r.body, tt.wantStatus)
			}

			got := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t)
			if got.Outcome != nil {
				got.Outcome.Digest, got.Outcome.ModelVersion = "", ""
			}
			want := v
			want.Status, want.Passed, want.Outcome, want.CompletedAt = tt.want.Status, tt.want.Passed, tt.want.Outcome, timestamp(a.clock.Now())
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("session after DELETE (-want +got):\n%s", diff)
			}
			event := a.sentEvent(v.SessionID)
			var ce struct{ Type string }
			st := string(tt.want.Status)
			if wantType := "Liveness.Session." + strings.ToUpper(st[:1]) + st[1:]; json.Unmarshal(event, &ce) != nil || ce.Type != wantType {
				t.Errorf("outbox event type %q, want %s", ce.Type, wantType)
			}
			if _, err := a.faceSession(v.Kind, v.SessionID); !face.IsNotFound(err) {
				t.Errorf("the Face session still exists after the session ended: %v", err)
			}
		})
	}
}

// When Face cannot be read, the cancel cannot know whether a result exists: it records nothing
// and answers 503, and a later DELETE decides.
func TestCancelChangesNothingWhenFaceCannotBeRead(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"cancel-face-down"}`)
	before := a.rows()
	a.stub.SetFaults(facestub.Faults{ServerErrors: 100})
	r := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil)
	a.stub.SetFaults(facestub.Faults{})
	r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	if after := a.rows(); !mapsEqual(before, after) {
		t.Errorf("the table changed although Face could not be read: %v → %v", before, after)
	}
	if r := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil); r.status != http.StatusOK || r.session(t).Status != liveness.StatusCanceled {
		t.Errorf("DELETE once Face is back = %d %s, want 200 canceled", r.status, r.body)
	}
}

// A session already final is not canceled, and costs no Face call.
func TestCancelOfAFinalSessionIsAConflict(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(``)
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{}); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	a.passDue(v)
	a.reconcile()
	calls := a.stub.Stats().Total
	a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil).wantProblem(t, http.StatusConflict, "session_finalized")
	if got := a.stub.Stats().Total - calls; got != 0 {
		t.Errorf("DELETE of a completed session called Face %d times, want none", got)
	}
}

// Another writer changes the session while the cancel is deciding (the ETag no longer matches
// at its commit): the cancel reads the session again, decides again and succeeds, keeping the
// other writer's change.
func TestCancelRetriesAfterAConcurrentChange(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"cancel-race"}`)
	var changed atomic.Bool
	a.hooks.set(func(r *http.Request) {
		if r.Method != http.MethodGet || !changed.CompareAndSwap(false, true) {
			return
		}
		// As the Callback does when the user comes back: a write the cancel did not read.
		sess, err := a.store.GetSession(t.Context(), v.SessionID)
		if err == nil {
			err = sess.Returned(a.clock.Now())
		}
		if err == nil {
			err = a.store.UpdateSession(t.Context(), sess)
		}
		if err != nil {
			t.Errorf("the concurrent change failed: %v", err)
		}
	})
	r := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil)
	a.hooks.set(nil)
	if !changed.Load() {
		t.Fatal("the cancel never read Face: the test proves nothing")
	}
	if r.status != http.StatusOK || r.session(t).Status != liveness.StatusCanceled {
		t.Fatalf("DELETE = %d %s, want 200 canceled after a retry", r.status, r.body)
	}
	stored, err := a.store.GetSession(t.Context(), v.SessionID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if stored.Status != liveness.StatusCanceled || stored.ReturnedAt.IsZero() {
		t.Errorf("stored session status %s returnedAt %v, want canceled with the concurrent return kept", stored.Status, stored.ReturnedAt)
	}
}

// attempts adds each attempt to the Face session of v.
func attempts(list ...facestub.Attempt) func(a *app, v sessionView) {
	return func(a *app, v sessionView) {
		for _, at := range list {
			if err := a.stub.AddAttempt(v.SessionID, at); err != nil {
				a.t.Fatalf("AddAttempt: %v", err)
			}
		}
	}
}
