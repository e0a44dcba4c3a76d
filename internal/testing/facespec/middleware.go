package facespec

import (
	"net/http"
	"testing"

	"github.com/liveness-quicklink/functions/internal/testing/tap"
)

// Middleware validates every request next receives and every response it writes against the spec, and
// reports each violation with tb.Errorf, so that a test using it fails when either side breaks the
// contract. Requests outside the Face API are violations too: mount it on the Face routes only. Apart from
// buffering the request body, it passes traffic through unchanged.
func (s *Spec) Middleware(tb testing.TB, next http.Handler) http.Handler {
	return tap.Handler(next, func(x tap.Exchange) {
		r := x.Request
		if err := s.ValidateRequest(r, x.RequestBody); err != nil {
			tb.Errorf("facespec: %s %s: request violates the Face spec: %v", r.Method, r.URL.Path, err)
		}
		if x.ClientGone {
			return
		}
		if err := s.ValidateResponse(r, x.RequestBody, x.Status, x.Header, x.Body); err != nil {
			tb.Errorf("facespec: %s %s: response violates the Face spec: %v", r.Method, r.URL.Path, err)
		}
	})
}
