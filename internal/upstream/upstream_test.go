package upstream

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
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
