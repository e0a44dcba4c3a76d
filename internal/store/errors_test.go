package store

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// tableAnswer is the SDK's error for a table service answer.
func tableAnswer(status int, header http.Header, body string) error {
	u, _ := url.Parse("http://127.0.0.1:10002/devstoreaccount1/$batch?sig=c2FzLXNpZw")
	header.Set("x-ms-request-id", "req-7")
	return runtime.NewResponseError(&http.Response{
		StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body)),
		Request: &http.Request{Method: "POST", URL: u},
	})
}

// Whatever the table service answers, the store's error names status, code and request id on one
// line, never the body (a session row holds the Face auth token), and keeps its throttling hint.
func TestTableErrorsKeepTheBodyOut(t *testing.T) {
	const secret = "eyJzZWNyZXQiOiJhdXRoVG9rZW4ifQ"
	tests := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		wantHint  time.Duration
		wantInMsg string
	}{
		{"ServerBusy", 503, http.Header{"X-Ms-Error-Code": {"ServerBusy"}, "Retry-After": {"30"}},
			`{"odata.error":{"code":"ServerBusy","message":{"value":"busy ` + secret + `\nRequestId:req-7"}}}`, 30 * time.Second, "503 ServerBusy"},
		{"500 with a row in the message", 500, http.Header{"X-Ms-Error-Code": {"InternalError"}},
			`{"odata.error":{"code":"InternalError","message":{"value":"` + secret + `"}}}`, 0, "500 InternalError"},
		{"a batch answer it cannot read", 202, http.Header{"Content-Type": {"multipart/mixed; boundary=batch_1"}},
			"--batch_1\r\nContent-Type: multipart/mixed; boundary=changeset_1\r\n\r\n--changeset_1\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 " + secret + "\r\n\r\n--changeset_1--\r\n--batch_1--\r\n", 0, "202"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mapError("finalize", tableAnswer(tt.status, tt.header, tt.body))
			msg := err.Error()
			if !errors.Is(err, liveness.ErrUpstreamUnavailable) {
				t.Errorf("error %q is not ErrUpstreamUnavailable", msg)
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "sig=") {
				t.Errorf("error holds the body or the SAS: %q", msg)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, want := range []string{tt.wantInMsg, "x-ms-request-id req-7"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if got := upstream.RetryAfter(err); got != tt.wantHint {
				t.Errorf("RetryAfter = %v, want %v", got, tt.wantHint)
			}
		})
	}
}
