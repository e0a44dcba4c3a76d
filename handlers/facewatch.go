package handlers

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// Health says "degraded" when the last faceFailuresToDegrade Face calls all failed and the latest
// of them ended less than faceFailureWindow ago; the first call that succeeds ends it at once.
// Each failed call has already used the client's retries, so three in a row is no blip; the
// window lets an instance that makes no more Face calls (no traffic) say "ok" again.
const (
	faceFailuresToDegrade = 3
	faceFailureWindow     = 5 * time.Minute
)

// faceWatch passes the handlers' Face calls through and keeps, from their outcomes, the passive
// signal Health reports: Health itself never calls Face (Face allows 10 requests per second per
// resource, and an anonymous probe must not spend them).
type faceWatch struct {
	next FaceSessions
	now  func() time.Time

	mu          sync.Mutex
	failures    int // in a row
	lastFailure time.Time
}

var _ FaceSessions = (*faceWatch)(nil)

func (w *faceWatch) Create(ctx context.Context, kind face.Kind, req face.CreateRequest) (*face.Session, error) {
	s, err := w.next.Create(ctx, kind, req)
	w.record(err)
	return s, err
}

func (w *faceWatch) Get(ctx context.Context, kind face.Kind, sessionID string) (*face.Session, error) {
	s, err := w.next.Get(ctx, kind, sessionID)
	w.record(err)
	return s, err
}

func (w *faceWatch) Delete(ctx context.Context, kind face.Kind, sessionID string) error {
	err := w.next.Delete(ctx, kind, sessionID)
	w.record(err)
	return err
}

func (w *faceWatch) record(err error) {
	failed, counts := faceOutcome(err)
	if !counts {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !failed {
		w.failures = 0
		return
	}
	w.failures++
	w.lastFailure = w.now()
}

// degraded reports whether recent Face calls have consistently failed (see faceFailuresToDegrade).
func (w *faceWatch) degraded() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failures >= faceFailuresToDegrade && w.now().Sub(w.lastFailure) < faceFailureWindow
}

// faceOutcome sorts a Face call's result. A call counts when it reached (or tried to reach) Face
// for its own reasons: input the client refused before sending, or a caller that went away, says
// nothing about Face. It failed when Face could not do the work: no answer, a timeout, a 5xx, a
// throttle (429, 408), refused credentials (401, 403), a 404 without Face's SessionNotFound code
// (a wrong endpoint or a proxy: see face.IsNotFound), or an answer the client could not use. Any
// other 4xx — a session not found, an image Face judged — is Face working.
func faceOutcome(err error) (failed, counts bool) {
	switch {
	case err == nil:
		return false, true
	case errors.Is(err, liveness.ErrInvalidRequest), errors.Is(err, context.Canceled):
		return false, false
	}
	re, ok := errors.AsType[*azcore.ResponseError](err)
	if !ok {
		return true, true
	}
	switch re.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true, true
	case http.StatusNotFound:
		return !face.IsNotFound(err), true
	}
	return re.StatusCode < 400 || re.StatusCode >= 500, true
}
