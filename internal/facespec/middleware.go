package facespec

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Middleware validates every request next receives and every response it writes against the spec, and
// reports each violation with tb.Errorf, so that a test using it fails when either side breaks the
// contract. Requests outside the Face API are violations too: mount it on the Face routes only. Apart from
// buffering the request body, it passes traffic through unchanged.
func (s *Spec) Middleware(tb testing.TB, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			tb.Errorf("facespec: %s %s: read request body: %v", r.Method, r.URL.Path, err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := s.ValidateRequest(r, body); err != nil {
			tb.Errorf("facespec: %s %s: request violates the Face spec: %v", r.Method, r.URL.Path, err)
		}

		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if r.Context().Err() != nil && !rec.wrote {
			return // the client went away before any response: there is nothing to check
		}
		if !rec.wrote {
			rec.WriteHeader(http.StatusOK) // what net/http sends for a handler that wrote nothing
		}
		if err := s.ValidateResponse(r, body, rec.status, rec.header, rec.body.Bytes()); err != nil {
			tb.Errorf("facespec: %s %s: response violates the Face spec: %v", r.Method, r.URL.Path, err)
		}
	})
}

// recorder passes a response through while keeping a copy of what the client receives.
type recorder struct {
	http.ResponseWriter
	wrote  bool
	status int
	header http.Header // as sent: changes after WriteHeader do not reach the client
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.wrote {
		r.ResponseWriter.WriteHeader(status) // let net/http complain about the superfluous call
		return
	}
	r.wrote, r.status, r.header = true, status, r.Header().Clone()
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(p)
	r.body.Write(p[:n])
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush, deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
