package face

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

func TestBadResponses(t *testing.T) {
	tests := []struct {
		name string
		body string
		call func(*Client) error
	}{
		{"create without token", `{"sessionId":"` + testSessionID + `","status":"NotStarted","results":{"attempts":[]}}`,
			func(c *Client) error {
				_, err := c.Create(context.Background(), KindLiveness, CreateRequest{Mode: "Passive"})
				return err
			}},
		{"get of another session", `{"sessionId":"00000000-0000-0000-0000-000000000000","authToken":"` + testAuthToken + `","status":"Running","results":{"attempts":[]}}`,
			func(c *Client) error { _, err := c.Get(context.Background(), KindLiveness, testSessionID); return err }},
		{"not JSON", `<html>` + testAuthToken,
			func(c *Client) error { _, err := c.Get(context.Background(), KindLiveness, testSessionID); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(newRecorder(ok(tt.body)))
			defer srv.Close()
			err := tt.call(keyClient(t, srv.URL, nil, nil))
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			if contains(err.Error(), testAuthToken) {
				t.Errorf("error quotes the auth token: %v", err)
			}
		})
	}
}

func TestErrorResponses(t *testing.T) {
	tests := []struct {
		name         string
		answer       answer
		wantStatus   int
		wantCode     string
		wantNotFound bool
	}{
		{"code from header", faceError(http.StatusBadRequest, "InvalidTokenLifetime", map[string]string{"x-ms-error-code": "InvalidTokenLifetime"}),
			400, "InvalidTokenLifetime", false},
		{"code from body only", faceError(http.StatusBadRequest, "InvalidDeviceCorrelationId", nil),
			400, "InvalidDeviceCorrelationId", false},
		{"session not found", faceError(http.StatusNotFound, "SessionNotFound", map[string]string{"x-ms-error-code": "SessionNotFound"}),
			404, "SessionNotFound", true},
		{"SessionNotFound under 400", faceError(http.StatusBadRequest, "SessionNotFound", map[string]string{"x-ms-error-code": "SessionNotFound"}),
			400, "SessionNotFound", true},
		{"SessionNotFound under 410, body only", faceError(http.StatusGone, "SessionNotFound", nil), 410, "SessionNotFound", true},
		{"SessionNotFound under 403, header only", answer{status: http.StatusForbidden, header: map[string]string{"x-ms-error-code": "SessionNotFound"}},
			403, "SessionNotFound", true},
		// A 404 without Face's code is not Face speaking of the session (a wrong endpoint or
		// path, a proxy): an upstream error, not "gone".
		{"bare 404", answer{status: http.StatusNotFound}, 404, "", false},
		{"404 with another code", faceError(http.StatusNotFound, "ResourceNotFound", nil), 404, "ResourceNotFound", false},
		{"unauthorized", faceError(http.StatusUnauthorized, "401", nil), 401, "401", false},
		{"limited access", faceError(http.StatusForbidden, "UnsupportedFeature", nil), 403, "UnsupportedFeature", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(newRecorder(tt.answer))
			defer srv.Close()
			c := keyClient(t, srv.URL, nil, nil)

			_, err := c.Get(context.Background(), KindLiveness, testSessionID)
			re, ok := errors.AsType[*azcore.ResponseError](err)
			if !ok {
				t.Fatalf("error = %v, want an *azcore.ResponseError", err)
			}
			if re.StatusCode != tt.wantStatus || re.ErrorCode != tt.wantCode {
				t.Errorf("ResponseError = %d %q, want %d %q", re.StatusCode, re.ErrorCode, tt.wantStatus, tt.wantCode)
			}
			if IsNotFound(err) != tt.wantNotFound {
				t.Errorf("IsNotFound = %v, want %v", IsNotFound(err), tt.wantNotFound)
			}
			if contains(err.Error(), testAPIKey) {
				t.Errorf("error quotes the API key: %v", err)
			}
		})
	}
}

func TestIsNotFound(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("SessionNotFound"), false},
		{"404 with the code", &azcore.ResponseError{StatusCode: 404, ErrorCode: "SessionNotFound"}, true},
		{"404 without the code", &azcore.ResponseError{StatusCode: 404}, false},
		{"code on another status", &azcore.ResponseError{StatusCode: 400, ErrorCode: "sessionnotfound"}, true},
		{"other code", &azcore.ResponseError{StatusCode: 400, ErrorCode: "BadArgument"}, false},
		{"wrapped", errors.Join(errors.New("x"), &azcore.ResponseError{StatusCode: 404, ErrorCode: "SessionNotFound"}), true},
	}
	for _, tt := range tests {
		if got := IsNotFound(tt.err); got != tt.want {
			t.Errorf("%s: IsNotFound = %v, want %v", tt.name, got, tt.want)
		}
	}
}
