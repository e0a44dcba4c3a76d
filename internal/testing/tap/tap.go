// Package tap passes HTTP traffic through a handler while keeping a copy of it, for the test
// middleware that checks what went by: a spec validator, a secrets scan, a token recorder. A
// middleware built on it is installed where a test builds its server, so the test shows what is
// checked, and reports through the testing.TB it was given.
package tap

import (
	"bytes"
	"io"
	"net/http"
)

// Exchange is one request and the response the client received.
type Exchange struct {
	Request     *http.Request
	RequestBody []byte
	// Wrote is false when the handler wrote nothing; Status is then what net/http sends (200).
	Wrote bool
	// ClientGone is true when the client went away before any response: there is no response to
	// look at, only the request.
	ClientGone bool
	Status     int
	Header     http.Header // as sent: changes after WriteHeader do not reach the client
	Body       []byte
}

// Handler serves every request with next and then hands the exchange to inspect. The request
// body is buffered, so that both next and inspect read all of it; the response is passed through
// unchanged as it is written.
func Handler(next http.Handler, inspect func(Exchange)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "tap: reading the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		x := Exchange{Request: r, RequestBody: body, Wrote: rec.wrote, Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}
		if !rec.wrote && r.Context().Err() != nil {
			x.ClientGone = true
		} else if !rec.wrote {
			x.Status, x.Header = http.StatusOK, w.Header().Clone()
		}
		inspect(x)
	})
}

// recorder passes a response through while keeping a copy of what the client receives.
type recorder struct {
	http.ResponseWriter
	wrote  bool
	status int
	header http.Header
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
