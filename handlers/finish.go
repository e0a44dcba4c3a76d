package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// finish is the one path by which a session reaches a final state; CancelSession and Reconcile
// (and the Callback) only decide the status and outcome. In order:
//
//  1. the domain transition (liveness.Session.Finish), which refuses a session already final;
//  2. the state and its CloudEvent committed in one transaction (store.Finalize), which first
//     files a DueAnnounce entry, so that nothing committed can miss step 3;
//  3. the announcement: publish the event (when the Service Bus publisher lands) and revoke
//     the Face session.
//
// err is non-nil only when nothing was recorded: ErrSessionFinalized, ErrConflict (another
// writer moved the session; decide again on a fresh read) or an upstream failure. unannounced is
// why step 3 did not complete, with the state recorded all the same: Reconcile does the rest when
// the announce entry comes due, and a caller that promises the revocation (CancelSession) answers
// with it, throttling hint included.
func (s *Server) finish(ctx context.Context, sess *liveness.Session, status liveness.Status, o *liveness.Outcome) (unannounced, err error) {
	if err := sess.Finish(status, o, s.now()); err != nil {
		return nil, err
	}
	event, err := events.Marshal(sess, s.settings.PublicBaseURL)
	if err != nil {
		return nil, err
	}
	if err := s.store.Finalize(ctx, sess, event); err != nil {
		return nil, fmt.Errorf("record the %s state: %w", status, err)
	}
	s.log.InfoContext(ctx, "session finished", slog.String("sessionId", sess.ID), slog.String("status", string(status)))
	if err := s.announce(ctx, sess); err != nil {
		s.log.WarnContext(ctx, "announcement left to Reconcile", slog.String("sessionId", sess.ID), slog.String("error", err.Error()))
		return err, nil
	}
	return nil, nil
}

// announce does what follows a committed final state, for finish and for Reconcile's announce
// entries alike. Each step is safe to repeat. Publishing the event joins it with the Service Bus
// publisher; until then events stay unsent in the outbox, and nothing resends them.
func (s *Server) announce(ctx context.Context, sess *liveness.Session) error {
	return s.revokeFaceSession(ctx, sess)
}

// revokeFaceSession deletes the Face session once the outcome is recorded: its token, link and
// any session image die with it. A canceled session is always revoked (that is what canceling
// is for); any other only with DELETE_FACE_SESSIONS. It runs after the commit: deleting first
// could lose a result that the commit then failed to keep.
func (s *Server) revokeFaceSession(ctx context.Context, sess *liveness.Session) error {
	revoke := s.settings.DeleteFaceSessions || sess.Status == liveness.StatusCanceled
	if !revoke || sess.FaceDeleted {
		return nil
	}
	if err := s.face.Delete(ctx, faceKind(sess.Kind), sess.ID); err != nil && !face.IsNotFound(err) {
		return faceError("delete the Face session", err)
	}
	if err := s.store.MarkFaceDeleted(ctx, sess); err != nil {
		return fmt.Errorf("record the Face session's deletion: %w", err)
	}
	return nil
}

// expiryDue is when Reconcile expires a session that nothing finished: its TTL plus the grace
// period, which leaves a user who started at the last moment time to finish.
func (s *Server) expiryDue(sess *liveness.Session) time.Time {
	return sess.ExpiresAt.Add(s.opts.ExpiryGrace)
}
