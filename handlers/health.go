package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// healthTTL is how long one readiness answer serves: Health is anonymous, so however often it is
// called, dependencies see at most one probe per instance in this window.
const healthTTL = 5 * time.Second

// readiness remembers the last answer of Options.Ready.
type readiness struct {
	mu      sync.Mutex
	checked time.Time
	err     error
}

// health is Health: GET /api/health. It says whether the app can serve, never why not, so a
// failed probe is an answer ({"status":"unavailable"}, 503), not an error.
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	// Detached: a caller that hangs up must not leave a cached "unavailable" for everyone else.
	ctx, cancel := detached(r, 3*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) ready(ctx context.Context) error {
	if s.opts.Ready == nil {
		return nil
	}
	s.readiness.mu.Lock() // held across the probe: concurrent callers share one
	defer s.readiness.mu.Unlock()
	now := s.now()
	if !s.readiness.checked.IsZero() && now.Sub(s.readiness.checked) < healthTTL {
		return s.readiness.err
	}
	err := s.opts.Ready(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "health check failed", slog.String("error", err.Error()))
	}
	s.readiness.checked, s.readiness.err = now, err
	return err
}
