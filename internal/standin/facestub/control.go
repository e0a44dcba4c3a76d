package facestub

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
)

// Stats counts the Face requests received, whatever their outcome (faults and auth failures included).
type Stats struct {
	Create       int `json:"create"`       // both kinds
	Get          int `json:"get"`          // both kinds
	Delete       int `json:"delete"`       // both kinds
	SessionImage int `json:"sessionImage"` // GetSessionImage
	Total        int `json:"total"`        // every request under /face/, unknown routes included
}

type operation int

const (
	opOther operation = iota
	opCreate
	opGet
	opDelete
	opSessionImage
)

func (s *Server) count(op operation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Total++
	switch op {
	case opCreate:
		s.stats.Create++
	case opGet:
		s.stats.Get++
	case opDelete:
		s.stats.Delete++
	case opSessionImage:
		s.stats.SessionImage++
	}
}

// Stats returns the request counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// IssuedTokens returns every session auth token the stand-in has issued, oldest first, whatever
// became of its session since: tests look for them where they must never appear (logs, answers).
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// SessionByToken returns the session a live auth token belongs to: not deleted, not expired, and within
// the token's lifetime.
func (s *Server) SessionByToken(token string) (id string, kind string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessionLocked(s.tokens[token])
	if sess == nil || !s.opts.Now().Before(sess.tokenExpires) {
		return "", "", false
	}
	return sess.id, sess.kind, true
}

// controlRoutes serves the Go controls over HTTP, for a dev runner or a stand-in in another process.
// They need no credentials and see no faults.
func (s *Server) controlRoutes() {
	s.issuedRoutes()
	s.mux.HandleFunc("POST /_stub/sessions/{sessionId}/attempts", func(w http.ResponseWriter, r *http.Request) {
		var a Attempt
		if err := decodeStrict(r, &a); err != nil {
			writeError(w, errInvalidRequestBody(err.Error()))
			return
		}
		id, err := s.addAttempt(r.PathValue("sessionId"), a)
		switch {
		case errors.Is(err, ErrSessionNotFound):
			writeError(w, errSessionNotFound)
		case err != nil:
			writeError(w, errBadArgument(err.Error()))
		default:
			writeJSON(w, http.StatusOK, struct {
				AttemptID int `json:"attemptId,omitempty"`
			}{id})
		}
	})
	s.mux.HandleFunc("GET /_stub/tokens/{token}", func(w http.ResponseWriter, r *http.Request) {
		id, kind, ok := s.SessionByToken(r.PathValue("token"))
		if !ok {
			writeError(w, errSessionNotFound)
			return
		}
		writeJSON(w, http.StatusOK, struct {
			SessionID string `json:"sessionId"`
			Kind      string `json:"kind"`
		}{id, kind})
	})
	s.mux.HandleFunc("PUT /_stub/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if err := decodeStrict(r, &f); err != nil {
			writeError(w, errInvalidRequestBody(err.Error()))
			return
		}
		s.SetFaults(f)
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /_stub/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
}

// decodeStrict reads a small JSON body, rejecting unknown fields: a typo in a test control should fail
// loudly rather than be ignored.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
