package handlers

import "net/http"

// issueLink is IssueLink: POST /api/sessions/{sessionId}/link.
func (s *Server) issueLink(w http.ResponseWriter, r *http.Request) error {
	return errNotImplemented
}
