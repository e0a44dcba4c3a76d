package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/google/go-cmp/cmp"
)

func TestRedactKeepsTheFactsAndDropsTheBody(t *testing.T) {
	const secret = "eyJ0b2tlbi1pbi1hLWJvZHk"
	u, _ := url.Parse("https://face.example/face/v1.2/detectLiveness-sessions/abc?api-version=v1.2")
	resp := &http.Response{
		StatusCode: http.StatusInternalServerError,
		Header:     http.Header{"Content-Type": {"application/json"}, "Apim-Request-Id": {"req-42"}},
		Body:       io.NopCloser(strings.NewReader(`{"error":{"code":"InternalServerError","message":"boom","authToken":"` + secret + `"}}`)),
		Request:    &http.Request{Method: "GET", URL: u},
	}
	raw := runtime.NewResponseError(resp)
	if !strings.Contains(raw.Error(), secret) {
		t.Fatalf("the SDK's message does not hold the body (%q): the test proves nothing", raw.Error())
	}
	err := fmt.Errorf("read the Face session: %w", Redact(raw))

	msg := err.Error()
	if strings.Contains(msg, secret) || strings.Contains(msg, "boom") {
		t.Errorf("message %q holds the response body", msg)
	}
	for _, want := range []string{"GET /face/v1.2/detectLiveness-sessions/abc", "500 InternalServerError", "apim-request-id req-42"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "api-version") {
		t.Errorf("message %q holds the query", msg)
	}
	re, ok := errors.AsType[*azcore.ResponseError](err)
	if !ok || re.StatusCode != http.StatusInternalServerError || re.ErrorCode != "InternalServerError" {
		t.Errorf("errors.As finds %+v, %v; want the SDK's error underneath", re, ok)
	}
}

func TestRedactLeavesOtherErrorsAlone(t *testing.T) {
	other := errors.New("dial tcp: connection refused")
	if got := Redact(other); got != other {
		t.Errorf("Redact(%v) = %v, want it unchanged", other, got)
	}
	if Redact(nil) != nil {
		t.Errorf("Redact(nil) is not nil")
	}
}

// responseError is the SDK's error for an answer with status, headers and body, as the SDK builds it.
func responseError(status int, header http.Header, body string) *azcore.ResponseError {
	u, _ := url.Parse("https://x.table.core.windows.net/sessions(PartitionKey='p',RowKey='r')?sig=c2VjcmV0")
	if header == nil {
		header = http.Header{}
	}
	resp := &http.Response{
		StatusCode: status,
		Header:     header,
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    &http.Request{Method: "GET", URL: u},
	}
	return runtime.NewResponseError(resp).(*azcore.ResponseError)
}

// The SDK's message is a banner of many lines with the body in it; in a JSON log line it becomes
// one string full of \n. Ours is one line, whatever the service put in its code or request id.
func TestErrorIsOneLineWithoutBody(t *testing.T) {
	const secret = "eyJhdXRoVG9rZW4iOiJzZWNyZXQ"
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
	}{
		{"Face 500 with a token in the body", 500, http.Header{"Apim-Request-Id": {"r-1"}},
			`{"error":{"code":"InternalServerError","message":"` + secret + `"}}`},
		{"Face 201 on create", 201, http.Header{"Apim-Request-Id": {"r-2"}},
			`{"sessionId":"3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50","authToken":"` + secret + `"}`},
		{"Tables 503 ServerBusy", 503, http.Header{"X-Ms-Error-Code": {"ServerBusy"}, "X-Ms-Request-Id": {"t-1"}, "Retry-After": {"30"}},
			`{"odata.error":{"code":"ServerBusy","message":{"value":"` + secret + `\nRequestId:t-1"}}}`},
		{"a code with a newline and the token", 400, http.Header{"X-Ms-Error-Code": {"Bad\nCode " + secret}},
			`{"error":{"code":"x"}}`},
		{"a request id with a line break", 500, http.Header{"X-Ms-Request-Id": {"id\r\nInjected: " + secret}}, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := responseError(tt.status, tt.header, tt.body)
			if tt.body != "" && !strings.Contains(raw.Error(), "\n") {
				t.Fatalf("the SDK's message is one line (%q): the test proves nothing", raw.Error())
			}
			err := fmt.Errorf("store: get session: %w", Redact(raw))
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("message has more than one line: %q", msg)
			}
			if strings.Contains(msg, "sig=") || strings.Contains(msg, "c2VjcmV0") {
				t.Errorf("message %q holds the query", msg)
			}
			if strings.Contains(msg, tt.body[min(len(tt.body), 1):]) && tt.body != "" {
				t.Errorf("message %q holds the body", msg)
			}
			if len(tt.body) > 0 && strings.Contains(msg, "message") {
				t.Errorf("message %q quotes the body", msg)
			}
			if !strings.Contains(msg, fmt.Sprint(tt.status)) {
				t.Errorf("message %q lacks the status %d", msg, tt.status)
			}
			if got := len(msg); got > 300 {
				t.Errorf("message is %d bytes long", got)
			}
			var logged strings.Builder
			slog.New(slog.NewJSONHandler(&logged, nil)).Error("request failed", slog.Any("upstream", Of(err)))
			for _, s := range []string{msg, logged.String()} {
				if strings.Contains(s, secret) {
					t.Errorf("%q holds the secret", s)
				}
			}
		})
	}
}

