package handlers

import (
	"fmt"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// quickLinkError is a failed quick link call. The token it sent is the app's own, so whatever the
// service answered, a refused token included, is not the client's doing: the client sees 503
// upstream_unavailable, with the service's Retry-After hint when it gave one (upstream.RetryAfter
// finds it in the chain), and the log keeps the detail. quicklink.Client.Create's errors quote
// neither the token nor the answer's body, which may hold the link.
func quickLinkError(err error) error {
	return fmt.Errorf("create the quick link: %w: %w", liveness.ErrUpstreamUnavailable, err)
}
