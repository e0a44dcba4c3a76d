package face

import (
	"context"
	"net/http"
	"testing"

	"github.com/liveness-quicklink/functions/internal/testing/redirecttrap"
)

// TestClientFollowsNoRedirect: net/http would resend the API key header to any host a redirect
// names; the client treats a redirect as an answer instead, for every operation.
func TestClientFollowsNoRedirect(t *testing.T) {
	trap := redirecttrap.New(t, http.StatusTemporaryRedirect)
	c := keyClient(t, trap.URL, nil, nil)
	ctx := context.Background()
	calls := map[string]func() error{
		"Create": func() error {
			_, err := c.Create(ctx, KindLiveness, CreateRequest{Mode: "Passive", DeviceCorrelationID: "d", AuthTokenTTLSeconds: 60})
			return err
		},
		"Get":    func() error { _, err := c.Get(ctx, KindLiveness, testSessionID); return err },
		"Delete": func() error { return c.Delete(ctx, KindLiveness, testSessionID) },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s after a 307: no error", name)
		}
	}
	if n := trap.Reached(); n != 0 {
		t.Errorf("the redirect target got %d requests (with the API key), want 0", n)
	}
}
