package handlers

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
type sendPause struct {
	mu          sync.Mutex
	until       time.Time // zero: not paused
	lastSuccess time.Time // when the latest successful send started
}

// paused is errSendPaused while a pause lasts at now, else nil. A pause that reaches further
// than sendPauseFor past now was set before the clock stepped back: it is over, or it would last
// the size of the step.
func (p *sendPause) paused(now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.until.IsZero() || !now.Before(p.until):
		return nil
	case p.until.Sub(now) > sendPauseFor:
		p.until = time.Time{}
		return nil
	}
	return fmt.Errorf("%w (until %s)", errSendPaused, p.until.UTC().Format(time.RFC3339))
}

// record notes the result of a send made under ctx that started at started and ended at ended:
// a success ends the pause, a failure that Service Bus did not confirm starts one, unless a send
// that started later has succeeded meanwhile (a slow failure says nothing about the topic now),
// or ctx itself ended (the caller went away, Reconcile's budget ran out: the send was cut by us,
// not refused by Service Bus).
func (p *sendPause) record(ctx context.Context, started, ended time.Time, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err != nil && ctx.Err() != nil:
	case err == nil:
		p.until = time.Time{}
		if started.After(p.lastSuccess) {
			p.lastSuccess = started
		}
	case errors.Is(err, events.ErrSendFailed) && !started.Before(p.lastSuccess):
		p.until = ended.Add(sendPauseFor)
	}
}
