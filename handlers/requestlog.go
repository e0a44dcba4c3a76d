package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// requestNote is what a request's handler tells its request line (logRequests): the route template
// it matched, the session it concerns and the error it answered. One note per request, written by
// the request's own goroutine before logRequests reads it.
type requestNote struct {
	route     string
	sessionID string
	err       error
	code      string
}

type requestNoteKey struct{}

func withRequestNote(r *http.Request) (*http.Request, *requestNote) {
	n := &requestNote{}
	return r.WithContext(context.WithValue(r.Context(), requestNoteKey{}, n)), n
}

// noteOf is the request's note; outside logRequests (a handler called directly) a throwaway.
func noteOf(ctx context.Context) *requestNote {
	if n, ok := ctx.Value(requestNoteKey{}).(*requestNote); ok {
		return n
	}
	return &requestNote{}
}

// noteSession puts the session a request concerns on its request line.
func noteSession(ctx context.Context, id string) { noteOf(ctx).sessionID = id }

// routeOf is the path of a ServeMux pattern ("GET /api/sessions/{sessionId}" gives
// "/api/sessions/{sessionId}"), or "" for the catch-all "/" that answers not_found: a request
// that matched no function has no route.
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		pattern = pattern[i:]
	}
	if pattern == "/" {
		return ""
	}
	return pattern
}

// invocationID is the host's X-Azure-Functions-InvocationId. The host appends its own value to
// one a caller sent ("<caller>, <host>"), so only the last value is the host's; it is a GUID, and
// anything else is not logged.
func invocationID(h http.Header) string {
	vs := h.Values("X-Azure-Functions-InvocationId")
	if len(vs) == 0 {
		return ""
	}
	last := vs[len(vs)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	id, err := uuid.Parse(strings.TrimSpace(last))
	if err != nil {
		return ""
	}
	return id.String()
}

// oneLine is an error message on one line: a multi-line message (an SDK's banner) would reach the
// host's log as one string full of line breaks. Blank lines and rules of dashes are dropped.
func oneLine(msg string) string {
	if !strings.ContainsAny(msg, "\r\n") {
		return msg
	}
	var parts []string
	for line := range strings.Lines(msg) {
		line = strings.TrimSpace(line)
		if strings.Trim(line, "-=") == "" {
			continue
		}
		parts = append(parts, line)
	}
	return strings.Join(parts, "; ")
}

// levelFor is the level of a request line: ERROR (stderr, an Error in the host's log) only for
// what the app could not do; a client's mistake and the 501 of an unbuilt feature are expected.
func levelFor(status int) slog.Level {
	switch {
	case status >= 500 && status != http.StatusNotImplemented:
		return slog.LevelError
	case status >= 400:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
