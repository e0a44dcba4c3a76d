package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// PurgeSession deletes a final session and its event row together, only once the event is sent
// and only at the versions read; rows already gone are ErrNotFound.
func TestPurgeSession(t *testing.T) {
	tests := []struct {
		name string
		// prepare brings the finalized session (ETag current) to the state under test.
		prepare func(t *testing.T, f *fixture, sess *liveness.Session)
		want    error // nil: both rows deleted
	}{
		{"sent event", func(t *testing.T, f *fixture, sess *liveness.Session) { markSent(t, f, sess.ID) }, nil},
		{"unsent event", func(*testing.T, *fixture, *liveness.Session) {}, liveness.ErrConflict},
		{"session changed since read", func(t *testing.T, f *fixture, sess *liveness.Session) {
			markSent(t, f, sess.ID)
			other := *sess
			if err := f.store.MarkFaceDeleted(t.Context(), &other); err != nil {
				t.Fatalf("MarkFaceDeleted: %v", err)
			}
		}, liveness.ErrConflict},
		{"purged already", func(t *testing.T, f *fixture, sess *liveness.Session) {
			markSent(t, f, sess.ID)
			again := *sess
			if err := f.store.PurgeSession(t.Context(), &again); err != nil {
				t.Fatalf("first PurgeSession: %v", err)
			}
		}, liveness.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			sess := finalCopy(f.createSession(t, newSession()), "realface")
			if err := f.store.Finalize(t.Context(), sess, []byte(`{"id":"x"}`)); err != nil {
				t.Fatalf("Finalize: %v", err)
			}
			// Finalize hands back no ETag: the purge deletes the version read, as Reconcile's does.
			sess, err := f.store.GetSession(t.Context(), sess.ID)
			if err != nil {
				t.Fatalf("GetSession: %v", err)
			}
			tt.prepare(t, f, sess)
			err = f.store.PurgeSession(t.Context(), sess)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("PurgeSession: %v", err)
				}
				if _, err := f.store.GetSession(t.Context(), sess.ID); !errors.Is(err, liveness.ErrNotFound) {
					t.Errorf("GetSession after the purge: %v, want ErrNotFound", err)
				}
				if _, found, err := f.store.PendingEvent(t.Context(), sess.ID); err != nil || found {
					t.Errorf("event row after the purge: found %v, %v", found, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("PurgeSession = %v, want %v", err, tt.want)
			}
			if tt.want == liveness.ErrConflict {
				// Nothing deleted: both rows are still there.
				f.rawRow(t, sess.ID, rowSession)
				f.rawRow(t, sess.ID, rowEvent)
			}
		})
	}
}

func TestPurgeSessionRefusesAnOpenSession(t *testing.T) {
	f := newFixture(t, nil)
	sess := f.createSession(t, newSession())
	if err := f.store.PurgeSession(t.Context(), sess); !errors.Is(err, liveness.ErrInvalidRequest) {
		t.Errorf("PurgeSession of an open session = %v, want ErrInvalidRequest", err)
	}
	f.rawRow(t, sess.ID, rowSession)
}

func markSent(t *testing.T, f *fixture, id string) {
	t.Helper()
	if err := f.store.MarkEventSent(t.Context(), id); err != nil {
		t.Fatalf("MarkEventSent: %v", err)
	}
}

// A forget-key entry names a key record, not a session, and round-trips through the index; the
// two kinds of subject are not mixed up.
func TestDueForgetKeyEntries(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Date(2026, 7, 8, 9, 10, 0, 0, time.UTC)
	hash := strings.Repeat("ab", 32)
	item := liveness.DueItem{KeyHash: hash, Reason: liveness.DueForgetKey, Due: now}
	if err := f.store.AddDue(t.Context(), item); err != nil {
		t.Fatalf("AddDue: %v", err)
	}
	got, err := f.store.ListDue(t.Context(), now, nil, 10)
	if err != nil {
		t.Fatalf("ListDue: %v", err)
	}
	assertDue(t, got, []liveness.DueItem{item})
	if err := f.store.DeleteDue(t.Context(), got[0]); err != nil {
		t.Fatalf("DeleteDue: %v", err)
	}
	if got, err := f.store.ListDue(t.Context(), now, nil, 10); err != nil || len(got) != 0 {
		t.Errorf("ListDue after DeleteDue = %v, %v; want nothing", got, err)
	}

	id := newSession().ID
	for _, bad := range []liveness.DueItem{
		{SessionID: id, Reason: liveness.DueForgetKey, Due: now},
		{KeyHash: hash, SessionID: id, Reason: liveness.DueForgetKey, Due: now},
		{KeyHash: "AB" + hash[2:], Reason: liveness.DueForgetKey, Due: now},
		{KeyHash: hash, SessionID: id, Reason: liveness.DuePurge, Due: now},
		{KeyHash: hash, Reason: liveness.DuePurge, Due: now},
	} {
		if err := f.store.AddDue(t.Context(), bad); !errors.Is(err, liveness.ErrInvalidRequest) {
			t.Errorf("AddDue(%+v) = %v, want ErrInvalidRequest", bad, err)
		}
	}
}

func TestGetIdempotencyKey(t *testing.T) {
	f := newFixture(t, nil)
	rec := newRecordWithKey(strings.Repeat("cd", 32))
	if _, err := f.store.ReserveIdempotencyKey(t.Context(), rec); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	got, err := f.store.GetIdempotencyKey(t.Context(), rec.KeyHash)
	if err != nil {
		t.Fatalf("GetIdempotencyKey: %v", err)
	}
	if diff := cmp.Diff(rec, got); diff != "" {
		t.Errorf("GetIdempotencyKey (-want +got):\n%s", diff)
	}
	if _, err := f.store.GetIdempotencyKey(t.Context(), strings.Repeat("ef", 32)); !errors.Is(err, liveness.ErrNotFound) {
		t.Errorf("GetIdempotencyKey of no record = %v, want ErrNotFound", err)
	}
}
