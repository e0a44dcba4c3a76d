package liveness

import "errors"

// Error kinds. Packages wrap these with %w; handlers map them to HTTP in one table.
var (
	ErrInvalidRequest       = errors.New("invalid request")
	ErrNotFound             = errors.New("not found")
	ErrConflict             = errors.New("concurrent update")      // an ETag no longer matches
	ErrAlreadyExists        = errors.New("already exists")         // a create-if-absent lost
	ErrLinkAlreadyIssued    = errors.New("link already issued")    // a session gets one link
	ErrLinkUnavailable      = errors.New("link unavailable")       // the token can no longer be swapped
	ErrSessionFinalized     = errors.New("session finalized")      // final states never change
	ErrIdempotencyKeyReused = errors.New("idempotency key reused") // same key, different body
	ErrIdempotencyInFlight  = errors.New("idempotent request in flight")
	ErrUpstreamUnavailable  = errors.New("upstream unavailable") // Face, storage or Service Bus failed
	ErrInvalidSignature     = errors.New("invalid signature")
)

// InvalidError describes bad input. It wraps ErrInvalidRequest so one mapping covers all of it.
type InvalidError struct {
	Field  string // JSON field or header name; empty for the body as a whole
	Reason string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func (e *InvalidError) Unwrap() error { return ErrInvalidRequest }

// Invalid returns an *InvalidError for field.
func Invalid(field, reason string) error { return &InvalidError{Field: field, Reason: reason} }
