package handlers

import (
	"testing"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// Face does not specify the order of attempts (its examples list the newest first, which is what
// the stand-in sends): the latest is the highest attemptId, whatever the order.
func TestOutcomeOfTakesTheHighestAttemptIDInAnyOrder(t *testing.T) {
	failed := face.Attempt{ID: 1, Status: "Failed", Error: &face.AttemptError{Code: "FaceWithMaskDetected"}}
	spoof := face.Attempt{ID: 2, Status: "Succeeded", Result: &face.Result{Decision: "spoofface"}}
	live := face.Attempt{ID: 3, Status: "Succeeded", Result: &face.Result{Decision: "realface"}}
	tests := []struct {
		name     string
		attempts []face.Attempt
		want     liveness.Status
		decision string
	}{
		{"newest first", []face.Attempt{live, spoof, failed}, liveness.StatusCompleted, "realface"},
		{"oldest first", []face.Attempt{failed, spoof, live}, liveness.StatusCompleted, "realface"},
		{"shuffled", []face.Attempt{spoof, live, failed}, liveness.StatusCompleted, "realface"},
		{"a failure last by id, listed first", []face.Attempt{{ID: 4, Status: "Failed"}, spoof, live}, liveness.StatusFailed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, o, ok := outcomeOf(&face.Session{Status: "Succeeded", Attempts: tt.attempts})
			if !ok || status != tt.want || o.Decision != tt.decision || o.AttemptCount != len(tt.attempts) {
				t.Errorf("outcomeOf = %s %+v %v, want %s with decision %q and %d attempts", status, o, ok, tt.want, tt.decision, len(tt.attempts))
			}
		})
	}
}
