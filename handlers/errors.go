package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// problemKind is one row of the error table: what the client sees for a kind of error.
type problemKind struct {
	status int
	code   string
	title  string
}

// Errors raised by the HTTP layer itself.
var (
	errRouteNotFound        = errors.New("route not found")
	errPayloadTooLarge      = errors.New("payload too large")
	errUnsupportedMediaType = errors.New("unsupported media type")
	errNotImplemented       = errors.New("not implemented")
)

// problemTable maps every error kind to its HTTP answer, in one place. The first row whose error
// matches (errors.Is) wins; anything else is a 500.
var problemTable = []struct {
	err  error
	kind problemKind
}{
	{liveness.ErrInvalidRequest, problemKind{http.StatusBadRequest, "invalid_request", "The request is not valid."}},
	{errPayloadTooLarge, problemKind{http.StatusRequestEntityTooLarge, "payload_too_large", "The request body is too large."}},
	{errUnsupportedMediaType, problemKind{http.StatusUnsupportedMediaType, "unsupported_media_type", "The request body must be application/json."}},
	{errRouteNotFound, problemKind{http.StatusNotFound, "not_found", "No such resource."}},
	{liveness.ErrNotFound, problemKind{http.StatusNotFound, "session_not_found", "The session does not exist."}},
	{liveness.ErrLinkAlreadyIssued, problemKind{http.StatusConflict, "link_already_issued", "The session already has a link."}},
	{liveness.ErrSessionFinalized, problemKind{http.StatusConflict, "session_finalized", "The session is already finished."}},
	{liveness.ErrIdempotencyKeyReused, problemKind{http.StatusConflict, "idempotency_key_reused", "The Idempotency-Key was used with a different request."}},
	{liveness.ErrIdempotencyInFlight, problemKind{http.StatusConflict, "request_in_progress", "A request with this Idempotency-Key is still in progress."}},
	{liveness.ErrConflict, problemKind{http.StatusConflict, "concurrent_update", "The session changed during the request; retry."}},
	{liveness.ErrInvalidSignature, problemKind{http.StatusUnauthorized, "invalid_signature", "The link signature is missing, invalid or expired."}},
	{liveness.ErrUpstreamUnavailable, problemKind{http.StatusServiceUnavailable, "upstream_unavailable", "A service this app depends on is unavailable; retry later."}},
	{context.DeadlineExceeded, problemKind{http.StatusServiceUnavailable, "upstream_unavailable", "A service this app depends on is unavailable; retry later."}},
	{errNotImplemented, problemKind{http.StatusNotImplemented, "not_implemented", "This feature is not available yet."}},
}

var internalProblem = problemKind{http.StatusInternalServerError, "internal_error", "An unexpected error occurred."}

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

// problem answers err. The client gets the table's words, plus the field-level reason for bad
// input (which names only what the client sent); the log keeps the whole error chain.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, err error) {
	k := classify(err)
	p := problem{Type: "about:blank", Title: k.title, Status: k.status, Code: k.code}
	var invalid *liveness.InvalidError
	if errors.As(err, &invalid) {
		p.Detail = invalid.Error()
	}
	s.log.LogAttrs(r.Context(), levelFor(k.status), "request failed",
		slog.String("path", r.URL.Path), slog.String("code", k.code), slog.String("error", err.Error()))
	if k.status == http.StatusServiceUnavailable || k.code == "request_in_progress" {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(k.status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}
