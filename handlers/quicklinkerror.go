package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// quickLinkError is a failed quick link call. The token it sent is the app's own, so whatever the
// service answered is not the client's doing: the client sees 503 upstream_unavailable, with the
// service's Retry-After hint when it gave one (upstream.RetryAfter finds it in the chain), and the
// log keeps the detail. quicklink.Client.Create's errors quote neither the token nor the answer's
// body, which may hold the link.
func quickLinkError(err error) error {
	return fmt.Errorf("create the quick link: %w: %w", liveness.ErrUpstreamUnavailable, err)
}

// tokenRefused reports whether the quick link service refused the token for good: 401, 403 or
// 410. The token is the request's only credential and the request has no body, so these answers
// are about the token (spent, expired or unknown), and no retry will change them. Any other 4xx
// (400, 404, 405, 415, …) cannot be about the token: it is this app's setup or request that is
// wrong (a QUICKLINK_ENDPOINT that names the wrong service, say), and dropping the token would
// ruin every session that asked while it lasted; like 408, 429, 5xx, a timeout or a transport
// error, it keeps the token for a retry. The service's error answers are undocumented
// (face-liveness-api.md §8), so this goes by the status alone.
func tokenRefused(err error) bool {
	re := upstream.Of(err)
	if re == nil {
		return false
	}
	switch re.StatusCode() {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusGone:
		return true
	}
	return false
}

// quickLinkFailed is what IssueLink answers when the quick link call for session id failed with
// err. A refusal most likely means the token was swapped before: by a request on another instance
// (whose recorded link makes the answer link_already_issued or session_finalized), or by a call
// of this session whose answer was lost. In the second case no link can ever be issued: the token
// is dropped and the answer is liveness.ErrLinkUnavailable, as for every later IssueLink, which no
// longer calls the service. Any other failure is a 503 that keeps the token for a retry.
func (s *Server) quickLinkFailed(ctx context.Context, id string, err error) error {
	if stored, rerr := s.store.GetSession(ctx, id); rerr == nil {
		if _, derr := stored.IssueLink(s.now()); derr != nil {
			return fmt.Errorf("issue a link: %w (the quick link call failed: %v)", derr, err)
		}
	}
	if !tokenRefused(err) {
		return quickLinkError(err)
	}
	serr := s.spendToken(ctx, id)
	if errors.Is(serr, liveness.ErrLinkUnavailable) || errors.Is(serr, liveness.ErrLinkAlreadyIssued) || errors.Is(serr, liveness.ErrSessionFinalized) {
		return fmt.Errorf("issue a link: %w (the quick link service refused the token: %v)", serr, err)
	}
	// The token stays for now; the next IssueLink hears the refusal again and drops it.
	return fmt.Errorf("drop the refused token: %w (the quick link service refused it: %v)", serr, err)
}

// spendToken drops session id's Face token, which the quick link service has spent or refused, in
// a conditional write on the version it reads.
//
// Errors: liveness.ErrLinkUnavailable once the token is dropped (now or before);
// liveness.ErrLinkAlreadyIssued or ErrSessionFinalized when the session moved on; the store's
// errors; liveness.ErrConflict when it kept changing.
func (s *Server) spendToken(ctx context.Context, id string) error {
	for range 3 {
		sess, err := s.store.GetSession(ctx, id)
		if err != nil {
			return err
		}
		if sess.Status == liveness.StatusCreated && sess.AuthToken == "" {
			return liveness.ErrLinkUnavailable
		}
		if err := sess.TokenSpent(); err != nil {
			return err
		}
		err = s.store.UpdateSession(ctx, sess)
		if err == nil {
			s.log.InfoContext(ctx, "spent Face token dropped: the session can get no link", slog.String("sessionId", id))
			return liveness.ErrLinkUnavailable
		}
		if !errors.Is(err, liveness.ErrConflict) {
			return err
		}
	}
	return liveness.ErrConflict
}
