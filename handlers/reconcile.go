package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// reconcileInvocation is the Reconcile timer function, invoked by the host as POST /Reconcile.
// Items that fail stay in the index and are retried on the next tick; the run itself fails
// (non-2xx, logged by the host as a failed invocation) only when the index cannot be read.
func (s *Server) reconcileInvocation(w http.ResponseWriter, r *http.Request) {
	if _, err := readInvocation(r); err != nil {
		s.log.WarnContext(r.Context(), "reconcile: unreadable invocation payload", slog.String("error", err.Error()))
	}
	res, err := s.Reconcile(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "reconcile failed", slog.String("error", err.Error()))
		writeInvocation(w, http.StatusInternalServerError, "reconcile failed: the work index could not be read")
		return
	}
	writeInvocation(w, http.StatusOK, fmt.Sprintf("reconcile: %d due, %d finalized, %d failed", res.Due, res.Finalized, res.Failed))
}

// ReconcileResult counts what one run did.
type ReconcileResult struct{ Due, Finalized, Failed int }

// reconcileBudget keeps one run inside the host's functionTimeout (5 minutes in host.json).
const reconcileBudget = 4 * time.Minute

// Reconcile finishes the sessions whose expiry is due: a finished attempt that no callback
// recorded becomes completed or failed, anything else expired. It reads a bounded batch of the
// due index, never the session table. When a dependency is down it stops early: what is left
// stays due for the next tick instead of spending a retry cycle on every item.
func (s *Server) Reconcile(ctx context.Context) (ReconcileResult, error) {
	ctx, cancel := context.WithTimeout(ctx, reconcileBudget)
	defer cancel()
	var res ReconcileResult
	items, err := s.store.ListDue(ctx, s.now(), s.opts.ReconcileBatch)
	if err != nil {
		return res, err
	}
	res.Due = len(items)
	for _, item := range items {
		finalized, err := s.reconcileOne(ctx, item)
		if err != nil {
			res.Failed++
			s.log.WarnContext(ctx, "reconcile: item failed", slog.String("sessionId", item.SessionID), slog.String("error", err.Error()))
			if errors.Is(err, liveness.ErrUpstreamUnavailable) || ctx.Err() != nil {
				break
			}
			continue
		}
		if finalized {
			res.Finalized++
		}
	}
	return res, nil
}

func (s *Server) reconcileOne(ctx context.Context, item liveness.DueItem) (bool, error) {
	sess, err := s.store.GetSession(ctx, item.SessionID)
	if errors.Is(err, liveness.ErrNotFound) {
		return false, s.store.DeleteDue(ctx, item) // a start that failed after indexing
	}
	if err != nil {
		return false, err
	}
	if sess.Status.Final() {
		// A Face session whose deletion failed after the commit is deleted now; the item stays
		// due until that works (Finalize filed a retry entry for just this).
		if err := s.deleteFaceSession(ctx, sess); err != nil {
			return false, err
		}
		return false, s.store.DeleteDue(ctx, item)
	}
	if s.now().Before(sess.ExpiresAt.Add(s.opts.ExpiryGrace)) {
		// Not this session's expiry entry (an event-retry entry that a lost Finalize race left):
		// the expiry entry written at start is still in the index and comes due on its own.
		return false, s.store.DeleteDue(ctx, item)
	}
	fs, err := s.face.Get(ctx, faceKind(sess.Kind), sess.ID)
	if err != nil && !face.IsNotFound(err) {
		return false, faceError("read the Face session", err)
	}
	sess.Status = liveness.StatusExpired
	if fs != nil {
		if status, outcome, ok := outcomeOf(fs); ok {
			sess.Status, sess.Outcome = status, outcome
		}
	}
	sess.CompletedAt = s.now()
	sess.AuthToken = ""
	event, err := events.Marshal(sess, s.settings.PublicBaseURL)
	if err != nil {
		return false, err
	}
	if err := s.store.Finalize(ctx, sess, event); err != nil {
		return false, err // a conflict means another writer moved it: the next run decides again
	}
	s.log.InfoContext(ctx, "session finalized by reconcile", slog.String("sessionId", sess.ID), slog.String("status", string(sess.Status)))
	if fs == nil {
		sess.FaceDeleted = true // Face no longer has it
	}
	if err := s.deleteFaceSession(ctx, sess); err != nil {
		return true, err // recorded; the item stays due for the deletion
	}
	return true, s.store.DeleteDue(ctx, item)
}

// deleteFaceSession revokes what the Face session still holds once its outcome is recorded
// (when DELETE_FACE_SESSIONS is on). It runs after the commit: deleting first could lose a result
// that the commit then failed to keep.
func (s *Server) deleteFaceSession(ctx context.Context, sess *liveness.Session) error {
	if !s.settings.DeleteFaceSessions || sess.FaceDeleted {
		return nil
	}
	if err := s.face.Delete(ctx, faceKind(sess.Kind), sess.ID); err != nil && !face.IsNotFound(err) {
		return faceError("delete the Face session", err)
	}
	return nil
}