func TestLogValueGivesTheFacts(t *testing.T) {
	raw := responseError(503, http.Header{"X-Ms-Error-Code": {"ServerBusy"}, "X-Ms-Request-Id": {"t-1"}, "Retry-After": {"30"}}, `{}`)
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", Attr(fmt.Errorf("wrapped: %w", Redact(raw))))
	var line struct {
		Upstream map[string]any `json:"upstream"`
	}
	if err := json.Unmarshal([]byte(buf.String()), &line); err != nil {
		t.Fatalf("log line %s: %v", buf.String(), err)
	}
	want := map[string]any{
		"status": 503.0, "code": "ServerBusy", "requestId": "t-1", "method": "GET",
		"path": "/sessions(PartitionKey='p',RowKey='r')", "retryAfterMs": 30000.0,
	}
	if diff := cmp.Diff(want, line.Upstream); diff != "" {
		t.Errorf("logged fields (-want +got):\n%s", diff)
	}
}

func TestRetryAfterOf(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"none", nil, 0},
		{"seconds", http.Header{"Retry-After": {"30"}}, 30 * time.Second},
		{"seconds with spaces", http.Header{"Retry-After": {" 7 "}}, 7 * time.Second},
		{"zero", http.Header{"Retry-After": {"0"}}, 0},
		{"negative", http.Header{"Retry-After": {"-5"}}, 0},
		{"fraction", http.Header{"Retry-After": {"1.5"}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"huge", http.Header{"Retry-After": {"999999999999"}}, maxHint},
		{"date from local clock", http.Header{"Retry-After": {now.Add(45 * time.Second).Format(http.TimeFormat)}}, 45 * time.Second},
		{"date from the server's Date", http.Header{
			"Retry-After": {now.Add(time.Hour + 20*time.Second).Format(http.TimeFormat)},
			"Date":        {now.Add(time.Hour).Format(http.TimeFormat)},
		}, 20 * time.Second},
		{"date in 5000 years", http.Header{"Retry-After": {"Wed, 01 Oct 7000 00:00:00 GMT"}}, maxHint},
		{"date past", http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{"retry-after-ms first", http.Header{"Retry-After-Ms": {"1500"}, "X-Ms-Retry-After-Ms": {"9000"}, "Retry-After": {"30"}}, 1500 * time.Millisecond},
		{"x-ms-retry-after-ms", http.Header{"X-Ms-Retry-After-Ms": {"2500"}, "Retry-After": {"30"}}, 2500 * time.Millisecond},
		{"unusable ms falls back", http.Header{"Retry-After-Ms": {"x"}, "Retry-After": {"4"}}, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			if got := RetryAfterOf(&http.Response{Header: h}, now); got != tt.want {
				t.Errorf("RetryAfterOf(%v) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

func TestRetryAfterFindsTheHintInTheChain(t *testing.T) {
	throttled := Redact(responseError(429, http.Header{"Retry-After": {"30"}}, ``))
	busy := Redact(responseError(503, http.Header{"Retry-After": {"5"}}, ``))
	tests := []struct {
		name string
		err  error
		want time.Duration
	}{
		{"nil", nil, 0},
		{"plain", errors.New("x"), 0},
		{"no hint", Redact(responseError(500, nil, ``)), 0},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", throttled)), 30 * time.Second},
		{"the longest of a join", errors.Join(busy, fmt.Errorf("c: %w", throttled)), 30 * time.Second},
		{"the SDK's error alone is not ours", responseError(429, http.Header{"Retry-After": {"30"}}, ``), 0},
	}
	for _, tt := range tests {
		if got := RetryAfter(tt.err); got != tt.want {
			t.Errorf("%s: RetryAfter = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAttrWithoutUpstreamIsLeftOut(t *testing.T) {
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", Attr(errors.New("plain")), Attr(nil))
	if strings.Contains(buf.String(), "upstream") {
		t.Errorf("log line %s has an upstream field for an error without an upstream answer", buf.String())
	}
}

// FuzzRedact: whatever a failed Face or quick link call answers (status, body, error-code,
// request-id and Retry-After headers), the redacted error is one printable ASCII line that
// never holds the body's text (a secret planted in it never shows, in the message or the log
// fields), its code and request id are tokens or nothing, and its Retry-After is within a day.
func FuzzRedact(f *testing.F) {
	const secret = "planted secret!" // a space and a "!": never a token
	for _, seed := range []struct {
		status                         int
		body, code, requestID, retryAt string
	}{
		{500, `{"error":{"code":"InternalServerError","message":"$SECRET"}}`, "", "req-1", ""},
		{404, `{"error":{"code":"SessionNotFound","message":"gone"}}`, "SessionNotFound", "", ""},
		{429, `{"error":{"code":"$SECRET"}}`, "", "", "1"},
		{429, `{"code":"Throttled","message":"$SECRET"}`, "Throt\r\ntled", "id\nwith break", "Wed, 21 Oct 2015 07:28:00 GMT"},
		{503, `not json $SECRET`, "", strings.Repeat("r", 65), "99999999999999"},
		{400, `{"error":{"code":"` + strings.Repeat("C", 64) + `","innererror":{"code":"$SECRET"}}}`, "", "", "-1"},
		{401, "", "", "", ""},
		{0, "\xff\xfe", "\xff", "\x00", "1e3"},
	} {
		f.Add(seed.status, []byte(seed.body), seed.code, seed.requestID, seed.retryAt)
	}
	tokenRE := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	f.Fuzz(func(t *testing.T, status int, body []byte, code, requestID, retryAfter string) {
		u, _ := url.Parse("https://face.example/face/v1.2/detectLiveness-sessions/abc?api-version=v1.2")
		h := http.Header{"Content-Type": {"application/json"}}
		for k, v := range map[string]string{"x-ms-error-code": code, "apim-request-id": requestID, "Retry-After": retryAfter} {
			if v != "" {
				h.Set(k, v)
			}
		}
		resp := &http.Response{StatusCode: status, Header: h, Request: &http.Request{Method: "GET", URL: u},
			Body: io.NopCloser(strings.NewReader(strings.ReplaceAll(string(body), "$SECRET", secret)))}
		err := Redact(runtime.NewResponseError(resp))
		re := Of(err)
		if re == nil {
			t.Fatalf("Redact gave %T, not a *ResponseError", err)
		}
		msg := err.Error()
		for i := 0; i < len(msg); i++ {
			if c := msg[i]; c < ' ' || c >= 0x7f {
				t.Fatalf("message %q holds byte %#x", msg, c)
			}
		}
		var fields strings.Builder
		slog.New(slog.NewJSONHandler(&fields, nil)).Error("x", Attr(err))
		if strings.Contains(msg, secret) || strings.Contains(fields.String(), secret) {
			t.Fatalf("the body's text reached the message %q or the log %s", msg, fields.String())
		}
		if c := re.ErrorCode(); c != "" && !tokenRE.MatchString(c) {
			t.Fatalf("error code %q is not a token", c)
		}
		if _, v := re.RequestID(); v != "" && !tokenRE.MatchString(v) {
			t.Fatalf("request id %q is not a token", v)
		}
		if d := re.RetryAfter(); d < 0 || d > maxHint {
			t.Fatalf("Retry-After %q read as %v, want 0 to %v", retryAfter, d, maxHint)
		}
		if re.StatusCode() != status {
			t.Fatalf("status %d read as %d", status, re.StatusCode())
		}
	})
}
