package face

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// Kind selects the Face session operations. Its values equal liveness.Kind's, so face.Kind(k) converts.
type Kind string

const (
	KindLiveness           Kind = "liveness"           // /detectLiveness-sessions
	KindLivenessWithVerify Kind = "livenessWithVerify" // /detectLivenessWithVerify-sessions
)

func (k Kind) collection() (string, error) {
	switch k {
	case KindLiveness:
		return "detectLiveness-sessions", nil
	case KindLivenessWithVerify:
		return "detectLivenessWithVerify-sessions", nil
	}
	return "", liveness.Invalid("kind", fmt.Sprintf("unknown session kind %q", string(k)))
}

// CreateRequest holds the parameters of a new session. Zero values are left out of the request, so
// the service applies its defaults (e.g. a 600s token lifetime), except EnableSessionImage, which
// is always sent.
type CreateRequest struct {
	Mode                string // livenessOperationMode: Passive or PassiveActive
	DeviceCorrelationID string
	AuthTokenTTLSeconds int
	EnableSessionImage  bool

	// VerifyImage is the reference face (JPEG, PNG, GIF or BMP). Required for
	// KindLivenessWithVerify, must be nil for KindLiveness.
	VerifyImage []byte
}

// createContent is CreateLivenessSessionContent, limited to the fields this client sets.
type createContent struct {
	LivenessOperationMode        string `json:"livenessOperationMode"`
	DeviceCorrelationID          string `json:"deviceCorrelationId,omitempty"`
	AuthTokenTimeToLiveInSeconds int    `json:"authTokenTimeToLiveInSeconds,omitempty"`
	EnableSessionImage           bool   `json:"enableSessionImage"`
}

// Create creates a session. The returned Session carries the auth token, a bearer secret.
func (c *Client) Create(ctx context.Context, kind Kind, req CreateRequest) (*Session, error) {
	coll, err := kind.collection()
	if err != nil {
		return nil, err
	}
	if err := req.validate(kind); err != nil {
		return nil, err
	}
	content := createContent{
		LivenessOperationMode:        req.Mode,
		DeviceCorrelationID:          req.DeviceCorrelationID,
		AuthTokenTimeToLiveInSeconds: req.AuthTokenTTLSeconds,
		EnableSessionImage:           req.EnableSessionImage,
	}
	build := func(r *policy.Request) error { return runtime.MarshalAsJSON(r, content) }
	if kind == KindLivenessWithVerify {
		build = func(r *policy.Request) error { return setVerifyForm(r, content, req.VerifyImage) }
	}

	resp, err := c.do(ctx, http.MethodPost, runtime.JoinPaths(c.base, coll), build, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("face: create %s session: %w", kind, err)
	}
	s, err := sessionFrom(resp)
	if err != nil {
		return nil, fmt.Errorf("face: create %s session: %w", kind, err)
	}
	if s.AuthToken == "" {
		return nil, fmt.Errorf("face: create %s session: response has no authToken", kind)
	}
	return s, nil
}

func (r CreateRequest) validate(kind Kind) error {
	if r.Mode == "" {
		return liveness.Invalid("mode", "required")
	}
	if r.AuthTokenTTLSeconds < 0 {
		return liveness.Invalid("authTokenTTLSeconds", "must not be negative")
	}
	switch {
	case kind == KindLivenessWithVerify && len(r.VerifyImage) == 0:
		return liveness.Invalid("verifyImage", "required for a livenessWithVerify session")
	case kind == KindLiveness && r.VerifyImage != nil:
		return liveness.Invalid("verifyImage", "not allowed for a liveness session")
	}
	return nil
}

// imageContentType sniffs the image format; the service decides whether it accepts it.
func imageContentType(b []byte) string {
	switch ct := http.DetectContentType(b); ct {
	case "image/jpeg", "image/png", "image/gif", "image/bmp", "image/webp":
		return ct
	}
	return "application/octet-stream"
}

// Get reads a session and its attempts.
func (c *Client) Get(ctx context.Context, kind Kind, sessionID string) (*Session, error) {
	u, err := c.sessionURL(kind, sessionID)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, http.MethodGet, u, nil, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("face: get %s session: %w", kind, err)
	}
	s, err := sessionFrom(resp)
	if err != nil {
		return nil, fmt.Errorf("face: get %s session: %w", kind, err)
	}
	if !strings.EqualFold(s.ID, sessionID) {
		return nil, fmt.Errorf("face: get %s session: response is for another session", kind)
	}
	return s, nil
}

// Delete deletes a session, which revokes its auth token and deletes its session image.
func (c *Client) Delete(ctx context.Context, kind Kind, sessionID string) error {
	u, err := c.sessionURL(kind, sessionID)
	if err != nil {
		return err
	}
	// 204 is the spec's answer; 200 is what one official example shows, and means the same.
	if _, err := c.do(ctx, http.MethodDelete, u, nil, http.StatusNoContent, http.StatusOK); err != nil {
		return fmt.Errorf("face: delete %s session: %w", kind, err)
	}
	return nil
}

func (c *Client) sessionURL(kind Kind, sessionID string) (string, error) {
	coll, err := kind.collection()
	if err != nil {
		return "", err
	}
	// Face session ids are GUIDs; checking keeps anything else from being spliced into the path.
	if !liveness.ValidSessionID(sessionID) {
		return "", liveness.Invalid("sessionId", "not a Face session id")
	}
	return runtime.JoinPaths(c.base, coll, sessionID), nil
}

func sessionFrom(resp *http.Response) (*Session, error) {
	body, err := runtime.Payload(resp)
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	return decodeSession(body)
}
