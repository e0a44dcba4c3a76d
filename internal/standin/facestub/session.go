package facestub

import (
	"container/list"
	"time"
)

// SessionLifetime is how long a session can be read after it is created. GA docs are silent; the
// previews said 48 hours.
const SessionLifetime = 48 * time.Hour

// Session kinds, as SessionByToken reports them: the Face API's two session collections
// (/detectLiveness-sessions and /detectLivenessWithVerify-sessions). Spelled here, not imported
// from the app's domain package, so that the stand-in cannot drift along with the code it checks.
const (
	KindLiveness           = "liveness"
	KindLivenessWithVerify = "livenessWithVerify"
)

// Operation states (Azure.Core.Foundations.OperationState).
const (
	StatusNotStarted = "NotStarted"
	StatusRunning    = "Running"
	StatusSucceeded  = "Succeeded"
	StatusFailed     = "Failed"
)

type session struct {
	id           string
	kind         string
	token        string
	created      time.Time
	tokenExpires time.Time
	status       string
	sessionImage bool
	verify       *createParams // the create request of a verify session; nil for liveness sessions
	attempts     []attemptJSON // oldest first
	images       []string      // the ids of its session images (Server.images)
	age          *list.Element // its place in Server.byAge
}

func (s *session) expired(now time.Time) bool { return !now.Before(s.created.Add(SessionLifetime)) }

// The JSON shapes of LivenessSession and LivenessWithVerifySession.
type (
	sessionJSON struct {
		SessionID    string      `json:"sessionId"`
		AuthToken    string      `json:"authToken"`
		Status       string      `json:"status"`
		ModelVersion string      `json:"modelVersion"`
		Results      resultsJSON `json:"results"`
	}
	resultsJSON struct {
		Attempts         []attemptJSON   `json:"attempts"`
		VerifyReferences []referenceJSON `json:"verifyReferences,omitempty"` // always one for verify sessions
	}
	referenceJSON struct {
		ReferenceType         string        `json:"referenceType"`
		FaceRectangle         rectangleJSON `json:"faceRectangle"`
		QualityForRecognition string        `json:"qualityForRecognition"`
	}
	attemptJSON struct {
		AttemptID     int                `json:"attemptId"`
		AttemptStatus string             `json:"attemptStatus"`
		Result        *resultJSON        `json:"result,omitempty"`
		Error         *livenessErrorJSON `json:"error,omitempty"`
	}
	resultJSON struct {
		LivenessDecision string            `json:"livenessDecision,omitempty"`
		Targets          targetsJSON       `json:"targets"`
		Digest           string            `json:"digest"`
		SessionImageID   string            `json:"sessionImageId,omitempty"`
		VerifyResult     *verifyResultJSON `json:"verifyResult,omitempty"`
		VerifyImageHash  string            `json:"verifyImageHash,omitempty"`
	}
	verifyResultJSON struct {
		MatchConfidence float64 `json:"matchConfidence"`
		IsIdentical     bool    `json:"isIdentical"`
	}
	livenessErrorJSON struct {
		Code    string      `json:"code"`
		Message string      `json:"message"`
		Targets targetsJSON `json:"targets"`
	}
	targetsJSON struct {
		Color struct {
			FaceRectangle rectangleJSON `json:"faceRectangle"`
		} `json:"color"`
	}
	rectangleJSON struct {
		Top    int `json:"top"`
		Left   int `json:"left"`
		Width  int `json:"width"`
		Height int `json:"height"`
	}
)

// captureTargets is the face every simulated capture finds, as in Microsoft's examples.
func captureTargets() targetsJSON {
	var t targetsJSON
	t.Color.FaceRectangle = rectangleJSON{Top: 669, Left: 203, Width: 646, Height: 724}
	return t
}

func (s *session) render() sessionJSON {
	// Newest first, as Microsoft's examples list them: clients must pick the highest attemptId rather
	// than rely on an order the spec does not promise.
	attempts := make([]attemptJSON, len(s.attempts))
	for i, a := range s.attempts {
		attempts[len(attempts)-1-i] = a
	}
	out := sessionJSON{
		SessionID:    s.id,
		AuthToken:    s.token,
		Status:       s.status,
		ModelVersion: modelVersion,
		Results:      resultsJSON{Attempts: attempts},
	}
	if s.verify != nil {
		out.Results.VerifyReferences = []referenceJSON{{
			ReferenceType:         "Color",
			FaceRectangle:         rectangleJSON{Top: 316, Left: 131, Width: 498, Height: 677},
			QualityForRecognition: "high",
		}}
	}
	return out
}
