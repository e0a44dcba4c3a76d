package handlers

import (
	"errors"
	"fmt"
	"time"
)

// callBounded is a dependency that knows the longest one of its calls takes, its retries and
// their backoff included: face.Client, quicklink.Client and store.Store (CallBound).
type callBounded interface{ CallBound() time.Duration }

// Budget is one endpoint's worst-case time inside the handler, from the moment its handler runs
// to its answer: Work, the sequential upstream calls of its longest path, each at its call bound,
// capped by the endpoint's own budget when it has one; plus Tail, the bounded clean-up that may
// follow once that budget ended (a failed start deletes its Face session and rows, each on its
// own 10 s context). What comes before the handler runs (the start gate, a slow client's body)
// is cmd/handler's to add.
type Budget struct {
	Endpoint string
	Work     time.Duration
	Tail     time.Duration
}

// Total is Work plus Tail.
func (b Budget) Total() time.Duration { return b.Work + b.Tail }

// cleanupLimit is the context of each clean-up step after a failed start (see discardFaceSession).
const cleanupLimit = 10 * time.Second

// Budgets states each endpoint's worst-case time from the call bounds of the Server's Face, quick
// link and table dependencies (their CallBound), its own budgets and the Service Bus send timeout.
// Every endpoint must answer well inside Azure's 230 s front-end limit and host.json's
// functionTimeout; cmd/handler's tests hold the real values to both. Error: a dependency that
// does not report its call bound (a test's stand-in).
func (s *Server) Budgets() ([]Budget, error) {
	bound := func(name string, dep any) (time.Duration, error) {
		if b, ok := dep.(callBounded); ok && b.CallBound() > 0 {
			return b.CallBound(), nil
		}
		return 0, fmt.Errorf("budgets: the %s dependency reports no call bound", name)
	}
	var faceDep any = s.face
	if s.faceWatch != nil {
		faceDep = s.faceWatch.next
	}
	F, ferr := bound("Face", faceDep)
	Q, qerr := bound("quick link", s.quickLinks)
	T, terr := bound("table", s.store)
	if err := errors.Join(ferr, qerr, terr); err != nil {
		return nil, err
	}
	capped := func(budget, sum time.Duration) time.Duration { return min(budget, sum) }
	// finish: the commit, then the send and its mark alongside the revocation and its mark.
	finish := T + max(sendTimeout+T, F+T)
	// issue: the swap, then recordLink's 3 tries of a write and a read, or a failure's
	// re-read, then spendToken's 3 tries of a read and a write.
	issue := Q + 6*T + 6*T + T
	// createSession: Face create, the row, its expiry entry, then the link.
	create := F + 2*T + issue
	// a start that fails deletes its Face session and rows, and releases its key, each bounded.
	startTail := min(cleanupLimit, F) + min(cleanupLimit, 2*T) + min(cleanupLimit, T)
	poll := s.opts.CallbackPoll + callbackPollInterval
	return []Budget{
		{Endpoint: "Health", Work: min(healthLimit, T)},
		{Endpoint: "GetSession", Work: T},
		// startIdempotent: up to 3 reservations, two of them released, then the create and the key.
		{Endpoint: "StartSession", Work: capped(startBudget, 6*T+create+T), Tail: startTail},
		{Endpoint: "IssueLink", Work: capped(linkBudget, T+issue)},
		// up to 3 decisions: a read, Face, and the finish.
		{Endpoint: "CancelSession", Work: capped(cancelBudget, 3*(T+F+finish))},
		// up to callbackDecisions: a read, the shared Face poll, then the finish or the return.
		{Endpoint: "Callback", Work: capped(callbackBudget, callbackDecisions*(T+poll+max(finish, 2*T)))},
		// the run's budget, and a call under way when it ends may take one call bound more
		// (each returns on its context's end; this is the margin).
		{Endpoint: "Reconcile", Work: s.opts.ReconcileBudget, Tail: max(F, Q, T, resendTimeout)},
	}, nil
}
