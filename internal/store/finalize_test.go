package store

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

func TestFinalizeRecordsSessionAndEventTogether(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	f := newFixture(t, &Options{Now: fixedClock(now), AnnounceDelay: 2 * time.Minute})
	sess := f.createSession(t, newSession())
	final := finalCopy(sess, "realface")
	event := []byte(`{"specversion":"1.0","id":"x/completed"}`)

	if err := f.store.Finalize(t.Context(), final, event); err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	got, err := f.store.GetSession(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if diff := cmp.Diff(stored(final), got, cmpopts.IgnoreFields(liveness.Session{}, "ETag")); diff != "" {
		t.Errorf("session after Finalize (-want +got):\n%s", diff)
	}
	pending, found, err := f.store.PendingEvent(t.Context(), sess.ID)
	if err != nil || !found || string(pending) != string(event) {
		t.Errorf("PendingEvent = %q, %v, %v; want the finalized event", pending, found, err)
	}
	if sent, _ := f.rawRow(t, sess.ID, rowEvent)["Sent"].(bool); sent {
		t.Error("the outbox row was written with Sent=true")
	}

	// Finalize does not read the row back for its ETag (a round trip every finish would pay): the
	// one change a final session takes needs none.
	if final.ETag != "" {
		t.Errorf("ETag after Finalize = %q, want none (not read back)", final.ETag)
	}
	if err := f.store.MarkFaceDeleted(t.Context(), final); err != nil {
		t.Errorf("MarkFaceDeleted after Finalize: %v", err)
	}

	// Filed as due work so that Reconcile resends it if nobody marks it sent.
	if due, err := f.store.ListDue(t.Context(), now.Add(time.Minute), nil, 10); err != nil || len(due) != 0 {
		t.Errorf("ListDue before AnnounceDelay = %v, %v; want nothing yet", due, err)
	}
	due, err := f.store.ListDue(t.Context(), now.Add(2*time.Minute), nil, 10)
	if err != nil || len(due) != 1 || due[0].SessionID != sess.ID || due[0].Reason != liveness.DueAnnounce {
		t.Errorf("ListDue after AnnounceDelay = %v, %v; want the finalized session's announce entry", due, err)
	}

	if err := f.store.MarkEventSent(t.Context(), sess.ID); err != nil {
		t.Fatalf("MarkEventSent: %v", err)
	}
	if _, found, err := f.store.PendingEvent(t.Context(), sess.ID); err != nil || found {
		t.Errorf("PendingEvent after MarkEventSent = found %v, %v; want none", found, err)
	}
	if row := f.rawRow(t, sess.ID, rowEvent); row["Event"] != string(event) {
		t.Errorf("MarkEventSent changed the event to %v", row["Event"])
	}
}

func TestFinalizeDropsTheToken(t *testing.T) {
	f := newFixture(t, nil)
	sess := f.createSession(t, newSession())
	final := finalCopy(sess, "realface")
	final.AuthToken = sess.AuthToken
	if err := f.store.Finalize(t.Context(), final, []byte(`{}`)); err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	if _, ok := f.rawRow(t, sess.ID, rowSession)["AuthToken"]; ok {
		t.Error("a finalized session still stores its AuthToken")
	}
	if final.AuthToken != "" {
		t.Errorf("after Finalize the caller's copy still has its token")
	}
}

func TestFinalizeWithStaleETagWritesNothing(t *testing.T) {
	f := newFixture(t, nil)
	sess := f.createSession(t, newSession())
	stale := finalCopy(sess, "realface")
	sess.Status = liveness.StatusLinkIssued
	if err := f.store.UpdateSession(t.Context(), sess); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}

	if err := f.store.Finalize(t.Context(), stale, []byte(`{}`)); !errors.Is(err, liveness.ErrConflict) {
		t.Fatalf("Finalize with a stale ETag = %v, want ErrConflict", err)
	}
	if _, found, err := f.store.PendingEvent(t.Context(), sess.ID); err != nil || found {
		t.Errorf("a failed Finalize left an outbox row (found %v, err %v)", found, err)
	}
	got, err := f.store.GetSession(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if diff := cmp.Diff(stored(sess), got); diff != "" {
		t.Errorf("a failed Finalize changed the session (-want +got):\n%s", diff)
	}
}

func TestFinalizeAgainIsConflict(t *testing.T) {
	f := newFixture(t, nil)
	sess := f.createSession(t, newSession())
	final := finalCopy(sess, "realface")
	if err := f.store.Finalize(t.Context(), final, []byte(`{"n":1}`)); err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	// Even with the current ETag the outbox row already exists: the transaction must fail whole.
	current, err := f.store.GetSession(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	again := *final
	again.ETag = current.ETag
	again.Status = liveness.StatusCanceled
	if err := f.store.Finalize(t.Context(), &again, []byte(`{"n":2}`)); !errors.Is(err, liveness.ErrConflict) {
		t.Fatalf("second Finalize = %v, want ErrConflict", err)
	}
	if got, err := f.store.GetSession(t.Context(), sess.ID); err != nil || got.Status != liveness.StatusCompleted {
		t.Errorf("after a failed second Finalize the session is %s, %v; want it completed", dump(got), err)
	}
	if ev, _, _ := f.store.PendingEvent(t.Context(), sess.ID); string(ev) != `{"n":1}` {
		t.Errorf("the pending event is %s, want the first", ev)
	}
}

func TestRacingFinalizersHaveOneWinner(t *testing.T) {
	f := newFixture(t, nil)
	for range 5 {
		sess := f.createSession(t, newSession())
		decisions := []string{"realface", "spoofface"}
		errs := make([]error, len(decisions))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, d := range decisions {
			final := finalCopy(sess, d)
			wg.Go(func() {
				<-start
				errs[i] = f.store.Finalize(t.Context(), final, []byte(`"`+d+`"`))
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("both finalizers of %s succeeded", sess.ID)
			case err == nil:
				winner = i
			case !errors.Is(err, liveness.ErrConflict):
				t.Fatalf("losing finalizer got %v, want ErrConflict", err)
			}
		}
		if winner < 0 {
			t.Fatalf("no finalizer of %s succeeded: %v", sess.ID, errs)
		}
		got, err := f.store.GetSession(t.Context(), sess.ID)
		if err != nil || got.Outcome == nil || got.Outcome.Decision != decisions[winner] {
			t.Errorf("stored outcome %s, %v; want the winner's %q", dump(got), err, decisions[winner])
		}
		if ev, _, _ := f.store.PendingEvent(t.Context(), sess.ID); string(ev) != `"`+decisions[winner]+`"` {
			t.Errorf("outbox holds %s, want the winner's event", ev)
		}
	}
}

func TestFinalizeRejectsWhatItCannotStore(t *testing.T) {
	f := newFixture(t, nil)
	sess := f.createSession(t, newSession())
	f.http.take()
	for name, tc := range map[string]struct {
		mutate func(*liveness.Session)
		event  []byte
	}{
		"non-final status": {func(s *liveness.Session) { s.Status = liveness.StatusLinkIssued }, []byte(`{}`)},
		"empty event":      {func(*liveness.Session) {}, nil},
		"event not UTF-8":  {func(*liveness.Session) {}, []byte{0xff, 0xfe}},
		"event too large":  {func(*liveness.Session) {}, make([]byte, maxStringBytes+1)},
	} {
		t.Run(name, func(t *testing.T) {
			final := finalCopy(sess, "realface")
			tc.mutate(final)
			if err := f.store.Finalize(t.Context(), final, tc.event); !errors.Is(err, liveness.ErrInvalidRequest) {
				t.Errorf("Finalize = %v, want ErrInvalidRequest", err)
			}
			if reqs := f.http.take(); len(reqs) != 0 {
				t.Errorf("Finalize sent requests for a rejected call: %v", reqs)
			}
		})
	}
}

func TestOutboxOfUnknownSession(t *testing.T) {
	f := newFixture(t, nil)
	id := newSession().ID
	if err := f.store.MarkEventSent(t.Context(), id); !errors.Is(err, liveness.ErrNotFound) {
		t.Errorf("MarkEventSent(unknown) = %v, want ErrNotFound", err)
	}
	if _, found, err := f.store.PendingEvent(t.Context(), id); err != nil || found {
		t.Errorf("PendingEvent(unknown) = found %v, %v; want not found, no error", found, err)
	}
}
