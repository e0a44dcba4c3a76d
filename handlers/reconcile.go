package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// reconcileInvocation is the Reconcile timer function, invoked by the host as POST /Reconcile.
// Items that fail are filed again for a later run; the run itself fails (non-2xx, logged by the
// host as a failed invocation) only when the index cannot be read.
func (s *Server) reconcileInvocation(w http.ResponseWriter, r *http.Request) error {
	if _, err := readInvocation(r); err != nil {
		s.log.WarnContext(r.Context(), "reconcile: unreadable invocation payload", slog.String("error", err.Error()))
	}
	res, err := s.Reconcile(r.Context())
	if err != nil {
		return fmt.Errorf("reconcile: read the work index: %w", err)
	}
	s.log.InfoContext(r.Context(), "reconcile: run", slog.Int("due", res.Due), slog.Int("finalized", res.Finalized),
		slog.Int("sent", res.Sent), slog.Int("failed", res.Failed), slog.Int("purged", res.Purged), slog.Int("left", res.Left))
	writeInvocation(w, http.StatusOK, fmt.Sprintf("reconcile: %d due, %d finalized, %d events sent, %d failed, %d purged, %d left",
		res.Due, res.Finalized, res.Sent, res.Failed, res.Purged, res.Left))
	return nil
}

// ReconcileResult counts what one run did: due entries read, sessions finalized, events sent by
// its batched resend (an expiry's own event is sent by finish and not counted), entries failed
// (each filed again for later, or left where it was when the budget ended), sessions purged
// (retention), and entries left: the failed ones, announce entries whose send was skipped while
// sends pause after a failure (left due, not failed), and those read that the run did not get to
// (a dependency down, the budget over). Entries of the index past the last page
// read are not counted: the run cannot know them without reading them.
type ReconcileResult struct{ Due, Finalized, Sent, Failed, Purged, Left int }

// reconcileBudget, Options.ReconcileBudget's default, keeps one run inside the host's
// functionTimeout (5 minutes in host.json) with room for what may come before and after it: up
// to 20 s at cmd/handler's start gate and one call bound (30 s) under way when it ends (see
// Budgets; cmd/handler's TestEveryEndpointFinishesWithinTheHostLimits).
const reconcileBudget = 210 * time.Second

// upstreamFailuresToStop is how many items in a row may fail on a dependency before a run stops:
// a failing session (a Face error of its own) must not stop the run, but a dependency that is
// down should not cost a full retry cycle per item.
const upstreamFailuresToStop = 3

// retryDelay is how long an entry waits after its nth failed try (n ≥ 1): a minute, doubled per
// failure up to an hour. Filed again that much later, an entry that keeps failing leaves the
// front of the index, which is read oldest first, instead of holding up the work behind it.
func retryDelay(n int) time.Duration {
	return min(time.Minute<<min(max(n-1, 0), 6), time.Hour)
}

// reconcileWorkers is how many due entries of a run are handled at once, at most. One run of
// the timer function (one instance at a time) must keep up with a day of due work, and each entry
// waits on Face and the table: concurrency hides that latency instead of paying it per entry.
const reconcileWorkers = 16

// Reconcile does the work that has come due, each entry as its reason says (liveness.DueReason).
// It reads the due index page by page (Options.ReconcileBatch entries a page), never the session
// table, until the index has nothing due left that this run has not seen or its budget ends. For
// each page it first sends, in one batched Publish, the unsent events of the page's announce
// entries (sendUnsent); then it handles the entries, up to reconcileWorkers at once, and an
// announce entry goes only once its event is marked sent. When a dependency is down it stops
// early: what is left stays due for the next tick instead of spending a retry cycle on every item.
func (s *Server) Reconcile(ctx context.Context) (ReconcileResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReconcileBudget)
	defer cancel()
	var res ReconcileResult
	seen := map[string]bool{}   // entries this run handled: one filed again for now comes back
	var after *liveness.DueItem // the last entry read: the next page starts past it
	run := &reconcileRun{width: 1}
	for ctx.Err() == nil && !run.stop {
		page, err := s.store.ListDue(ctx, s.now(), after, s.opts.ReconcileBatch)
		if err != nil {
			if len(seen) == 0 {
				return res, err
			}
			s.log.WarnContext(ctx, "reconcile: the next page of the index could not be read; the rest waits for the next run", slog.String("error", err.Error()))
			break
		}
		if len(page) > 0 {
			after = &page[len(page)-1]
		}
		var items []liveness.DueItem
		for _, item := range page {
			if key := item.SessionID + item.KeyHash + "/" + string(item.Reason); !seen[key] {
				seen[key] = true
				items = append(items, item)
			}
		}
		if len(items) == 0 {
			if len(page) < s.opts.ReconcileBatch {
				break // the index had no more due
			}
			continue // a page of entries this run met before: read on past it
		}
		res.Due += len(items)
		ann := s.sendUnsent(ctx, items)
		res.Sent += ann.sent
		s.reconcilePage(ctx, items, ann, run, &res)
		if len(page) < s.opts.ReconcileBatch {
			break // the index had no more due
		}
	}
	return res, nil
}

