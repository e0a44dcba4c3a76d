// Package upstream gives the errors of calls to Azure services (Face, Tables) the form in which
// they may be logged and shown: method, path, status, error code, request id and the service's
// Retry-After hint — never the response body, which for Face can hold a session's auth token
// (design §9: upstream bodies are never logged). The SDK's *azcore.ResponseError stays underneath
// for errors.As.
package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Request-id headers the services answer with, in the order they are reported.
var requestIDHeaders = []string{"x-ms-request-id", "apim-request-id", "x-ms-client-request-id", "client-request-id"}

// ResponseError is an *azcore.ResponseError whose message leaves the body out. Its message is one
// line, and LogValue gives the same facts as separate fields.
type ResponseError struct {
	err        *azcore.ResponseError
	retryAfter time.Duration
}

// Redact returns err as a ResponseError when it is an *azcore.ResponseError, as the SDK returns
// it; any other error unchanged. Call it where the SDK's error is received, before anything wraps
// it into a message. The Retry-After hint is read now, from the response's headers (see
// RetryAfterOf).
func Redact(err error) error {
	if re, ok := err.(*azcore.ResponseError); ok {
		e := &ResponseError{err: re}
		if re.RawResponse != nil {
			e.retryAfter = RetryAfterOf(re.RawResponse, time.Now())
		}
		return e
	}
	return err
}

// StatusCode is the HTTP status of the upstream answer.
func (e *ResponseError) StatusCode() int { return e.err.StatusCode }

// ErrorCode is the service's error code (x-ms-error-code or the body's error.code); "" when the
// service sent none, or something that is not a code (see token).
func (e *ResponseError) ErrorCode() string { return token(e.err.ErrorCode) }

// RequestID is the first request-id header of the answer (x-ms-request-id, apim-request-id,
// x-ms-client-request-id, client-request-id) that holds an id (see token), and its value; "", ""
// when there is none.
func (e *ResponseError) RequestID() (header, value string) {
	if r := e.err.RawResponse; r != nil {
		for _, h := range requestIDHeaders {
			if v := token(r.Header.Get(h)); v != "" {
				return h, v
			}
		}
	}
	return "", ""
}

// RetryAfter is how long the service asked callers to wait before trying again, as it said with its
// last answer; zero when it said nothing.
func (e *ResponseError) RetryAfter() time.Duration { return e.retryAfter }

// request is the method and path (never the query: with SAS it holds a signature) of the call.
func (e *ResponseError) request() (method, path string) {
	if r := e.err.RawResponse; r != nil && r.Request != nil && r.Request.URL != nil {
		return r.Request.Method, r.Request.URL.EscapedPath()
	}
	return "", ""
}

// Error is one line: "METHOD /path: 503 ServerBusy (x-ms-request-id abc) retry after 30s".
func (e *ResponseError) Error() string {
	var b strings.Builder
	if method, path := e.request(); method != "" {
		b.WriteString(method + " " + path + ": ")
	}
	fmt.Fprintf(&b, "%d", e.err.StatusCode)
	if code := e.ErrorCode(); code != "" {
		b.WriteString(" " + code)
	}
	if h, v := e.RequestID(); h != "" {
		b.WriteString(" (" + h + " " + v + ")")
	}
	if e.retryAfter > 0 {
		b.WriteString(" retry after " + e.retryAfter.String())
	}
	return b.String()
}

// LogValue gives the answer as fields — status, code, requestId, method, path, retryAfterMs — so
// that a log line can carry them without parsing the message.
func (e *ResponseError) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Int("status", e.err.StatusCode)}
	if code := e.ErrorCode(); code != "" {
		attrs = append(attrs, slog.String("code", code))
	}
	if _, v := e.RequestID(); v != "" {
		attrs = append(attrs, slog.String("requestId", v))
	}
	if method, path := e.request(); method != "" {
		attrs = append(attrs, slog.String("method", method), slog.String("path", path))
	}
	if e.retryAfter > 0 {
		attrs = append(attrs, slog.Int64("retryAfterMs", e.retryAfter.Milliseconds()))
	}
	return slog.GroupValue(attrs...)
}

// Unwrap gives errors.As and errors.Is the SDK's error, with the whole answer.
func (e *ResponseError) Unwrap() error { return e.err }

// Of returns the first ResponseError in err's chain, or nil: what a log line adds as fields.
func Of(err error) *ResponseError {
	re, _ := errors.AsType[*ResponseError](err)
	return re
}

// Attr is err's upstream answer as one log attribute, "upstream": {status, code, requestId,
// method, path, retryAfterMs} (see LogValue); an empty attribute, which slog leaves out, when err
// holds none. For the line that logs a failed request.
func Attr(err error) slog.Attr {
	if re := Of(err); re != nil {
		return slog.Any("upstream", re)
	}
	return slog.Attr{}
}

// RetryAfter is the longest Retry-After hint of any upstream answer in err's chain (a joined error
// can hold several); zero when there is none.
func RetryAfter(err error) time.Duration {
	var longest time.Duration
	walk(err, func(e error) {
		if re, ok := e.(*ResponseError); ok {
			longest = max(longest, re.retryAfter)
		}
	})
	return longest
}

func walk(err error, visit func(error)) {
	if err == nil {
		return
	}
	visit(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, visit)
		}
	}
}

// RetryAfterOf reads a response's throttling hint the way azcore's retry policy does, in its order
// of preference: retry-after-ms, x-ms-retry-after-ms (milliseconds), then Retry-After (seconds, or
// an HTTP-date). A date is measured from the response's own Date header when it has one (the
// server's clock, so that clock skew does not count), else from now. Zero when there is no usable
// hint; a date already past is no hint; none is longer than a day (maxHint).
func RetryAfterOf(resp *http.Response, now time.Time) time.Duration {
	for _, h := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if v := resp.Header.Get(h); v != "" {
			if d, ok := positive(v, time.Millisecond); ok {
				return d
			}
		}
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if d, ok := positive(v, time.Second); ok {
		return d
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		now = date
	}
	return min(max(at.Sub(now), 0), maxHint)
}

// maxHint bounds a hint read from a header: anything longer is nonsense, and this keeps the
// arithmetic clear of overflow.
const maxHint = 24 * time.Hour

// positive parses a whole, non-negative number of units.
func positive(v string, unit time.Duration) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 12 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if n > int64(maxHint/unit) {
		return maxHint, true
	}
	return time.Duration(n) * unit, n > 0
}

// token returns s when it looks like an identifier or code — at most 64 letters, digits and
// - _ . : — and "" otherwise: these values come from the upstream answer and go into one-line
// messages, so anything else (a line break, a sentence, a pasted body) is left out whole.
func token(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return ""
		}
	}
	return s
}
