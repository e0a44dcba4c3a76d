package store

import (
	"errors"
	"fmt"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// A write can commit and still fail in the caller's hands: its answer is lost (a reset, a timeout,
// a 500 from a front end after the back end committed), azcore retries it, and the retry meets the
// write's own result: 409 EntityAlreadyExists on an insert, 412 on an update whose If-Match names
// the version the first try replaced, a conflict in a transaction. Or every try's answer is lost
// and the caller gets a transport error for a write that is in the table. So every insert and
// conditional update stores a write id (Options.NewWriteID, one per logical write) in the
// WriteID column, and settle decides such an ending by reading the row back.

// settle decides a write that ended with err (already mapped by mapError). It returns nil when
// the row now carries writeID: the write is ours and committed. Otherwise it returns err when
// that is still the truth (another writer's row or version; a failure that committed nothing of
// ours), or ErrUpstreamUnavailable when the row cannot be read back to tell: a 503 the client can
// retry, never a conflict that may be the client's own success. reread returns the WriteID column
// of the row as it is now.
func settle(op string, err error, writeID string, reread func() (string, error)) error {
	if !errors.Is(err, liveness.ErrAlreadyExists) && !errors.Is(err, liveness.ErrConflict) &&
		!errors.Is(err, liveness.ErrUpstreamUnavailable) {
		return err
	}
	rowWriteID, rerr := reread()
	switch {
	case rerr == nil && rowWriteID == writeID:
		return nil
	case rerr == nil:
		return err
	case errors.Is(err, liveness.ErrUpstreamUnavailable):
		if re := upstream.Of(rerr); re != nil && !errors.Is(rerr, liveness.ErrNotFound) {
			// Still a 503, with the re-read's answer (and its throttling hint) beside the write's.
			return &undecided{cause: fmt.Errorf("%w; reading the row back: %v", err, rerr), answers: []error{err, re}}
		}
		return err
	}
	// Neither error is wrapped: their kinds (conflict, not found) would outrank the 503. Their
	// upstream answers are, for the throttling hint a Retry-After carries (upstream.RetryAfter).
	cause := fmt.Errorf("cannot tell whether the write committed (%v): reading the row back: %v", err, rerr)
	return unavailable(op, &undecided{cause: cause, answers: upstreamAnswers(err, rerr)})
}

// undecided is the error of a write settle cannot decide: its message, and, for errors.As, the
// upstream answers behind it — without the kinds of the errors they came in.
type undecided struct {
	cause   error
	answers []error
}

func (e *undecided) Error() string { return e.cause.Error() }

func (e *undecided) Unwrap() []error { return e.answers }

// upstreamAnswers are the upstream answers (*upstream.ResponseError) that errs hold.
func upstreamAnswers(errs ...error) []error {
	var out []error
	for _, err := range errs {
		if re := upstream.Of(err); re != nil {
			out = append(out, re)
		}
	}
	return out
}
