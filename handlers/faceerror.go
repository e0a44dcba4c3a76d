package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// faceError is a failed Face call the app shaped itself (reading or deleting a session by the id
// it stored): whatever Face answered, a 400 included, it is not the client's doing, so the client
// sees 503 upstream_unavailable and the log keeps the detail.
func faceError(action string, err error) error {
	if errors.Is(err, liveness.ErrInvalidRequest) {
		// The Face client refused, before sending, an id the app itself stored: the app's fault
		// (a damaged row), neither the client's nor Face's — a 500, with the detail in the log.
		return fmt.Errorf("%s: the app's own call was refused: %v", action, err)
	}
	return fmt.Errorf("%s: %w: %w", action, liveness.ErrUpstreamUnavailable, err)
}

// faceCreateError is a failed create, whose input the client shaped (the verify image, the device
// correlation id). A 400 means Face judged that input (an image it cannot use, say): the client
// hears 400 with the Face error code. Anything else is as faceError.
func faceCreateError(err error) error {
	const action = "create the Face session"
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest {
		reason := "the Face service rejected the request"
		// The code reaches the client's problem detail, so only as upstream vets it: a code, never
		// text of the answer.
		if ue := upstream.Of(err); ue != nil && ue.ErrorCode() != "" {
			reason += " (" + ue.ErrorCode() + ")"
		}
		return fmt.Errorf("%s: %w: %w", action, liveness.Invalid("", reason), err)
	}
	return faceError(action, err)
}
