package quicklink

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/liveness-quicklink/functions/internal/upstream"
)

func TestCreateOverTheNetwork(t *testing.T) {
	for _, guid := range []string{testS, strings.ToUpper(testS)} {
		t.Run(guid, func(t *testing.T) {
			up := answering(ok(`{"url":"/?s=` + guid + `"}`))
			srv := httptest.NewServer(up)
			defer srv.Close()
			c := newTestClient(t, srv.URL, nil, nil)

			id, err := c.Create(context.Background(), testToken)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if got := id.Reveal(); got != guid {
				t.Errorf("s = %q, want %q as sent", got, guid)
			}
			reqs := up.requests()
			if len(reqs) != 1 {
				t.Fatalf("requests = %d, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPost || r.path != "/api/quicklink" {
				t.Errorf("request = %s %s, want POST /api/quicklink", r.method, r.path)
			}
			if got := r.header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+testToken {
				t.Errorf("Authorization = %q, want exactly one %q", got, "Bearer "+testToken)
			}
			if len(r.body) != 0 {
				t.Errorf("body = %d bytes, want none", len(r.body))
			}
			if cl := r.header.Get("Content-Length"); cl != "" && cl != "0" {
				t.Errorf("Content-Length = %q, want none or 0", cl)
			}
			if ct := r.header.Get("Content-Type"); ct != "" {
				t.Errorf("Content-Type = %q, want none for an empty body", ct)
			}
		})
	}
}

func TestCreateEndpointWithPathAndSlash(t *testing.T) {
	up := answering(ok(answerOK))
	c := newTestClient(t, "https://ql.test/prefix/", up, nil)
	if _, err := c.Create(context.Background(), testToken); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if got := up.requests()[0].path; got != "/prefix/api/quicklink" {
		t.Errorf("path = %q, want /prefix/api/quicklink", got)
	}
}

// TestCreateRejectsUnexpectedAnswers: each answer is the service (or something in front of it)
// saying something other than a quick link; none is retried, and none is quoted.
func TestCreateRejectsUnexpectedAnswers(t *testing.T) {
	g := testS
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"empty body", 200, ``},
		{"not JSON", 200, `<html>url=/?s=` + g + `</html>`},
		{"JSON null", 200, `null`},
		{"JSON array", 200, `["/?s=` + g + `"]`},
		{"JSON string", 200, `"/?s=` + g + `"`},
		{"no url", 200, `{"link":"/?s=` + g + `"}`},
		{"url not a string", 200, `{"url":7}`},
		{"url null", 200, `{"url":null}`},
		{"trailing data", 200, answerOK + `x`},
		{"absolute https URL", 200, `{"url":"https://liveness.face.azure.com/?s=` + g + `"}`},
		{"absolute http URL", 200, `{"url":"http://evil.test/?s=` + g + `"}`},
		{"scheme-relative URL", 200, `{"url":"//evil.test/?s=` + g + `"}`},
		{"other path", 200, `{"url":"/x?s=` + g + `"}`},
		{"no path", 200, `{"url":"?s=` + g + `"}`},
		{"extra query key", 200, `{"url":"/?s=` + g + `&a=b"}`},
		{"extra callbackUrl key", 200, `{"url":"/?s=` + g + `&callbackUrl=https%3A%2F%2Fevil.test"}`},
		{"key first elsewhere", 200, `{"url":"/?a=b&s=` + g + `"}`},
		{"repeated s", 200, `{"url":"/?s=` + g + `&s=` + g + `"}`},
		{"empty trailing pair", 200, `{"url":"/?s=` + g + `&"}`},
		{"semicolon", 200, `{"url":"/?s=` + g + `;a=b"}`},
		{"fragment", 200, `{"url":"/?s=` + g + `#f"}`},
		{"upper-case key", 200, `{"url":"/?S=` + g + `"}`},
		{"escaped key", 200, `{"url":"/?%73=` + g + `"}`},
		{"escaped value", 200, `{"url":"/?s=%36` + g[1:] + `"}`},
		{"not a GUID", 200, `{"url":"/?s=not-a-guid"}`},
		{"GUID in braces", 200, `{"url":"/?s={` + g + `}"}`},
		{"GUID without hyphens", 200, `{"url":"/?s=` + strings.ReplaceAll(g, "-", "") + `"}`},
		{"urn GUID", 200, `{"url":"/?s=urn:uuid:` + g + `"}`},
		{"GUID too long", 200, `{"url":"/?s=` + g + `0"}`},
		{"empty s", 200, `{"url":"/?s="}`},
		{"201 with a link", 201, answerOK},
		{"204", 204, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := answering(reply{status: tt.status, body: tt.body})
			_, err := newTestClient(t, "https://ql.test", up, nil).Create(context.Background(), testToken)
			if !errors.Is(err, ErrUnexpectedAnswer) {
				t.Fatalf("error = %v, want ErrUnexpectedAnswer", err)
			}
			if n := len(up.requests()); n != 1 {
				t.Errorf("tries = %d, want 1 (an answer is not retried)", n)
			}
			if msg := err.Error(); strings.Contains(msg, testS) || strings.Contains(msg, testToken) || strings.Contains(msg, "evil") {
				t.Errorf("error %q quotes the answer or the token", msg)
			}
		})
	}
}

