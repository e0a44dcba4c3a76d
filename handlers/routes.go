package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/liveness-quicklink/functions/internal/upstream"
)

// Routes returned by Handler mirror functions/*/function.json: HTTP functions arrive forwarded at
// their original /api path, non-HTTP functions as POST /<FunctionName> with the host's envelope.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// The host polls GET / until any response arrives, then keeps using it as a liveness probe.
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

	mux.Handle("GET /api/health", s.returning(checkedInput(s.health)))
	mux.Handle("POST /api/sessions", s.returning(checkedInput(s.orStarting(s.startSession))))
	mux.Handle("GET /api/sessions/{sessionId}", s.returning(checkedInput(s.orStarting(s.getSession))))
	mux.Handle("DELETE /api/sessions/{sessionId}", s.returning(checkedInput(s.orStarting(s.cancelSession))))
	mux.Handle("POST /api/sessions/{sessionId}/link", s.returning(checkedInput(s.orStarting(s.issueLink))))
	// GET serves HEAD too (net/http's mux): link scanners send HEAD.
	callback := s.callbackRoute()
	mux.Handle("GET /api/callback/{sessionId}", callback)
	mux.Handle("POST /api/callback/{sessionId}", callback)
	mux.Handle("POST /Reconcile", s.returningAs(writeInvocationError, s.orStarting(s.reconcileInvocation)))

	notFound := s.returning(func(http.ResponseWriter, *http.Request) error { return errRouteNotFound })
	mux.Handle("/", notFound)
	return unframedBodies(s.logRequests(hostRouted(mux, notFound)))
}

// Starting is what the app answers while its dependencies are being built (cmd/handler's start
// gate): every route of Handler, each answering ErrStarting in its own format — Health its
// {"status":"unavailable"}, the timer its invocation envelope, the API problem+json.
func Starting(log *slog.Logger) http.Handler {
	notYet := func(context.Context) error { return ErrStarting }
	s := New(Deps{}, Settings{}, &Options{Logger: log, Ready: notYet})
	s.starting = true
	return s.Handler()
}

// orStarting is h, or, for the Starting server, a handler that only says the app is starting.
func (s *Server) orStarting(h handlerFunc) handlerFunc {
	if s.starting {
		return func(http.ResponseWriter, *http.Request) error { return ErrStarting }
	}
	return h
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// logRequests logs one line per request: method, route template, path, status, duration, the
// host's invocation id, and, from the request's note, the session id and the error. It logs the
// path but never the query: function keys travel in ?code= and callback signatures in ?sig=.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			next.ServeHTTP(w, r) // the host's probe would drown every other line
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		r, note := withRequestNote(r)
		next.ServeHTTP(rec, r)
		attrs := []slog.Attr{slog.String("method", r.Method)}
		if note.route != "" {
			attrs = append(attrs, slog.String("route", note.route))
		}
		attrs = append(attrs,
			// As sent, escapes and all: decoded, it could carry bidi and C1 characters that JSON
			// leaves raw.
			slog.String("path", r.URL.EscapedPath()),
			slog.Int("status", rec.status),
			slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000),
		)
		if id := invocationID(r.Header); id != "" { // none outside the host (make run, a direct call)
			attrs = append(attrs, slog.String("invocationId", id))
		}
		if note.sessionID != "" {
			attrs = append(attrs, slog.String("sessionId", note.sessionID))
		}
		level := levelFor(rec.status)
		if note.err != nil {
			attrs = append(attrs, slog.String("code", note.code), slog.String("error", oneLine(note.err.Error())),
				upstream.Attr(note.err))
			// A request whose context ended while its body was framed (never one the app cut short
			// itself: see unframedBodies) lost its client.
			if r.Context().Err() != nil && r.ContentLength >= 0 {
				// The client hung up before the answer: not the app failing at its part.
				level = slog.LevelWarn
				attrs = append(attrs, slog.Bool("clientGone", true))
			}
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}
