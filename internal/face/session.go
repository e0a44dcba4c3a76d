package face

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Session is a Face liveness session (LivenessSession or LivenessWithVerifySession).
//
// Known enum values (Status, Attempt.Status, Result.Decision) are normalized to the spec's
// spelling, so "realFace" from the service reads as "realface"; unknown values pass through as sent.
type Session struct {
	ID           string
	AuthToken    string // bearer secret: never log it; LogValue and String leave it out
	Status       string // NotStarted | Running | Succeeded | Failed | Canceled
	ModelVersion string
	Attempts     []Attempt // in the service's order, which is unspecified; see LatestAttempt
}

// Attempt is one try of the end user within a session; Result or Error is set.
type Attempt struct {
	ID     int           `json:"attemptId"`
	Status string        `json:"attemptStatus"`
	Result *Result       `json:"result"`
	Error  *AttemptError `json:"error"`
}

// Result is the outcome of a finished attempt.
type Result struct {
	Decision       string        `json:"livenessDecision"` // uncertain | realface | spoofface
	Digest         string        `json:"digest"`
	SessionImageID string        `json:"sessionImageId"`
	Verify         *VerifyResult `json:"verifyResult"` // livenessWithVerify only
}

// VerifyResult compares the live face with the verify image.
type VerifyResult struct {
	MatchConfidence float64 `json:"matchConfidence"`
	IsIdentical     bool    `json:"isIdentical"`
}

// AttemptError is why an attempt failed, e.g. FaceWithMaskDetected.
type AttemptError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// LatestAttempt returns the attempt with the highest ID, whatever the order the service sent them
// in, or nil if there is none.
func (s *Session) LatestAttempt() *Attempt {
	var latest *Attempt
	for i := range s.Attempts {
		if latest == nil || s.Attempts[i].ID > latest.ID {
			latest = &s.Attempts[i]
		}
	}
	return latest
}

// Finished reports whether the session status is final: Succeeded, Failed or Canceled.
func (s *Session) Finished() bool {
	for _, st := range []string{"Succeeded", "Failed", "Canceled"} {
		if strings.EqualFold(s.Status, st) {
			return true
		}
	}
	return false
}

// LogValue keeps the auth token out of structured logs.
func (s *Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID),
		slog.String("status", s.Status),
		slog.String("modelVersion", s.ModelVersion),
		slog.Int("attempts", len(s.Attempts)),
	)
}

// String keeps the auth token out of fmt output.
func (s *Session) String() string {
	return fmt.Sprintf("face.Session{ID: %s, Status: %s, ModelVersion: %s, Attempts: %d}",
		s.ID, s.Status, s.ModelVersion, len(s.Attempts))
}

// wireSession is the session envelope as the service sends it.
type wireSession struct {
	SessionID    string `json:"sessionId"`
	AuthToken    string `json:"authToken"`
	Status       string `json:"status"`
	ModelVersion string `json:"modelVersion"`
	Results      struct {
		Attempts []Attempt `json:"attempts"`
	} `json:"results"`
}

var (
	operationStates = []string{"NotStarted", "Running", "Succeeded", "Failed", "Canceled"}
	decisions       = []string{"uncertain", "realface", "spoofface"}
)

// decodeSession parses a LivenessSession or LivenessWithVerifySession body. Its errors never quote
// the body, which holds the auth token.
func decodeSession(body []byte) (*Session, error) {
	var w wireSession
	if err := json.Unmarshal(body, &w); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("decoding session: malformed JSON at offset %d", syn.Offset)
		}
		return nil, fmt.Errorf("decoding session: %w", err)
	}
	if w.SessionID == "" {
		return nil, errors.New("decoding session: no sessionId")
	}
	s := &Session{
		ID:           w.SessionID,
		AuthToken:    w.AuthToken,
		Status:       canonical(w.Status, operationStates),
		ModelVersion: w.ModelVersion,
		Attempts:     w.Results.Attempts,
	}
	for i := range s.Attempts {
		a := &s.Attempts[i]
		a.Status = canonical(a.Status, operationStates)
		if a.Result != nil {
			a.Result.Decision = canonical(a.Result.Decision, decisions)
		}
	}
	return s, nil
}

// canonical returns the spec's spelling of v when it is a known value, else v unchanged.
func canonical(v string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(v, k) {
			return k
		}
	}
	return v
}
