package handlers

import (
	"strings"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// outcomeOf reads the final state from a Face session: the latest attempt (highest attemptId)
// decides. ok is false while no attempt has finished.
func outcomeOf(fs *face.Session) (status liveness.Status, o *liveness.Outcome, ok bool) {
	a := fs.LatestAttempt()
	if a == nil {
		return "", nil, false
	}
	o = &liveness.Outcome{AttemptCount: len(fs.Attempts), ModelVersion: fs.ModelVersion}
	switch {
	case strings.EqualFold(a.Status, "Succeeded") && a.Result != nil:
		o.Decision = strings.ToLower(a.Result.Decision)
		o.Digest = a.Result.Digest
		o.SessionImageID = a.Result.SessionImageID
		if v := a.Result.Verify; v != nil {
			o.Verify = &liveness.VerifyResult{IsIdentical: v.IsIdentical, MatchConfidence: v.MatchConfidence}
		}
		return liveness.StatusCompleted, o, true
	case strings.EqualFold(a.Status, "Failed"):
		o.Failure = &liveness.Failure{Code: "unknown"}
		if a.Error != nil {
			o.Failure = &liveness.Failure{Code: a.Error.Code, Message: a.Error.Message}
		}
		return liveness.StatusFailed, o, true
	}
	return "", nil, false
}
