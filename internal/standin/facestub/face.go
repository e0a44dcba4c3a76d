package facestub

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// face wraps a Face route: it counts the request, applies faults, then checks credentials.
func (s *Server) face(op operation, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count(op)
		w.Header().Set("apim-request-id", s.uuid())
		if !s.apply(s.takeFault(), w, r) {
			return
		}
		if !s.authorized(r.Header) {
			writeError(w, errUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(h http.Header) bool {
	if key := h.Get("Ocp-Apim-Subscription-Key"); key != "" && (s.opts.APIKey == "" || equal(key, s.opts.APIKey)) {
		return true
	}
	scheme, token, _ := strings.Cut(h.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	if s.opts.BearerToken != "" {
		return equal(token, s.opts.BearerToken)
	}
	s.mu.Lock()
	_, isSessionToken := s.tokens[token]
	s.mu.Unlock()
	return !isSessionToken
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) create(kind string) http.HandlerFunc {
	parse := parseCreateJSON
	if kind == KindLivenessWithVerify {
		parse = parseCreateMultipart
	}
	return func(w http.ResponseWriter, r *http.Request) {
		p, ferr := parse(r.Header.Get("Content-Type"), http.MaxBytesReader(w, r.Body, 2*maxImageBytes))
		if ferr != nil {
			writeError(w, ferr)
			return
		}
		now := s.opts.Now()
		sess := &session{
			id:           s.uuid(),
			kind:         kind,
			token:        s.token(),
			created:      now,
			tokenExpires: now.Add(time.Duration(p.ttlSeconds) * time.Second),
			status:       StatusNotStarted,
			sessionImage: p.sessionImage,
		}
		if kind == KindLivenessWithVerify {
			sess.verify = &p
		}
		s.mu.Lock()
		s.sweepLocked(now)
		s.sessions[sess.id] = sess
		sess.age = s.byAge.PushBack(sess)
		s.tokens[sess.token] = sess.id
		s.issued = append(s.issued, sess.token)
		out := sess.render()
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) get(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		sess := s.sessionLocked(r.PathValue("sessionId"))
		var out sessionJSON
		if sess != nil && sess.kind == kind {
			out = sess.render()
		}
		s.mu.Unlock()
		if sess == nil || sess.kind != kind {
			writeError(w, errSessionNotFound)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// delete removes the session, its token and its images, as Face does.
func (s *Server) delete(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		sess := s.sessionLocked(r.PathValue("sessionId"))
		found := sess != nil && sess.kind == kind
		if found {
			s.removeLocked(sess)
		}
		s.mu.Unlock()
		if !found {
			writeError(w, errSessionNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) getImage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	id, ok := s.images[r.PathValue("sessionImageId")]
	ok = ok && s.sessionLocked(id) != nil
	s.mu.Unlock()
	if !ok {
		writeError(w, errSessionImageNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	w.Write(s.image)
}

// sessionLocked returns the live session with id, forgetting it if it has expired.
func (s *Server) sessionLocked(id string) *session {
	sess := s.sessions[id]
	if sess != nil && sess.expired(s.opts.Now()) {
		s.removeLocked(sess)
		return nil
	}
	return sess
}

func (s *Server) removeLocked(sess *session) {
	delete(s.sessions, sess.id)
	delete(s.tokens, sess.token)
	for _, img := range sess.images {
		delete(s.images, img)
	}
	s.byAge.Remove(sess.age)
}

// sweepLocked forgets expired sessions, so a long-running stand-in does not grow without bound.
// Sessions live SessionLifetime from their creation and byAge holds them in creation order, so the
// expired ones are at its front and a create costs the same however many sessions are live. (A
// clock set back could put a later-expiring session in front; the ones behind it are then
// forgotten late, but sessionLocked still never returns them.)
func (s *Server) sweepLocked(now time.Time) {
	for e := s.byAge.Front(); e != nil; e = s.byAge.Front() {
		sess := e.Value.(*session)
		if !sess.expired(now) {
			return
		}
		s.removeLocked(sess)
	}
}
