package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/faulthooks"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// finish is the one path by which a session reaches a final state; CancelSession and Reconcile
// (and the Callback) only decide the status and outcome. In order:
//
//  1. the domain transition (liveness.Session.Finish), which refuses a session already final;
//  2. the state and its CloudEvent committed in one transaction (store.Finalize), which first
//     files a DueAnnounce entry, so that nothing committed can miss step 3;
//  3. the announcement: the event sent to Service Bus and marked sent, and the Face session
//     revoked, the two at once (they touch different rows and upstreams).
//
// err is non-nil only when nothing was recorded: ErrSessionFinalized, ErrConflict (another
// writer moved the session; decide again on a fresh read) or an upstream failure. unannounced is
// why the revocation did not complete, with the state recorded all the same: Reconcile does the
// rest when the announce entry comes due, and a caller that promises the revocation
// (CancelSession) answers with it, throttling hint included. An event that could not be sent is
// never the caller's failure: it stays unsent in the outbox, and the announce entry resends it.
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
	faulthooks.AfterCommit(ctx, sess.ID) // a no-op outside the fault suite's build
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.sendEvent(ctx, sess.ID, event); err != nil {
			s.log.WarnContext(ctx, "event left to Reconcile", slog.String("sessionId", sess.ID),
				slog.String("error", err.Error()), upstream.Attr(err))
		}
	})
	err = s.revokeFaceSession(ctx, sess)
	wg.Wait()
	if err != nil {
		s.log.WarnContext(ctx, "revocation left to Reconcile", slog.String("sessionId", sess.ID), slog.String("error", err.Error()))
		return err, nil
	}
	return nil, nil
}

// sendTimeout bounds the send that follows a commit in a request: Service Bus being slow or away
// must not hold the caller, since the announce entry resends what this send could not confirm.
const sendTimeout = 5 * time.Second

// sendEvent sends one committed event and marks it sent. A send that fails or cannot tell leaves
// the row unsent; a resend of an event that did arrive is dropped by the topic's duplicate
// detection (same MessageID). A mark that fails only means one such resend.
func (s *Server) sendEvent(ctx context.Context, sessionID string, event []byte) error {
	if s.events == nil {
		return nil // see New
	}
	started := s.now()
	if err := s.sends.paused(started); err != nil {
		return err
	}
	sendCtx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	err := s.events.Publish(sendCtx, [][]byte{event})
	s.sends.record(ctx, started, s.now(), err)
	if err != nil {
		return fmt.Errorf("send the event: %w", err)
	}
	if err := s.store.MarkEventSent(ctx, sessionID); err != nil {
		return fmt.Errorf("mark the event sent (it was sent): %w", err)
	}
	return nil
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