// reconcileRun paces a run's entries like a slow start: one at a time at first and after any
// dependency failure, twice as many at once after each wave that went through, up to
// reconcileWorkers. A dependency that is down so costs a few tries in a row, not one per entry,
// and upstreamFailuresToStop of them in a row stop the run.
type reconcileRun struct {
	width  int  // entries handled at once in the next wave
	inARow int  // dependency failures since the last success
	stop   bool // set once inARow reached upstreamFailuresToStop
}

// reconcilePage handles items in waves (see reconcileRun), counting into res.
func (s *Server) reconcilePage(ctx context.Context, items []liveness.DueItem, ann *announcements, run *reconcileRun, res *ReconcileResult) {
	for len(items) > 0 && ctx.Err() == nil && !run.stop {
		wave := items[:min(run.width, len(items))]
		items = items[len(wave):]
		type outcome struct {
			finalized, purged bool
			err               error
		}
		outcomes := make([]outcome, len(wave))
		var wg sync.WaitGroup
		for i, item := range wave {
			wg.Go(func() {
				if isRetention(item.Reason) {
					purged, err := s.purgeOne(ctx, item)
					outcomes[i] = outcome{purged: purged, err: err}
					return
				}
				finalized, err := s.reconcileOne(ctx, item, ann)
				outcomes[i] = outcome{finalized: finalized, err: err}
			})
		}
		wg.Wait()
		succeeded, upstreamFailed := 0, 0
		for i, o := range outcomes {
			item := wave[i]
			if o.err == nil {
				succeeded++
				if o.finalized {
					res.Finalized++
				}
				if o.purged {
					res.Purged++
				}
				continue
			}
			res.Left++
			if errors.Is(o.err, errSendPaused) {
				// Not a try: a send failed moments ago and the event was not offered. The entry
				// stays where it is, due for the next run (after the pause), its backoff not
				// raised, so that Service Bus's return is not met with waits grown meanwhile.
				s.log.InfoContext(ctx, "reconcile: event left for the next run while sends pause", slog.String("sessionId", item.SessionID))
				continue
			}
			res.Failed++
			s.log.WarnContext(ctx, "reconcile: item failed", slog.String("sessionId", item.SessionID), slog.String("keyHash", item.KeyHash),
				slog.String("reason", string(item.Reason)), slog.Int("attempts", item.Attempts+1), slog.String("error", o.err.Error()))
			if errors.Is(o.err, liveness.ErrUpstreamUnavailable) {
				upstreamFailed++
			}
			if ctx.Err() != nil {
				continue // the budget ended: the entry stays where it is
			}
			if rerr := s.retryLater(ctx, item, upstream.RetryAfter(o.err)); rerr != nil {
				s.log.WarnContext(ctx, "reconcile: item not filed again; it stays where it is", slog.String("sessionId", item.SessionID), slog.String("error", rerr.Error()))
			}
		}
		switch {
		case upstreamFailed > 0:
			run.width = 1
			if succeeded == 0 {
				run.inARow += upstreamFailed
			} else {
				run.inARow = 0
			}
		case succeeded > 0:
			run.width = min(2*run.width, reconcileWorkers)
			run.inARow = 0
		}
		if run.inARow >= upstreamFailuresToStop {
			run.stop = true
		}
	}
	res.Left += len(items) // not got to: they stay due for the next run
}