// TestCreateErrorStatus: a non-2xx answer is an upstream.ResponseError, as the Face client's are;
// the body, here echoing the token, is never in the message.
func TestCreateErrorStatus(t *testing.T) {
	tests := []struct {
		status, wantTries int
	}{
		{http.StatusBadRequest, 1},
		{http.StatusUnauthorized, 1},
		{http.StatusForbidden, 1},
		{http.StatusNotFound, 1},
		{http.StatusConflict, 1},
		{http.StatusRequestTimeout, 4},
		{http.StatusTooManyRequests, 4},
		{http.StatusInternalServerError, 4},
		{http.StatusBadGateway, 4},
		{http.StatusServiceUnavailable, 4},
		{http.StatusGatewayTimeout, 4},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := answering(reply{status: tt.status, header: map[string]string{"x-ms-error-code": "TokenInvalid"},
					body: `{"error":{"code":"TokenInvalid","message":"bad token ` + testToken + `"}}`})
				_, err := newTestClient(t, "https://ql.test", up, nil).Create(context.Background(), testToken)

				re := upstream.Of(err)
				if re == nil || re.StatusCode() != tt.status || re.ErrorCode() != "TokenInvalid" {
					t.Fatalf("error = %v, want an upstream.ResponseError with status %d and code TokenInvalid", err, tt.status)
				}
				if _, ok := errors.AsType[*azcore.ResponseError](err); !ok {
					t.Errorf("error = %v, want an *azcore.ResponseError underneath", err)
				}
				if n := len(up.requests()); n != tt.wantTries {
					t.Errorf("tries = %d, want %d", n, tt.wantTries)
				}
				if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "bad token") {
					t.Errorf("error %q quotes the answer", err)
				}
			})
		})
	}
}

// The tests below run in synctest bubbles: time is fake, so delays and timeouts are exact.

func TestCreateRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		name    string
		header  map[string]string
		wantGap time.Duration
	}{
		{"Retry-After seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{"retry-after-ms", map[string]string{"retry-after-ms": "1500"}, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := answering(reply{status: http.StatusTooManyRequests, header: tt.header}, ok(answerOK))
				id, err := newTestClient(t, "https://ql.test", up, nil).Create(context.Background(), testToken)
				if err != nil || id.Reveal() != testS {
					t.Fatalf("Create after a 429 = %v, want the link's s", err)
				}
				reqs := up.requests()
				if len(reqs) != 2 {
					t.Fatalf("tries = %d, want 2", len(reqs))
				}
				if gap := reqs[1].at.Sub(reqs[0].at); gap != tt.wantGap {
					t.Errorf("waited %v before the retry, want the service's %v", gap, tt.wantGap)
				}
			})
		})
	}
}

// TestCreateRetryAfterBeyondCap: a hint longer than the retry cap is not slept on in an HTTP
// function; the 429 comes back at once and carries the hint for the caller's own Retry-After.
func TestCreateRetryAfterBeyondCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := answering(reply{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "60"}}, ok(answerOK))
		start := time.Now()
		_, err := newTestClient(t, "https://ql.test", up, nil).Create(context.Background(), testToken)

		if re := upstream.Of(err); re == nil || re.StatusCode() != http.StatusTooManyRequests {
			t.Fatalf("error = %v, want the 429", err)
		}
		if got := upstream.RetryAfter(err); got != time.Minute {
			t.Errorf("upstream.RetryAfter = %v, want the service's 1m0s", got)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("waited %v, want no wait", d)
		}
		if n := len(up.requests()); n != 1 {
			t.Errorf("tries = %d, want 1", n)
		}
	})
}

func TestCreateServerErrorsExhaustRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := answering(reply{status: http.StatusInternalServerError})
		start := time.Now()
		_, err := newTestClient(t, "https://ql.test", up, nil).Create(context.Background(), testToken)
		took := time.Since(start)

		if re := upstream.Of(err); re == nil || re.StatusCode() != http.StatusInternalServerError {
			t.Fatalf("error = %v, want the 500", err)
		}
		if n := len(up.requests()); n != 4 {
			t.Errorf("tries = %d, want 4 (3 retries)", n)
		}
		// Backoff (2^n - 1) * 500ms, jittered by 0.8..1.3, capped at 5s: 0.5 + 1.5 + 3.5 s at most 7.15s.
		if took < 4*time.Second || took > upstream.DefaultTotalTimeout {
			t.Errorf("gave up after %v, want the backoff's 4s..7.15s, within the %v total", took, upstream.DefaultTotalTimeout)
		}
	})
}

