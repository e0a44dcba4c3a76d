package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// ResendHorizon is how long after a session reached its final state Reconcile resends its event
// with de-duplication assured. Service Bus drops a message whose MessageID it accepted within
// its duplicate-detection window; the first copy of an event can arrive no earlier than the state
// was reached, so every resend inside the horizon is dropped if a copy did arrive, as long as the
// topic's window exceeds the horizon (infra/ deploys 1440 minutes; its tests hold the two
// apart). An event still unsent past the horizon (Service Bus unreachable from the app for most
// of a day) is sent all the same, never dropped, with a warning: a consumer may then see it twice
// and de-duplicates by id. See docs/events.md.
const ResendHorizon = 23 * time.Hour

// resendTimeout bounds the batched send of one Reconcile run, so that Service Bus being away
// leaves most of the run's budget to the rest of its work; a healthy topic takes a batch in
// milliseconds.
const resendTimeout = 10 * time.Second

// announcements is what a Reconcile run learned and did about the events of its announce entries
// before it handles the entries one by one.
type announcements struct {
	sessions map[string]*liveness.Session // the final sessions of announce entries, as read
	unsent   map[string]error             // why a session's event is still unsent
	sent     int
}

// sendUnsent reads the sessions of the announce entries among items and sends the unsent events
// of the final ones in one Publish, which packs them into as few batches as the topic allows,
// oldest final state first (entries filed again after a failure no longer say that order), then
// marks each sent one sent. A session read as final has its event row (Finalize writes both in
// one transaction), so no event is missed because it was committed meanwhile: an entry whose
// session was not final here is left to reconcileOne. The reads, and the marks, run up to
// reconcileWorkers at once: each waits on the table, and one by one they would cost a page of
// announce entries two round trips each before the first event goes out.
func (s *Server) sendUnsent(ctx context.Context, items []liveness.DueItem) *announcements {
	a := &announcements{sessions: map[string]*liveness.Session{}, unsent: map[string]error{}}
	type unsentEvent struct {
		sess  *liveness.Session
		event []byte
	}
	var ids []string
	for _, item := range items {
		if item.Reason == liveness.DueAnnounce && !slices.Contains(ids, item.SessionID) {
			ids = append(ids, item.SessionID)
		}
	}
	var (
		mu    sync.Mutex
		queue []unsentEvent
		away  atomic.Bool // the table is away: reconcileOne meets it too, and stops the run
	)
	inPool(ids, func(id string) {
		if away.Load() {
			return
		}
		sess, err := s.store.GetSession(ctx, id)
		if errors.Is(err, liveness.ErrUpstreamUnavailable) {
			away.Store(true)
			return
		}
		if err != nil || !sess.Status.Final() {
			return // reconcileOne reads it again and decides
		}
		event, found, err := s.store.PendingEvent(ctx, id)
		mu.Lock()
		defer mu.Unlock()
		a.sessions[id] = sess
		switch {
		case err != nil:
			a.unsent[id] = fmt.Errorf("read the event: %w", err)
		case !found:
			// sent already
		case s.events == nil:
			a.unsent[id] = errNoPublisher
		default:
			queue = append(queue, unsentEvent{sess, event})
		}
	})
	if len(queue) == 0 {
		return a
	}
	slices.SortStableFunc(queue, func(x, y unsentEvent) int { return x.sess.CompletedAt.Compare(y.sess.CompletedAt) })
	queued, batch := make([]string, len(queue)), make([][]byte, len(queue))
	for i, u := range queue {
		s.warnIfLate(ctx, u.sess)
		queued[i], batch[i] = u.sess.ID, u.event
	}
	started := s.now()
	err := s.sends.paused(started)
	if err == nil {
		sendCtx, cancel := context.WithTimeout(ctx, resendTimeout)
		err = s.events.Publish(sendCtx, batch)
		cancel()
		s.sends.record(ctx, started, s.now(), err)
	}
	perr, _ := errors.AsType[*events.PublishError](err)
	var sent []string
	for i, id := range queued {
		failed := err
		if perr != nil {
			failed = perr.Err(i)
		}
		if failed != nil {
			a.unsent[id] = fmt.Errorf("send the event: %w", failed)
			if errors.Is(failed, events.ErrInvalidEvent) {
				// Never sendable as it is: it stays in the outbox, retried less and less often,
				// for an operator to look at.
				s.log.ErrorContext(ctx, "reconcile: event refused as invalid; it stays unsent", slog.String("sessionId", id), slog.String("error", failed.Error()))
			}
			continue
		}
		sent = append(sent, id)
	}
	inPool(sent, func(id string) {
		err := s.store.MarkEventSent(ctx, id)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			a.unsent[id] = fmt.Errorf("mark the event sent (it was sent): %w", err)
			return
		}
		a.sent++
	})
	return a
}

// inPool calls do for each of ids, up to reconcileWorkers at once, and returns when all are done.
func inPool(ids []string, do func(id string)) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, reconcileWorkers)
	for _, id := range ids {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			do(id)
		})
	}
	wg.Wait()
}

// resendOne sends the event of a session that became final after sendUnsent looked at it.
func (s *Server) resendOne(ctx context.Context, sess *liveness.Session) error {
	event, found, err := s.store.PendingEvent(ctx, sess.ID)
	switch {
	case err != nil:
		return fmt.Errorf("read the event: %w", err)
	case !found:
		return nil
	case s.events == nil:
		return errNoPublisher
	}
	s.warnIfLate(ctx, sess)
	return s.sendEvent(ctx, sess.ID, event)
}

func (s *Server) warnIfLate(ctx context.Context, sess *liveness.Session) {
	if age := s.now().Sub(sess.CompletedAt); age > ResendHorizon {
		s.log.WarnContext(ctx, "reconcile: event sent past the resend horizon; if an earlier send arrived, consumers see it twice",
			slog.String("sessionId", sess.ID), slog.Duration("sinceFinal", age), slog.Duration("horizon", ResendHorizon))
	}
}

// errNoPublisher keeps events in the outbox of a Server built without a publisher (see New).
var errNoPublisher = errors.New("no Service Bus publisher: the event stays in the outbox")
