package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// errNotRevoked is a cancellation that is recorded but whose Face session could not be deleted.
var errNotRevoked = errors.New("the session is canceled, but its Face session is not revoked yet")

// cancelSession is CancelSession: DELETE /api/sessions/{sessionId}. It reads the Face session
// first, because the user may have finished an attempt that nothing recorded yet: then that
// outcome (completed or failed) is recorded through the one finish path, as Reconcile would, and
// the answer is 409 session_finalized with nothing canceled. Otherwise it records canceled, and
// finish then revokes the Face session (token and any link). A 200 promises both: when the
// revocation fails, the answer is 503 although the session is canceled, and a repeated DELETE
// (or Reconcile) revokes it. Canceling twice gives the same answer; a session that ended
// otherwise is 409. When Face cannot be read, nothing is recorded and the answer is 503.
func (s *Server) cancelSession(w http.ResponseWriter, r *http.Request) error {
	id, err := sessionIDFrom(r)
	if err != nil {
		return err
	}
	ctx, cancel := detached(r, cancelBudget)
	defer cancel()
	for range 3 {
		sess, err := s.store.GetSession(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case sess.Status == liveness.StatusCanceled && !sess.FaceDeleted:
			// Canceled before (or by this request, whose commit answer was lost) but not revoked.
			if err := s.revokeFaceSession(ctx, sess); err != nil {
				return fmt.Errorf("%w: %w", errNotRevoked, err)
			}
		case sess.Status.Final() && sess.Status != liveness.StatusCanceled:
			return fmt.Errorf("cancel a %s session: %w", sess.Status, liveness.ErrSessionFinalized)
		case sess.Status != liveness.StatusCanceled:
			unannounced, err := s.finishFromFace(ctx, sess, liveness.StatusCanceled)
			if errors.Is(err, liveness.ErrConflict) {
				continue // someone else changed the session: decide again on what it is now
			}
			if err != nil {
				return err
			}
			if sess.Status != liveness.StatusCanceled {
				return fmt.Errorf("cancel: an attempt had finished, recorded as %s: %w", sess.Status, liveness.ErrSessionFinalized)
			}
			if unannounced != nil {
				return fmt.Errorf("%w: %w", errNotRevoked, unannounced)
			}
		}
		writeJSON(w, http.StatusOK, viewOf(sess))
		return nil
	}
	return liveness.ErrConflict
}
