package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// defaultRetention is how long a final session is kept when Settings.Retention is not set: the
// default of RETENTION_DAYS.
const defaultRetention = 30 * 24 * time.Hour

// Retention works only through the due index, never by reading the table, with two entries:
//
//   - a DuePurge entry, filed by Reconcile when it has done a session's announce entry (the
//     event is sent, the Face session revoked where it is due), for CompletedAt + Retention.
//     Every final state commits after its announce entry is filed (store.Finalize), so every
//     final session gets its purge entry, and no request pays for it. The purge deletes the
//     session row and its event row together, only at the versions it read, and only once the
//     event is marked sent (else the entry is filed again: the outbox row is the undelivered
//     outcome's only copy). The session's other entries are not looked for: any still filed
//     finds no session when it comes due and is dropped, as a failed start's entry is.
//   - a DueForgetKey entry, filed once a start with an Idempotency-Key has created its session,
//     for the reservation's CreatedAt + IdempotencyWindow. It names the key's record, not a
//     session. Filed after the start rather than before the reservation, so that a start that
//     fails, or a replay, changes nothing in the table; a record whose request died before its
//     entry was filed stays until the key is used again (the next start past inFlightTimeout
//     takes it over). When it comes due, the record is deleted only if its own window is over,
//     at the version read: a key released and reserved again meanwhile has a newer CreatedAt, so
//     the old entry is filed again for the new window's end instead of cutting it short.
//
// Both deletions are conditional and take a row already gone as done, so two runs racing over
// the same entry, or a run whose delete's answer was lost, delete once and fail neither.

// fileForgetKey files the entry that deletes rec once its window is over (see above).
func (s *Server) fileForgetKey(ctx context.Context, rec *liveness.IdempotencyRecord) error {
	due := liveness.DueItem{KeyHash: rec.KeyHash, Reason: liveness.DueForgetKey, Due: rec.CreatedAt.Add(s.opts.IdempotencyWindow)}
	if err := s.store.AddDue(ctx, due); err != nil {
		return fmt.Errorf("index the Idempotency-Key's expiry: %w", err)
	}
	return nil
}

// filePurge files sess's DuePurge entry (see above); the announce entry goes only after it.
func (s *Server) filePurge(ctx context.Context, sess *liveness.Session) error {
	due := liveness.DueItem{SessionID: sess.ID, Reason: liveness.DuePurge, Due: sess.CompletedAt.Add(s.settings.Retention)}
	if err := s.store.AddDue(ctx, due); err != nil {
		return fmt.Errorf("index the session's retention: %w", err)
	}
	return nil
}

// isRetention reports whether r is handled by purgeOne rather than reconcileOne.
func isRetention(r liveness.DueReason) bool {
	return r == liveness.DuePurge || r == liveness.DueForgetKey
}

// purgeOne handles a retention entry and removes it once done. purged reports that this run
// deleted the session; another run's deletion, met as rows already gone, is not counted twice.
// Key records are not counted: their deletion cannot tell its own from another run's.
func (s *Server) purgeOne(ctx context.Context, item liveness.DueItem) (purged bool, err error) {
	if item.Reason == liveness.DueForgetKey {
		return false, s.forgetKey(ctx, item)
	}
	sess, err := s.store.GetSession(ctx, item.SessionID)
	switch {
	case errors.Is(err, liveness.ErrNotFound):
		return false, s.store.DeleteDue(ctx, item) // purged already
	case err != nil:
		return false, err
	case !sess.Status.Final():
		s.log.WarnContext(ctx, "reconcile: purge entry for a session that is not final; dropped", slog.String("sessionId", sess.ID))
		return false, s.store.DeleteDue(ctx, item)
	}
	if due := sess.CompletedAt.Add(s.settings.Retention); s.now().Before(due) {
		// RETENTION_DAYS was raised since the entry was filed: keep the session the new period.
		return false, s.refile(ctx, item, refiled(item, due, 0))
	}
	// What its announce entry would do, should the purge come first: no Face session is left
	// behind by a session the table forgets.
	if err := s.revokeFaceSession(ctx, sess); err != nil {
		return false, err
	}
	switch err := s.store.PurgeSession(ctx, sess); {
	case errors.Is(err, liveness.ErrNotFound):
		return false, s.store.DeleteDue(ctx, item) // another run's purge, or ours whose answer was lost
	case err != nil:
		return false, fmt.Errorf("delete the session: %w", err)
	}
	s.log.InfoContext(ctx, "session purged", slog.String("sessionId", sess.ID))
	return true, s.dropDue(ctx, item)
}

// forgetKey deletes the Idempotency-Key record a DueForgetKey entry names, once its window is over.
func (s *Server) forgetKey(ctx context.Context, item liveness.DueItem) error {
	rec, err := s.store.GetIdempotencyKey(ctx, item.KeyHash)
	switch {
	case errors.Is(err, liveness.ErrNotFound):
		return s.store.DeleteDue(ctx, item)
	case err != nil:
		return err
	}
	if end := rec.CreatedAt.Add(s.opts.IdempotencyWindow); s.now().Before(end) {
		// A newer reservation of the key, whose own entry is filed for this same time.
		return s.refile(ctx, item, refiled(item, end, 0))
	}
	if err := s.store.ReleaseIdempotencyKey(ctx, rec); err != nil {
		return fmt.Errorf("delete the Idempotency-Key record: %w", err)
	}
	return s.dropDue(ctx, item)
}

// dropDue removes a retention entry whose work is done. A conflict means the entry was filed
// again meanwhile (the announce entry files the purge entry, a request files the key's entry,
// and either may land on this same row): that entry finds its rows gone when it comes due and
// is dropped then, so the work is done all the same.
func (s *Server) dropDue(ctx context.Context, item liveness.DueItem) error {
	if err := s.store.DeleteDue(ctx, item); err != nil && !errors.Is(err, liveness.ErrConflict) {
		return err
	}
	return nil
}
