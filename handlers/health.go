package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/liveness-quicklink/functions/internal/upstream"
)

// healthTTL is how long one readiness answer serves: Health is anonymous, so however often it is
// called, dependencies see at most one probe per instance in this window.
const healthTTL = 5 * time.Second

// healthLimit bounds Health's one readiness probe.
const healthLimit = 3 * time.Second

// readiness remembers the last answer of Options.Ready.
type readiness struct {
	mu      sync.Mutex
	checked time.Time
	err     error
}

// health is Health: GET /api/health. It says whether the app can serve, never why not, so a
// failed probe is an answer, not an error:
//
//   - 503 {"status":"unavailable"}: the session table does not answer (Options.Ready), so the app
//     can do nothing;
//   - 200 {"status":"degraded"}: recent Face calls have consistently failed (see faceWatch), or the
//     table answers but throttles (429, 503 ServerBusy). Not a 503: a platform health check would
//     recycle healthy instances over an outage they cannot fix;
//   - 200 {"status":"ok"} otherwise.
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	// Detached: a caller that hangs up must not leave a cached "unavailable" for everyone else.
	ctx, cancel := detached(r, healthLimit)
	defer cancel()
	status := "ok"
	if err := s.ready(ctx); err != nil {
		note := noteOf(r.Context()) // the request line says why; the anonymous body does not
		note.err, note.code = err, "unavailable"
		if !throttled(err) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return nil
		}
		status = "degraded" // the table answers, only slower than asked: recycling would not help
	}
	if s.faceWatch != nil && s.faceWatch.degraded() {
		status = "degraded"
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": status})
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

// throttled reports whether err is a service's answer that it is busy (429, or 503 ServerBusy as
// Table Storage says it): the service is there, and asks for time.
func throttled(err error) bool {
	re := upstream.Of(err)
	return re != nil && (re.StatusCode() == http.StatusTooManyRequests ||
		re.StatusCode() == http.StatusServiceUnavailable && re.ErrorCode() == "ServerBusy")
}
