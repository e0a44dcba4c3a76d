package handlers

import (
	"net/http"
	"strings"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// getSession is GetSession: GET /api/sessions/{sessionId}.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request) error {
	id, err := sessionIDFrom(r)
	if err != nil {
		return err
	}
	sess, err := s.store.GetSession(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewOf(sess))
	return nil
}

// sessionIDFrom returns the route's session id, checked to be a GUID before it goes anywhere
// (the request line included).
func sessionIDFrom(r *http.Request) (string, error) {
	id := r.PathValue("sessionId")
	if !liveness.ValidSessionID(id) {
		return "", liveness.Invalid("sessionId", "must be a session id (a GUID)")
	}
	id = strings.ToLower(id)
	noteSession(r.Context(), id)
	return id, nil
}
