package quicklink

import (
	"context"
	"net/http"
	"testing"

	"github.com/liveness-quicklink/functions/internal/testing/redirecttrap"
)

// TestCreateFollowsNoRedirect: a redirect, even to the same host over plain http, is an error
// answer, and the session token goes nowhere else.
func TestCreateFollowsNoRedirect(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			trap := redirecttrap.New(t, status)
			c := newTestClient(t, trap.URL, nil, nil)
			if id, err := c.Create(context.Background(), testToken); err == nil {
				t.Errorf("Create after a %d = %v, want an error", status, id)
			}
			if n := trap.Reached(); n != 0 {
				t.Errorf("the redirect target got %d requests (with the session token), want 0", n)
			}
		})
	}
}
