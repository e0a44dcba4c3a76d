package liveness

import (
	"errors"
	"fmt"
	"time"
)

// The transitions of design §4, and only these, change a session's status:
//
//	created    --IssueLink--> linkIssued
//	created    --TokenSpent-> created     (the token dropped: no link can be issued any more)
//	created    --Returned---> created     (returnedAt set)
//	linkIssued --Returned---> linkIssued  (returnedAt set)
//	created | linkIssued --Finish--> completed | failed | abandoned | expired | canceled
//
// A final session never changes again.

// IssueLink records the session's one quick link and hands over the Face auth token that the quick
// link call needs; the session holds no token afterwards (design §5), so the caller writes it back
// only once the link exists.
//
// Errors: ErrLinkAlreadyIssued for linkIssued, ErrSessionFinalized for a final session, and
// ErrLinkUnavailable for a created session whose token was dropped as spent (TokenSpent).
func (s *Session) IssueLink(now time.Time) (authToken string, err error) {
	switch {
	case s.Status.Final():
		return "", ErrSessionFinalized
	case s.Status == StatusLinkIssued:
		return "", ErrLinkAlreadyIssued
	case s.Status != StatusCreated:
		return "", fmt.Errorf("issue a link: unknown status %q", s.Status)
	case s.AuthToken == "":
		return "", ErrLinkUnavailable
	}
	authToken = s.AuthToken
	s.Status, s.LinkIssuedAt, s.AuthToken = StatusLinkIssued, now, ""
	return authToken, nil
}

// TokenSpent records that the quick link service refused the session's Face token (spent, expired
// or unknown to it): no link can ever be swapped for it, so the session drops the bearer secret
// (design §5 keeps it only while it can still become a link) and stays created until it ends;
// IssueLink then answers ErrLinkUnavailable. Repeating it changes nothing.
//
// Errors: ErrLinkAlreadyIssued for linkIssued (the token went into a link after all),
// ErrSessionFinalized for a final session.
func (s *Session) TokenSpent() error {
	switch {
	case s.Status.Final():
		return ErrSessionFinalized
	case s.Status == StatusLinkIssued:
		return ErrLinkAlreadyIssued
	case s.Status != StatusCreated:
		return fmt.Errorf("drop a spent token: unknown status %q", s.Status)
	}
	s.AuthToken = ""
	return nil
}

// LinkSwapped records linkIssued at issuedAt for a link this caller got by swapping the session's
// token, on a version of the session read after the swap. It is IssueLink for a caller that
// already holds the link: a token dropped meanwhile (TokenSpent, by a request whose own swap the
// service refused because this one had spent the token) does not stop it.
//
// Errors: ErrLinkAlreadyIssued for linkIssued, ErrSessionFinalized for a final session.
func (s *Session) LinkSwapped(issuedAt time.Time) error {
	if err := s.TokenSpent(); err != nil {
		return err
	}
	s.Status, s.LinkIssuedAt = StatusLinkIssued, issuedAt
	return nil
}

// Returned records that the user came back through the callback while no attempt had finished.
// The first return counts: a repeat (callbacks are safe to repeat) changes nothing. The status
// stays as it is; Reconcile later finishes the session as abandoned unless an attempt finishes.
//
// Errors: ErrSessionFinalized for a final session.
func (s *Session) Returned(now time.Time) error {
	switch {
	case s.Status.Final():
		return ErrSessionFinalized
	case s.Status != StatusCreated && s.Status != StatusLinkIssued:
		return fmt.Errorf("record a return: unknown status %q", s.Status)
	}
	if s.ReturnedAt.IsZero() {
		s.ReturnedAt = now
	}
	return nil
}

// Finish moves the session to the final status with what Face reported: completed and failed
// carry the outcome of the latest attempt (a decision, or a failure), the others none; abandoned
// needs a recorded return. A final session holds no bearer secret, so the token goes.
//
// Errors: ErrSessionFinalized for a session already final; a plain error (a bug in the caller)
// for a status that is not final or an outcome that does not fit it.
func (s *Session) Finish(status Status, o *Outcome, now time.Time) error {
	if s.Status.Final() {
		return ErrSessionFinalized
	}
	if s.Status != StatusCreated && s.Status != StatusLinkIssued {
		return fmt.Errorf("finish: unknown status %q", s.Status)
	}
	if err := checkFinish(s, status, o); err != nil {
		return fmt.Errorf("finish as %s: %w", status, err)
	}
	s.Status, s.Outcome, s.CompletedAt, s.AuthToken = status, o, now, ""
	return nil
}

func checkFinish(s *Session, status Status, o *Outcome) error {
	switch status {
	case StatusCompleted:
		if o == nil || o.Decision == "" || o.Failure != nil {
			return errors.New("needs an outcome with a decision and no failure")
		}
	case StatusFailed:
		if o == nil || o.Failure == nil || o.Decision != "" {
			return errors.New("needs an outcome with a failure and no decision")
		}
	case StatusAbandoned, StatusExpired, StatusCanceled:
		if o != nil {
			return errors.New("takes no outcome: no attempt finished")
		}
		if status == StatusAbandoned && s.ReturnedAt.IsZero() {
			return errors.New("needs a recorded return")
		}
	default:
		return errors.New("not a final status")
	}
	return nil
}
