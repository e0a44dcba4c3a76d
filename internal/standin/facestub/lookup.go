package facestub

import "net/http"

// SessionKind returns the kind (KindLiveness or KindLivenessWithVerify) of a session that still
// exists: not deleted, not expired. The quick link stand-in uses it so that a link dies with its session.
func (s *Server) SessionKind(id string) (kind string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessionLocked(id)
	if sess == nil {
		return "", false
	}
	return sess.kind, true
}

// issuedRoutes serves GET /_stub/issued-tokens → {"tokens":[...]}: IssuedTokens for tests in another
// process, which look for the tokens where they must never appear.
func (s *Server) issuedRoutes() {
	s.mux.HandleFunc("GET /_stub/issued-tokens", func(w http.ResponseWriter, _ *http.Request) {
		tokens := s.IssuedTokens()
		if tokens == nil {
			tokens = []string{}
		}
		writeJSON(w, http.StatusOK, struct {
			Tokens []string `json:"tokens"`
		}{tokens})
	})
}
