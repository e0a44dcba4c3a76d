package handlers

import (
	"errors"
	"net/http"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// cancelSession is CancelSession: DELETE /api/sessions/{sessionId}. It records canceled through
// the one finish path, which then revokes the Face session (token and any link). Canceling twice
// gives the same answer; a session that ended otherwise is 409.
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
		if sess.Status == liveness.StatusCanceled {
			writeJSON(w, http.StatusOK, viewOf(sess))
			return nil
		}
		err = s.finish(ctx, sess, liveness.StatusCanceled, nil)
		if errors.Is(err, liveness.ErrConflict) {
			continue // someone else changed the session: decide again on what it is now
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewOf(sess))
		return nil
	}
	return liveness.ErrConflict
}
