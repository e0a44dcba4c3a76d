package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// faceError classifies a Face API failure. A 400 means the Face service judged the caller's input
// (an image it cannot decode, say): the client hears the Face error code. Anything else is ours to
// retry later, so the client sees 503 and the log keeps the detail.
func faceError(action string, err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest {
		return fmt.Errorf("%s: %w: %w", action,
			liveness.Invalid("", "the Face service rejected the request ("+re.ErrorCode+")"), err)
	}
	return fmt.Errorf("%s: %w: %w", action, liveness.ErrUpstreamUnavailable, err)
}
