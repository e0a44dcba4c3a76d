package handlers

import (
	"errors"
	"fmt"
	"testing"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// A call the app shaped never answers as the client's mistake, even when the Face client refused
// it before sending (an id from a damaged row).
func TestFaceErrorOfTheAppsOwnCallIsNotTheClients(t *testing.T) {
	refused := fmt.Errorf("face: %w", liveness.Invalid("sessionId", "not a Face session id"))
	k, p := problemFor(faceError("read the Face session", refused))
	if k.status != 500 || errors.Is(faceError("x", refused), liveness.ErrInvalidRequest) {
		t.Errorf("answer = %d %s, want 500 internal_error", k.status, p.Code)
	}
}
