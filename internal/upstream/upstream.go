// Package upstream gives the errors of calls to Azure services (Face, Tables) the form in which
// they may be logged and shown: method, path, status, error code and request ids — never the
// response body, which for Face can hold a session's auth token (design §9: upstream bodies are
// never logged). The SDK's *azcore.ResponseError stays underneath for errors.As.
package upstream

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Request-id headers the services answer with, in the order they are reported.
var requestIDHeaders = []string{"x-ms-request-id", "apim-request-id", "x-ms-client-request-id", "client-request-id"}

// ResponseError is an *azcore.ResponseError whose message leaves the body out.
type ResponseError struct {
	err *azcore.ResponseError
}

// Redact returns err as a ResponseError when it is an *azcore.ResponseError, as the SDK returns
// it; any other error unchanged. Call it where the SDK's error is received, before anything wraps
// it into a message.
func Redact(err error) error {
	if re, ok := err.(*azcore.ResponseError); ok {
		return &ResponseError{err: re}
	}
	return err
}

func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("%d", e.err.StatusCode)
	if e.err.ErrorCode != "" {
		msg += " " + e.err.ErrorCode
	}
	if r := e.err.RawResponse; r != nil {
		if req := r.Request; req != nil && req.URL != nil {
			msg = req.Method + " " + req.URL.Path + ": " + msg
		}
		for _, h := range requestIDHeaders {
			if v := r.Header.Get(h); v != "" {
				msg += " (" + h + " " + v + ")"
				break
			}
		}
	}
	return msg
}

// Unwrap gives errors.As and errors.Is the SDK's error, with the whole answer.
func (e *ResponseError) Unwrap() error { return e.err }
