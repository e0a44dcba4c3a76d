package handlers

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/liveness-quicklink/functions/internal/events"
)

// sendPauseFor is how long events are left in the outbox after a send failed. Service Bus being
// away would otherwise cost every request that finishes a session the whole sendTimeout, and a
// Reconcile run one sendTimeout per expiry; the outbox loses nothing meanwhile.
const sendPauseFor = 30 * time.Second

// errSendPaused is why an event was left to Reconcile without trying.
var errSendPaused = errors.New("a send failed less than 30 s ago: the event is left to Reconcile")

// sendPause remembers until when sends are skipped, inline and Reconcile's batched resend alike;
// the pause is shorter than Reconcile's period, so each run tries the topic again, and a send
// that succeeds ends the pause. The zero value sends.
type sendPause struct{ until atomic.Int64 } // unix nanoseconds

// paused is errSendPaused while a pause lasts at now, else nil.
func (p *sendPause) paused(now time.Time) error {
	if until := p.until.Load(); now.UnixNano() < until {
		return fmt.Errorf("%w (until %s)", errSendPaused, time.Unix(0, until).UTC().Format(time.RFC3339))
	}
	return nil
}

// record starts a pause when err says Service Bus did not confirm a send, and ends one on success.
func (p *sendPause) record(now time.Time, err error) {
	switch {
	case err == nil:
		p.until.Store(0)
	case errors.Is(err, events.ErrSendFailed):
		p.until.Store(now.Add(sendPauseFor).UnixNano())
	}
}