// flaky fails its first n round trips as a network would, then calls h.
type flaky struct {
	n int
	h http.Handler
}

func (f *flaky) Do(req *http.Request) (*http.Response, error) {
	if f.n > 0 {
		f.n--
		return nil, errors.New("connection reset by peer")
	}
	return direct{f.h}.Do(req)
}

func TestCreateRetriesNetworkErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := answering(ok(answerOK))
		c := newTestClient(t, "https://ql.test", nil, func(o *ClientOptions) { o.Transport = &flaky{n: 2, h: up} })
		if _, err := c.Create(context.Background(), testToken); err != nil {
			t.Fatalf("Create after two network errors: %v", err)
		}
	})
}

// TestCreateTimeouts uses a service that never answers; each row gives the call's end on the fake clock.
func TestCreateTimeouts(t *testing.T) {
	hang := reply{hang: true}
	tests := []struct {
		name      string
		answers   []reply
		tweak     func(*ClientOptions)
		wantErr   error
		wantTries int
		wantEnd   [2]time.Duration
	}{
		{"total timeout default 30s", []reply{hang}, nil, context.DeadlineExceeded, 3,
			[2]time.Duration{30 * time.Second, 30 * time.Second}},
		{"total timeout option", []reply{hang}, func(o *ClientOptions) { o.TotalTimeout = 15 * time.Second },
			context.DeadlineExceeded, 2, [2]time.Duration{15 * time.Second, 15 * time.Second}},
		{"try timeout option, then success", []reply{hang, ok(answerOK)}, func(o *ClientOptions) { o.TryTimeout = 2 * time.Second },
			nil, 2, [2]time.Duration{2*time.Second + 400*time.Millisecond, 2*time.Second + 650*time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := answering(tt.answers...)
				start := time.Now()
				_, err := newTestClient(t, "https://ql.test", up, tt.tweak).Create(context.Background(), testToken)
				end := time.Since(start)

				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error = %v, want %v", err, tt.wantErr)
				}
				if n := len(up.requests()); n != tt.wantTries {
					t.Errorf("tries = %d, want %d", n, tt.wantTries)
				}
				if end < tt.wantEnd[0] || end > tt.wantEnd[1] {
					t.Errorf("call ended after %v, want within [%v, %v]", end, tt.wantEnd[0], tt.wantEnd[1])
				}
			})
		})
	}
}

func TestCreateHangingServerOverTheNetwork(t *testing.T) {
	srv := httptest.NewServer(answering(reply{hang: true}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil, func(o *ClientOptions) { o.TotalTimeout = 300 * time.Millisecond })

	start := time.Now()
	_, err := c.Create(context.Background(), testToken)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second { // generous: CPU is shared
		t.Errorf("call took %v, want about the 300ms total timeout", d)
	}
}

func TestCreateRefusesBadTokensBeforeSending(t *testing.T) {
	for _, tok := range []string{"", "==", "to ken", "tok\r\nX-Injected: 1", "tök", "tok\x00"} {
		t.Run(tok, func(t *testing.T) {
			up := answering(ok(answerOK))
			_, err := newTestClient(t, "https://ql.test", up, nil).Create(context.Background(), tok)
			if err == nil {
				t.Fatal("Create succeeded, want an error")
			}
			if tok != "" && strings.Contains(err.Error(), tok) {
				t.Errorf("error %q quotes the token", err)
			}
			if n := len(up.requests()); n != 0 {
				t.Errorf("requests = %d, want none", n)
			}
		})
	}
}

func TestNewClientEndpoints(t *testing.T) {
	tests := []struct {
		endpoint string
		wantErr  bool
	}{
		{"https://liveness.face.azure.com", false},
		{"https://liveness.face.azure.com/", false},
		{"http://127.0.0.1:9000", false},
		{"http://localhost:9000", false},
		{"http://[::1]:9000", false},
		{"http://liveness.face.azure.com", true}, // the token would cross the network in clear text
		{"http://10.0.0.5:9000", true},
		{"ftp://liveness.face.azure.com", true},
		{"liveness.face.azure.com", true},
		{"/api", true},
		{"", true},
		{"https://liveness.face.azure.com/?a=b", true},
		{"https://liveness.face.azure.com/?", true},
		{"https://liveness.face.azure.com/#f", true},
		{"https://user:pw@liveness.face.azure.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			_, err := NewClient(tt.endpoint, nil)
			if (err != nil) != tt.wantErr {
				t.Errorf("NewClient(%q) error = %v, want error %v", tt.endpoint, err, tt.wantErr)
			}
		})
	}
}

func TestCreateHonoursPlainHTTPToLoopbackOnly(t *testing.T) {
	// InsecureAllowCredentialWithHTTP does not widen the rule: it is a Face client option.
	o := &ClientOptions{}
	o.InsecureAllowCredentialWithHTTP = true
	if _, err := NewClient("http://ql.example.com", o); err == nil {
		t.Error("NewClient accepted an http endpoint on another host")
	}
}
