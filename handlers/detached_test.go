package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// hangUpAfterCreate is the session store, but the client hangs up the moment the session row is
// written: what follows runs with a canceled request context.
type hangUpAfterCreate struct {
	SessionStore
	hangUp context.CancelFunc
}

func (s *hangUpAfterCreate) CreateSession(ctx context.Context, sess *liveness.Session) error {
	err := s.SessionStore.CreateSession(ctx, sess)
	s.hangUp()
	return err
}

// hangUpAfterDelete is the Face client, but the client hangs up the moment a Face session is deleted.
type hangUpAfterDelete struct {
	FaceSessions
	hangUp context.CancelFunc
}

func (f *hangUpAfterDelete) Delete(ctx context.Context, kind face.Kind, id string) error {
	err := f.FaceSessions.Delete(ctx, kind, id)
	f.hangUp()
	return err
}

// serveGone serves req on a Server built like a.srv but with the given dependencies, under a
// context that the wrapper cancels mid-request, as a client that gives up does.
func (a *app) serveGone(ctx context.Context, faceClient FaceSessions, st SessionStore, req *http.Request) *httptest.ResponseRecorder {
	a.t.Helper()
	opts := a.srv.opts
	srv := New(Deps{Face: faceClient, QuickLinks: a.srv.quickLinks, Store: st, Events: a.srv.events}, a.srv.settings, &opts)
	rec := httptest.NewRecorder()
	h := a.api.Middleware(a.t, noSecrets(a.t, a.secrets, srv.Handler())) // as newApp's server
	h.ServeHTTP(rec, req.WithContext(ctx))
	return rec
}

// A client that gives up after its session was recorded leaves the Idempotency-Key reserved with
// no session: its retry is refused for inFlightTimeout and then creates a second Face session.
// CompleteIdempotencyKey must not run on the request's context.
func TestIdempotencyKeySurvivesAClientThatLeft(t *testing.T) {
	a := newApp(t, nil)
	key := map[string]string{"Idempotency-Key": "gone-" + randomHex(t, 8)}
	body := []byte(`{"externalReference":"gone"}`)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	first := a.serveGone(ctx, a.face, &hangUpAfterCreate{SessionStore: a.store, hangUp: cancel},
		a.request("POST", "/api/sessions", body, key))
	if first.Code != http.StatusCreated {
		t.Fatalf("first POST = %d %s, want 201 (the session was recorded)", first.Code, first.Body)
	}

	a.clock.Advance(inFlightTimeout + time.Second) // the client retries a little later
	retry := a.do("POST", "/api/sessions", body, key)
	if retry.status != http.StatusOK {
		t.Errorf("retry with the same key = %d %s, want 200 with the first session", retry.status, retry.body)
	}
	if n := a.stub.Stats().Create; n != 1 {
		t.Errorf("Face sessions created for one Idempotency-Key = %d, want 1", n)
	}
}

// Once CancelSession has deleted the Face session (irreversible: token, link and any result are
// gone), the cancellation must be recorded even if the client hangs up; otherwise the session sits
// in "created" and later becomes "expired", with an Expired event instead of a Canceled one.
func TestCancelIsRecordedWhenTheClientLeaves(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"cancel-gone"}`)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	a.serveGone(ctx, &hangUpAfterDelete{FaceSessions: a.face, hangUp: cancel}, a.store,
		a.request("DELETE", "/api/sessions/"+v.SessionID, nil, nil))

	if _, err := a.faceSession(v.Kind, v.SessionID); !face.IsNotFound(err) {
		t.Fatalf("the Face session was not deleted (%v): the test proves nothing", err)
	}
	stored, err := a.store.GetSession(t.Context(), v.SessionID)
	if err != nil {
		t.Fatalf("store.GetSession: %v", err)
	}
	if stored.Status != liveness.StatusCanceled {
		t.Errorf("status after a cancel whose Face delete succeeded = %s, want canceled", stored.Status)
	}
}
