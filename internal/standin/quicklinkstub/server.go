// Package quicklinkstub is a local stand-in for the Face liveness quick link service
// (liveness.face.azure.com; shared/docs/reference/face-liveness-api.md §8 and §11). It serves
// beside the Face stand-in and reads and writes that stand-in's sessions: POST /api/quicklink
// swaps a live session auth token, once, for a single-use link id; GET /?s=<id>&callbackUrl=<url>
// is the capture page, whose buttons POST /capture/{s} to record an attempt in the Face session
// and return the browser to callbackUrl. How it returns is a switch (Settings), because the real
// service's callback is undocumented. Controls for tests live under /_quicklink/.
package quicklinkstub

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/liveness-quicklink/functions/internal/standin/accesslog"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// Options tune a Server; nil means defaults.
type Options struct {
	Now    func() time.Time
	Rand   io.Reader // the source of link ids
	Logger *slog.Logger
	// Settings are the return switches at start; the zero value returns by GET redirect without
	// appended parameters.
	Settings Settings
}

// Server serves the quick link routes. It is safe for concurrent use.
type Server struct {
	face    *facestub.Server
	opts    Options
	mux     *http.ServeMux
	handler http.Handler // mux behind the access log

	mu       sync.Mutex
	links    map[string]*link // by link id (the s value)
	byTok    map[string]bool  // auth tokens already swapped for a link
	issued   []string         // every link id, oldest first
	settings Settings
}

// link is one single-use quick link.
type link struct {
	sessionID string
	kind      string // facestub.KindLiveness or KindLivenessWithVerify
	// callbackURL is the callbackUrl the link was first opened with ("" until then): the only place
	// a capture returns the browser to, whatever a later request carries.
	callbackURL string
	used        bool
}

// New returns a quick link stand-in over face's sessions.
func New(face *facestub.Server, opts *Options) *Server {
	s := &Server{face: face, links: map[string]*link{}, byTok: map[string]bool{}}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.opts.Rand == nil {
		s.opts.Rand = rand.Reader
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.New(slog.DiscardHandler)
	}
	s.settings = s.opts.Settings.withDefaults()
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /api/quicklink", s.create)
	s.mux.HandleFunc("GET /{$}", s.page)
	s.mux.HandleFunc("POST /capture/{s}", s.capture)
	s.controlRoutes()
	s.handler = accesslog.Handler(s.opts.Logger, s.mux)
	return s
}

// ServeHTTP serves POST /api/quicklink, the capture page and form, and the /_quicklink/ controls.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// IssuedLinkIDs returns every link id (s value) issued so far, oldest first: tests look for them
// where they must never appear.
func (s *Server) IssuedLinkIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// create answers POST /api/quicklink: 200 {"url":"/?s=<uuid>"} for a live session's token seen
// for the first time; 401 for a missing, unknown, expired or already used token (the real
// service's error answers are undocumented).
func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "A Bearer session auth token is required.")
		return
	}
	sessionID, kind, live := s.face.SessionByToken(token)
	if !live {
		writeError(w, http.StatusUnauthorized, "InvalidToken", "The session auth token is unknown or expired.")
		return
	}
	id, err := uuid.NewRandomFromReader(s.opts.Rand)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", "No link id.")
		return
	}
	s.mu.Lock()
	if s.byTok[token] {
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "InvalidToken", "The session auth token was already used for a link.")
		return
	}
	s.byTok[token] = true
	s.links[id.String()] = &link{sessionID: sessionID, kind: kind}
	s.issued = append(s.issued, id.String())
	s.mu.Unlock()
	writeJSON(w, map[string]string{"url": "/?s=" + id.String()})
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}
