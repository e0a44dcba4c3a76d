package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// cancelSession is CancelSession: DELETE /api/sessions/{sessionId}. Deleting the Face session
// revokes the token and any link; the final state and its event are then written together.
// Canceling twice gives the same answer; a session that ended otherwise is 409.
func (s *Server) cancelSession(w http.ResponseWriter, r *http.Request) {
	id, err := sessionIDFrom(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	ctx, cancel := detached(r, cancelBudget)
	defer cancel()
	for range 3 {
		sess, err := s.store.GetSession(ctx, id)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		if sess.Status == liveness.StatusCanceled {
			writeJSON(w, http.StatusOK, viewOf(sess))
			return
		}
		if sess.Status.Final() {
			s.problem(w, r, liveness.ErrSessionFinalized)
			return
		}
		if !sess.FaceDeleted {
			if err := s.face.Delete(ctx, faceKind(sess.Kind), sess.ID); err != nil && !face.IsNotFound(err) {
				s.problem(w, r, faceError("delete the Face session", err))
				return
			}
		}
		sess.Status = liveness.StatusCanceled
		sess.CompletedAt = s.now()
		sess.AuthToken = ""
		sess.FaceDeleted = true
		event, err := events.Marshal(sess, s.settings.PublicBaseURL)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		err = s.store.Finalize(ctx, sess, event)
		if errors.Is(err, liveness.ErrConflict) {
			continue // someone else changed the session: decide again on what it is now
		}
		if err != nil {
			s.problem(w, r, fmt.Errorf("record the cancellation: %w", err))
			return
		}
		s.log.InfoContext(ctx, "session canceled", slog.String("sessionId", sess.ID))
		writeJSON(w, http.StatusOK, viewOf(sess))
		return
	}
	s.problem(w, r, liveness.ErrConflict)
}
