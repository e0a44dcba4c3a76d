package face

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/liveness-quicklink/functions/internal/upstream"
)

// operations are the client's calls, each as a function of the client alone.
var operations = []struct {
	name string
	call func(*Client) error
}{
	{"create", func(c *Client) error {
		_, err := c.Create(context.Background(), KindLiveness, CreateRequest{Mode: "Passive"})
		return err
	}},
	{"create with verify", func(c *Client) error {
		_, err := c.Create(context.Background(), KindLivenessWithVerify, CreateRequest{Mode: "Passive", VerifyImage: jpeg})
		return err
	}},
	{"get", get},
	{"delete", func(c *Client) error { return c.Delete(context.Background(), KindLiveness, testSessionID) }},
}

// A throttling hint longer than the retry policy will wait is not waited for, but it is not lost
// either: the error carries it, so the app can tell its own client when to come back.
func TestThrottlingHintCarriedThrough(t *testing.T) {
	hints := []struct {
		name   string
		header func(now time.Time) map[string]string
		want   time.Duration
	}{
		{"Retry-After seconds", func(time.Time) map[string]string { return map[string]string{"Retry-After": "30"} }, 30 * time.Second},
		{"Retry-After date", func(now time.Time) map[string]string {
			return map[string]string{"Retry-After": now.Add(40 * time.Second).UTC().Format(http.TimeFormat)}
		}, 40 * time.Second},
		{"retry-after-ms", func(time.Time) map[string]string { return map[string]string{"retry-after-ms": "25000"} }, 25 * time.Second},
		{"x-ms-retry-after-ms", func(time.Time) map[string]string { return map[string]string{"x-ms-retry-after-ms": "12500"} }, 12500 * time.Millisecond},
	}
	for _, op := range operations {
		for _, h := range hints {
			for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
				t.Run(op.name+"/"+h.name+"/"+http.StatusText(status), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						rec := newRecorder(faceError(status, "Throttled", h.header(time.Now())), ok(sessionJSON))
						err := op.call(bubbleClient(t, rec, nil))
						if err == nil {
							t.Fatal("call succeeded, want the throttled answer")
						}
						if n := len(rec.requests()); n != 1 {
							t.Errorf("tries = %d, want 1 (the hint exceeds MaxRetryDelay)", n)
						}
						if got := upstream.RetryAfter(err); got != h.want {
							t.Errorf("RetryAfter(%v) = %v, want %v", err, got, h.want)
						}
					})
				})
			}
		}
	}
}

// When every try is throttled with a hint the policy does wait for, the hint of the last answer
// is what the error carries.
func TestThrottlingHintOfTheLastTry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(
			faceError(http.StatusTooManyRequests, "429", map[string]string{"Retry-After": "1"}),
			faceError(http.StatusTooManyRequests, "429", map[string]string{"Retry-After": "2"}),
			faceError(http.StatusTooManyRequests, "429", map[string]string{"Retry-After": "3"}),
			faceError(http.StatusTooManyRequests, "429", map[string]string{"Retry-After": "4"}),
		)
		err := get(bubbleClient(t, rec, nil))
		if n := len(rec.requests()); n != 4 {
			t.Errorf("tries = %d, want 4", n)
		}
		if got := upstream.RetryAfter(err); got != 4*time.Second {
			t.Errorf("RetryAfter = %v, want the last answer's 4s", got)
		}
	})
}

// Whatever Face answers that the client does not expect — a 2xx other than the operation's, an
// error — the error names status, code and request id only: a create's 201 would carry the
// session's auth token, an error body whatever the service put there.
func TestUnexpectedAnswersKeepTheBodyOut(t *testing.T) {
	const secret = "eyJhbGciOiJFUzI1NiIs.unexpected-answer-secret"
	bodies := []struct {
		name   string
		answer answer
	}{
		{"201 with a session", answer{status: http.StatusCreated, header: map[string]string{"apim-request-id": "req-201"},
			body: `{"sessionId":"` + testSessionID + `","authToken":"` + secret + `"}`}},
		{"202 with a session", answer{status: http.StatusAccepted, header: map[string]string{"apim-request-id": "req-202"},
			body: `{"sessionId":"` + testSessionID + `","authToken":"` + secret + `"}`}},
		{"206 as text", answer{status: http.StatusPartialContent, header: map[string]string{"Content-Type": "text/plain"}, body: "token " + secret}},
		{"500 with the secret in the message", answer{status: http.StatusInternalServerError, header: map[string]string{"apim-request-id": "req-500"},
			body: `{"error":{"code":"InternalServerError","message":"boom\n` + secret + `"}}`}},
		{"400 whose code is not a code", answer{status: http.StatusBadRequest,
			body: `{"error":{"code":"Bad ` + secret + `","message":"x"}}`}},
		{"304 with a body", answer{status: http.StatusNotModified, body: secret}},
	}
	for _, op := range operations {
		for _, b := range bodies {
			t.Run(op.name+"/"+b.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					err := op.call(bubbleClient(t, newRecorder(b.answer), nil))
					if err == nil {
						t.Fatal("call succeeded, want an error")
					}
					msg := err.Error()
					if strings.Contains(msg, secret) {
						t.Errorf("error holds the body's secret: %q", msg)
					}
					if strings.ContainsAny(msg, "\r\n") {
						t.Errorf("error is not one line: %q", msg)
					}
					re := upstream.Of(err)
					if re == nil {
						t.Fatalf("error %q is not an upstream.ResponseError", msg)
					}
					if re.StatusCode() != b.answer.status {
						t.Errorf("status = %d, want %d", re.StatusCode(), b.answer.status)
					}
					if id := b.answer.header["apim-request-id"]; id != "" && !strings.Contains(msg, id) {
						t.Errorf("error %q lacks the request id %s", msg, id)
					}
				})
			})
		}
	}
}
