package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// timerEnvelope is what the Functions host posts to /Reconcile for a timer run (reference §5).
const timerEnvelope = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},
  "ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2025-01-01T00:01:00+00:00","LastUpdated":"2025-01-01T00:00:00Z"},
  "IsPastDue":false}},
  "Metadata":{"sys":{"MethodName":"Reconcile","UtcNow":"2025-01-01T00:00:00.0000000Z","RandGuid":"5b1e8f0e-3c1a-4a38-9d4e-2f7f0c6a1b2c"}}}`

// reconcile runs the Reconcile function as the host does and returns the Logs of its answer, after
// checking the answer is the envelope the host requires.
func (a *app) reconcile() []string {
	a.t.Helper()
	req, err := http.NewRequest("POST", a.url+"/Reconcile", bytes.NewReader([]byte(timerEnvelope)))
	if err != nil {
		a.t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Azure-Functions-InvocationId", "0f9a2c1e-0000-4000-8000-000000000001")
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("POST /Reconcile: %v", err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		a.t.Fatalf("POST /Reconcile: reading the answer: %v", err)
	}
	r := &reply{status: resp.StatusCode, header: resp.Header, body: body.Bytes()}
	if r.status != http.StatusOK {
		a.t.Fatalf("POST /Reconcile = %d %s, want 200", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		a.t.Errorf("POST /Reconcile Content-Type = %q, want application/json (the host reads no other)", ct)
	}
	var env struct {
		Outputs     *map[string]json.RawMessage
		Logs        *[]string
		ReturnValue *json.RawMessage
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &keys); err != nil {
		a.t.Fatalf("POST /Reconcile body %s: %v", r.body, err)
	}
	if _, ok := keys["ReturnValue"]; !ok {
		a.t.Errorf("POST /Reconcile body %s has no ReturnValue", r.body)
	}
	if err := json.Unmarshal(r.body, &env); err != nil || env.Outputs == nil || env.Logs == nil {
		a.t.Fatalf("POST /Reconcile body %s: want {Outputs: {}, Logs: [...], ReturnValue} (%v)", r.body, err)
	}
	return *env.Logs
}

// dueFor returns the due items of a session, looking far into the future.
func (a *app) dueFor(id string) []liveness.DueItem {
	a.t.Helper()
	items, err := a.store.ListDue(a.t.Context(), a.clock.Now().Add(365*24*time.Hour), nil, 1000)
	if err != nil {
		a.t.Fatalf("store.ListDue: %v", err)
	}
	return slices.DeleteFunc(items, func(it liveness.DueItem) bool { return it.SessionID != id })
}

func TestReconcile(t *testing.T) {
	f, tr := false, true
	tests := []struct {
		name     string
		kind     liveness.Kind
		image    bool // enableSessionImage
		attempts []facestub.Attempt
		want     sessionView // Status, Passed and Outcome are compared
	}{
		{
			name: "no attempt expires",
			want: sessionView{Status: liveness.StatusExpired, Passed: &f},
		},
		{
			name:     "a real face completes",
			attempts: []facestub.Attempt{{Decision: "realface"}},
			want:     sessionView{Status: liveness.StatusCompleted, Passed: &tr, Outcome: &outcomeView{Decision: "realface", AttemptCount: 1}},
		},
		{
			name:     "the session image is reported",
			image:    true,
			attempts: []facestub.Attempt{{Decision: "uncertain"}},
			want:     sessionView{Status: liveness.StatusCompleted, Passed: &f, Outcome: &outcomeView{Decision: "uncertain", AttemptCount: 1}},
		},
		{
			name:     "a spoof completes without passing",
			attempts: []facestub.Attempt{{Decision: "spoofface"}},
			want:     sessionView{Status: liveness.StatusCompleted, Passed: &f, Outcome: &outcomeView{Decision: "spoofface", AttemptCount: 1}},
		},
		{
			name:     "a failed attempt fails with its code",
			attempts: []facestub.Attempt{{Status: "Failed", ErrorCode: "FaceWithMaskDetected", ErrorMessage: "Mask detected on face image."}},
			want: sessionView{Status: liveness.StatusFailed, Passed: &f, Outcome: &outcomeView{AttemptCount: 1,
				Failure: &failureView{Code: "FaceWithMaskDetected", Message: "Mask detected on face image."}}},
		},
		{
			name:     "the latest attempt decides",
			attempts: []facestub.Attempt{{Status: "Failed"}, {Decision: "realface"}},
			want:     sessionView{Status: liveness.StatusCompleted, Passed: &tr, Outcome: &outcomeView{Decision: "realface", AttemptCount: 2}},
		},
		{
			name:     "a verify session of another person does not pass",
			kind:     liveness.KindLivenessWithVerify,
			attempts: []facestub.Attempt{{Decision: "realface", IsIdentical: &f}},
			want: sessionView{Status: liveness.StatusCompleted, Passed: &f, Outcome: &outcomeView{Decision: "realface", AttemptCount: 1,
				Verify: &verifyView{IsIdentical: false, MatchConfidence: 0.1}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, nil)
			body := fmt.Sprintf(`{"externalReference":"r-1","enableSessionImage":%v}`, tt.image)
			if tt.kind == liveness.KindLivenessWithVerify {
				body = `{"kind":"livenessWithVerify","verifyImage":"` + b64(jpegImage(t)) + `"}`
			}
			v := a.start(body)
			kind := v.Kind
			for _, at := range tt.attempts {
				if err := a.stub.AddAttempt(v.SessionID, at); err != nil {
					t.Fatalf("AddAttempt: %v", err)
				}
			}
			due := a.dueFor(v.SessionID)
			if len(due) != 1 {
				t.Fatalf("due items after start = %v, want one", due)
			}

			logs := a.reconcile()
			if len(logs) != 1 || logs[0] != "reconcile: 0 due, 0 finalized, 0 events sent, 0 failed, 0 purged, 0 left" {
				t.Errorf("Reconcile before the session is due: logs %q, want nothing done", logs)
			}
			if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusCreated {
				t.Fatalf("status before the session is due = %s, want created", g.Status)
			}

			a.passDue(v)
			logs = a.reconcile()
			if len(logs) != 1 || logs[0] != "reconcile: 1 due, 1 finalized, 0 events sent, 0 failed, 0 purged, 0 left" {
				t.Errorf("Reconcile logs = %q, want one session finalized", logs)
			}
			got := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t)
			want := v
			want.Status, want.Passed, want.Outcome, want.CompletedAt = tt.want.Status, tt.want.Passed, tt.want.Outcome, timestamp(a.clock.Now())
			if want.Outcome != nil {
				fs := *want.Outcome
				fs.ModelVersion = "2024-11-15"
				if got.Outcome != nil && fs.Failure == nil {
					fs.Digest, fs.SessionImageID = got.Outcome.Digest, got.Outcome.SessionImageID
					if got.Outcome.Digest == "" {
						t.Errorf("outcome has no digest")
					}
					if (got.Outcome.SessionImageID != "") != tt.image {
						t.Errorf("outcome sessionImageId = %q with enableSessionImage %v", got.Outcome.SessionImageID, tt.image)
					}
				}
				want.Outcome = &fs
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("reconciled session (-want +got):\n%s", diff)
			}
			for _, d := range a.dueFor(v.SessionID) {
				if d.Due.Equal(due[0].Due) {
					t.Errorf("the due item %v is still there after the session was finalized", d)
				}
			}
			if _, err := a.faceSession(kind, v.SessionID); !face.IsNotFound(err) {
				t.Errorf("the Face session still exists after the outcome was recorded (DELETE_FACE_SESSIONS): %v", err)
			}
			a.sentEvent(v.SessionID)
		})
	}
}

func TestReconcileRemovesDueItemsOfFinalSessions(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(``)
	if r := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil); r.status != http.StatusOK {
		t.Fatalf("DELETE = %d %s", r.status, r.body)
	}
	if due := a.dueFor(v.SessionID); len(due) == 0 {
		t.Fatalf("a canceled session has no due items left to remove; the test proves nothing")
	}
	session := a.rows()[v.SessionID+"/session"]
	faceCalls := a.stub.Stats().Total

	a.clock.Set(a.clock.Now().Add(365 * 24 * time.Hour))
	a.reconcile()
	if due := a.workDue(v.SessionID); len(due) != 0 {
		t.Errorf("due items of a final session after Reconcile = %v, want none but its purge", due)
	}
	if got := a.stub.Stats().Total; got != faceCalls {
		t.Errorf("Reconcile called Face %d times for a final session, want none", got-faceCalls)
	}
	if got := a.rows()[v.SessionID+"/session"]; got != session {
		t.Errorf("Reconcile rewrote a final session (ETag %s → %s)", session, got)
	}
	if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusCanceled {
		t.Errorf("status = %s, want canceled", g.Status)
	}
}

func TestReconcileKeepsFaceSessionsWhenConfigured(t *testing.T) {
	a := newApp(t, &appOptions{KeepFaceSessions: true})
	v := a.start(``)
	if err := a.stub.AddAttempt(v.SessionID, facestub.Attempt{}); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	a.passDue(v)
	a.reconcile()
	if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusCompleted {
		t.Errorf("status = %s, want completed", g.Status)
	}
	if _, err := a.faceSession(v.Kind, v.SessionID); err != nil {
		t.Errorf("the Face session was deleted although DELETE_FACE_SESSIONS is off: %v", err)
	}
}
