package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// faceError classifies a Face API failure. A 400 means the Face service judged the caller's input
// (an image it cannot decode, say): the client hears the Face error code. Anything else is ours to
// retry later, so the client sees 503 and the log keeps the detail.
func faceError(action string, err error) error {
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
	return fmt.Errorf("%s: %w: %w", action, liveness.ErrUpstreamUnavailable, err)
}
