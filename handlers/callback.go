package handlers

import "net/http"

// callback is Callback: GET, POST and HEAD /api/callback/{sessionId}, the quick link return.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) error {
	return errNotImplemented
}