// reconcileOne handles one due entry and removes it once its work is done; when the work fails it
// returns the error and leaves the entry, which Reconcile then files again for later. finalized
// reports that this entry finished its session. ann is what sendUnsent did for the run's announce
// entries: an announce entry stays until its session's event is marked sent.
func (s *Server) reconcileOne(ctx context.Context, item liveness.DueItem, ann *announcements) (finalized bool, err error) {
	sess := ann.sessions[item.SessionID]
	if sess == nil {
		sess, err = s.store.GetSession(ctx, item.SessionID)
	}
	if errors.Is(err, liveness.ErrNotFound) {
		return false, s.store.DeleteDue(ctx, item) // a start that failed after indexing
	}
	if err != nil {
		return false, err
	}
	switch item.Reason {
	case liveness.DueAnnounce:
		if !sess.Status.Final() {
			// The commit this entry was filed for is still under way (a slow request, another
			// instance's clock) or failed: look again later, less often each time. A failed
			// commit leaves the session to its expiry, whose finish files a new entry.
			return false, s.retryLater(ctx, item, 0)
		}
		if err := ann.unsent[sess.ID]; err != nil {
			return false, err
		}
		if ann.sessions[sess.ID] == nil {
			// Final since sendUnsent looked: its event may not have been sent.
			if err := s.resendOne(ctx, sess); err != nil {
				return false, err
			}
		}
		if err := s.revokeFaceSession(ctx, sess); err != nil {
			return false, err
		}
		if err := s.filePurge(ctx, sess); err != nil {
			return false, err
		}
	case liveness.DueExpire:
		if sess.Status.Final() {
			break // finished otherwise; its announce entry covers the rest
		}
		if due := s.expiryDue(sess); s.now().Before(due) {
			// Filed too early (never by this version): file it again for the right time, so the
			// session still expires.
			s.log.WarnContext(ctx, "reconcile: expiry entry filed before the session's expiry; filed again",
				slog.String("sessionId", sess.ID), slog.Time("filedFor", item.Due), slog.Time("expiresAt", due))
			return false, s.refile(ctx, item, refiled(item, due, 0))
		}
		if _, err := s.finishFromFace(ctx, sess, liveness.StatusExpired); err != nil {
			return false, err
		}
		finalized = true
	case liveness.DueAbandon:
		if sess.Status.Final() {
			break
		}
		if sess.ReturnedAt.IsZero() {
			// No return was recorded, so there is nothing to abandon; the expiry entry stands.
			s.log.WarnContext(ctx, "reconcile: abandon entry without a recorded return; dropped", slog.String("sessionId", sess.ID))
			break
		}
		_, err := s.finishFromFace(ctx, sess, liveness.StatusAbandoned)
		if errors.Is(err, errAttemptRunning) {
			// The user is in the middle of an attempt (the return was early, or a link scanner's):
			// look again one abandon period later; the expiry entry still bounds the session.
			return false, s.refile(ctx, item, refiled(item, s.now().Add(s.settings.AbandonAfter), 0))
		}
		if err != nil {
			return false, err
		}
		finalized = true
	}
	return finalized, s.store.DeleteDue(ctx, item)
}

// retryLater files item again retryDelay later, one attempt more — or later still when the
// upstream that failed asked for longer (hint, its Retry-After; at most an hour, retryDelay's cap).
func (s *Server) retryLater(ctx context.Context, item liveness.DueItem, hint time.Duration) error {
	n := item.Attempts + 1
	delay := max(retryDelay(n), min(hint, time.Hour))
	return s.refile(ctx, item, refiled(item, s.now().Add(delay), n))
}

// refiled is item's entry filed again for due with attempts tries behind it: the same subject
// (session, or Idempotency-Key record) and reason, a new row.
func refiled(item liveness.DueItem, due time.Time, attempts int) liveness.DueItem {
	return liveness.DueItem{SessionID: item.SessionID, KeyHash: item.KeyHash, Reason: item.Reason, Due: due, Attempts: attempts}
}

// refile files next in place of the listed item, which it then removes. A conflict on the removal
// means the listed row was replaced meanwhile — by next itself, when both fall in the same minute
// (an early expiry entry filed again for later that minute) — so the entry stands either way.
func (s *Server) refile(ctx context.Context, item, next liveness.DueItem) error {
	if err := s.store.AddDue(ctx, next); err != nil {
		return err
	}
	if err := s.store.DeleteDue(ctx, item); err != nil && !errors.Is(err, liveness.ErrConflict) {
		return err
	}
	return nil
}

// errAttemptRunning is finishFromFace's refusal to record abandoned while Face reports an attempt
// under way: the user is still there.
var errAttemptRunning = errors.New("an attempt is under way at Face")

// finishFromFace finishes sess with what Face says: the latest finished attempt's outcome, else
// the fallback status (expired, abandoned, or canceled for CancelSession, which reads sess.Status
// afterwards to learn which). A Face session that is gone counts as no attempt. It answers as
// finish does, and errAttemptRunning, recording nothing, for abandoned while Face reports the
// session Running.
func (s *Server) finishFromFace(ctx context.Context, sess *liveness.Session, fallback liveness.Status) (unannounced, err error) {
	fs, err := s.face.Get(ctx, faceKind(sess.Kind), sess.ID)
	if err != nil && !face.IsNotFound(err) {
		return nil, faceError("read the Face session", err)
	}
	status, outcome := fallback, (*liveness.Outcome)(nil)
	if fs == nil {
		sess.FaceDeleted = true // nothing left at Face to revoke
	} else if st, o, ok := outcomeOf(fs); ok {
		status, outcome = st, o
	} else if fallback == liveness.StatusAbandoned && strings.EqualFold(fs.Status, "Running") {
		return nil, errAttemptRunning
	}
	// A conflict means another writer moved the session: its entries decide on the next run.
	return s.finish(ctx, sess, status, outcome)
}
