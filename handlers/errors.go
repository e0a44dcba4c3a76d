package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// problemKind is one row of the error table: what the client sees for a kind of error.
type problemKind struct {
	status int
	code   string
	title  string
	// retryAfter is the Retry-After header in seconds; zero sends none.
	retryAfter int
}

// Errors raised by the HTTP layer itself.
var (
	errRouteNotFound        = errors.New("route not found")
	errPayloadTooLarge      = errors.New("payload too large")
	errUnsupportedMediaType = errors.New("unsupported media type")
	errLengthRequired       = errors.New("request body of unknown length")
	errNotImplemented       = errors.New("not implemented")
)

// ErrStarting is the error of a request that arrived before the app could serve it: its
// dependencies are still being built, or cannot be reached yet (see Starting).
var ErrStarting = errors.New("the app is starting")

var upstreamUnavailable = problemKind{http.StatusServiceUnavailable, "upstream_unavailable", "A service this app depends on is unavailable; retry later.", 1}

// problemTable maps every error kind to its HTTP answer, in one place. The first row whose error
// matches (errors.Is) wins; anything else is a 500.
var problemTable = []struct {
	err  error
	kind problemKind
}{
	{liveness.ErrInvalidRequest, problemKind{http.StatusBadRequest, "invalid_request", "The request is not valid.", 0}},
	{errPayloadTooLarge, problemKind{http.StatusRequestEntityTooLarge, "payload_too_large", "The request body is too large.", 0}},
	{errUnsupportedMediaType, problemKind{http.StatusUnsupportedMediaType, "unsupported_media_type", "The request body must be application/json in UTF-8.", 0}},
	{errLengthRequired, problemKind{http.StatusLengthRequired, "length_required", "The request body must be sent with a Content-Length; the Functions host does not forward chunked bodies.", 0}},
	{errRouteNotFound, problemKind{http.StatusNotFound, "not_found", "No such resource.", 0}},
	{liveness.ErrNotFound, problemKind{http.StatusNotFound, "session_not_found", "The session does not exist.", 0}},
	{liveness.ErrLinkAlreadyIssued, problemKind{http.StatusConflict, "link_already_issued", "The session already has a link.", 0}},
	{liveness.ErrLinkUnavailable, problemKind{http.StatusConflict, "link_unavailable", "The session's token can no longer be swapped for a link; cancel the session and start a new one.", 0}},
	{liveness.ErrSessionFinalized, problemKind{http.StatusConflict, "session_finalized", "The session is already finished.", 0}},
	{liveness.ErrIdempotencyKeyReused, problemKind{http.StatusConflict, "idempotency_key_reused", "The Idempotency-Key was used with a different request.", 0}},
	{liveness.ErrIdempotencyInFlight, problemKind{http.StatusConflict, "request_in_progress", "A request with this Idempotency-Key is still in progress.", 1}},
	{liveness.ErrConflict, problemKind{http.StatusConflict, "concurrent_update", "The session changed during the request; retry.", 0}},
	{liveness.ErrInvalidSignature, problemKind{http.StatusUnauthorized, "invalid_signature", "The link signature is missing, invalid or expired.", 0}},
	{liveness.ErrUpstreamUnavailable, upstreamUnavailable},
	{context.DeadlineExceeded, upstreamUnavailable},
	{ErrStarting, problemKind{http.StatusServiceUnavailable, "upstream_unavailable", "The app is starting or cannot reach a service it depends on yet; retry shortly.", 5}},
	{errNotImplemented, problemKind{http.StatusNotImplemented, "not_implemented", "This feature is not available yet.", 0}},
}

var internalProblem = problemKind{http.StatusInternalServerError, "internal_error", "An unexpected error occurred.", 0}

// problem is an RFC 9457 problem details body with the stable machine code of design §3.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

func classify(err error) problemKind {
	for _, row := range problemTable {
		if errors.Is(err, row.err) {
			return row.kind
		}
	}
	return internalProblem
}

// problemFor is what the client hears about err: the table's words, plus the field-level reason
// for bad input (which names only what the client sent). Nothing else of the chain leaves.
func problemFor(err error) (problemKind, problem) {
	k := classify(err)
	k.retryAfter = retryAfterFor(k, err)
	p := problem{Type: "about:blank", Title: k.title, Status: k.status, Code: k.code}
	if invalid, ok := errors.AsType[*liveness.InvalidError](err); ok {
		p.Detail = invalid.Error()
	}
	return k, p
}

// maxRetryAfter bounds the Retry-After passed on from an upstream's hint. Face and Table
// Storage ask for seconds to a minute; a longer hint is more likely a broken header than a plan,
// and must not park clients for hours.
const maxRetryAfter = 2 * time.Minute

// retryAfterFor is the Retry-After of an answer that invites a retry: the table's seconds, or
// longer when the upstream that failed asked for longer (its Retry-After, retry-after-ms or
// x-ms-retry-after-ms), rounded up to whole seconds and bounded by maxRetryAfter. Rows that
// send no Retry-After stay without one.
func retryAfterFor(k problemKind, err error) int {
	if k.retryAfter == 0 {
		return 0
	}
	hint := min(upstream.RetryAfter(err), maxRetryAfter)
	return max(k.retryAfter, int((hint+time.Second-1)/time.Second))
}

// errorWriter writes the answer for an error the table has classified.
type errorWriter func(w http.ResponseWriter, k problemKind, p problem)

// writeProblemJSON answers as application/problem+json (RFC 9457).
func writeProblemJSON(w http.ResponseWriter, k problemKind, p problem) {
	if k.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(k.retryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(k.status)
	_ = json.NewEncoder(w).Encode(p)
}

// handlerFunc is a handler that returns its error instead of answering it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// returning adapts h: an error it returns is answered from the one table as problem+json, and
// put on the request line with its whole chain. h must not have written anything when it
// returns an error.
func (s *Server) returning(h handlerFunc) http.Handler { return s.returningAs(writeProblemJSON, h) }

// returningAs is returning with the route's own way of writing the table's answer (the timer's
// invocation envelope; the callback's HTML page).
func (s *Server) returningAs(write errorWriter, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note := noteOf(r.Context())
		note.route = routeOf(r.Pattern)
		err := h(w, r)
		if err == nil {
			return
		}
		k, p := problemFor(err)
		// The error goes on the request's one line (logRequests), with its whole chain.
		note.err, note.code = err, k.code
		write(w, k, p)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
