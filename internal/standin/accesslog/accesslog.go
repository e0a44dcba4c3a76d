// Package accesslog writes the stand-ins' one log line per request. It logs the route template
// (r.Pattern), never the path or query: stand-in paths and queries hold session tokens, quick link
// ids and callback signatures.
package accesslog

import (
	"log/slog"
	"net/http"
	"time"
)

// Handler serves next and then logs "request" with method, route, status and duration; a request
// whose handler panics is logged as "request aborted" and the panic goes on.
func Handler(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			// r.Pattern is set by the ServeMux inside next, on this same request.
			attrs := []any{"method", r.Method, "route", r.Pattern, "status", sw.status, "duration", time.Since(start)}
			if v := recover(); v != nil {
				log.Info("request aborted", attrs...)
				panic(v)
			}
			log.Info("request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
