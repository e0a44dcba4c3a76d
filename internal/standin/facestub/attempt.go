package facestub

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

var (
	// ErrSessionNotFound is returned for a session that never existed, was deleted or has expired.
	ErrSessionNotFound = errors.New("facestub: session not found")
	// ErrInvalidAttempt is returned for an Attempt that does not describe a capture outcome.
	ErrInvalidAttempt = errors.New("facestub: invalid attempt")
)

// Attempt is the outcome of one simulated capture by the client.
type Attempt struct {
	// Status is Succeeded (the default) or Failed, which add an attempt, or Running, which only marks the
	// session as in progress.
	Status string `json:"status,omitempty"`
	// Decision is realface (the default), spoofface or uncertain, in any case; Succeeded only.
	Decision string `json:"decision,omitempty"`
	// ErrorCode and ErrorMessage describe a Failed attempt; the default is Face's documented
	// FaceWithMaskDetected.
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	// IsIdentical and MatchConfidence are the face comparison of a verify session. Left out, the faces
	// match with confidence 0.9 (0.1 when IsIdentical is false); with only a confidence, they match when
	// it reaches the session's verifyConfidenceThreshold (0.5 unless set).
	IsIdentical     *bool    `json:"isIdentical,omitempty"`
	MatchConfidence *float64 `json:"matchConfidence,omitempty"`
}

const defaultVerifyThreshold = 0.5

// AddAttempt records a, with the next attemptId, on the session and sets the session status to the
// attempt's. Attempts are accepted whether or not the session's token is still live.
func (s *Server) AddAttempt(sessionID string, a Attempt) error {
	_, err := s.addAttempt(sessionID, a)
	return err
}

// addAttempt returns the new attemptId, 0 for a Running update.
func (s *Server) addAttempt(sessionID string, a Attempt) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessionLocked(sessionID)
	if sess == nil {
		return 0, ErrSessionNotFound
	}
	status := a.Status
	if status == "" {
		status = StatusSucceeded
	}
	switch status {
	case StatusRunning:
		sess.status = StatusRunning
		return 0, nil
	case StatusSucceeded, StatusFailed:
	default:
		return 0, fmt.Errorf("%w: status %q is not Succeeded, Failed or Running", ErrInvalidAttempt, a.Status)
	}
	at := attemptJSON{AttemptID: len(sess.attempts) + 1, AttemptStatus: status}
	if status == StatusFailed {
		at.Error = &livenessErrorJSON{Code: a.ErrorCode, Message: a.ErrorMessage, Targets: captureTargets()}
		if at.Error.Code == "" {
			at.Error.Code, at.Error.Message = "FaceWithMaskDetected", "Mask detected on face image."
		}
	} else {
		res, err := s.resultLocked(sess, a)
		if err != nil {
			return 0, err
		}
		at.Result = res
	}
	sess.attempts = append(sess.attempts, at)
	sess.status = status
	return at.AttemptID, nil
}

func (s *Server) resultLocked(sess *session, a Attempt) (*resultJSON, error) {
	decision := strings.ToLower(a.Decision)
	switch decision {
	case "":
		decision = "realface"
	case "realface", "spoofface", "uncertain":
	default:
		return nil, fmt.Errorf("%w: decision %q is not realface, spoofface or uncertain", ErrInvalidAttempt, a.Decision)
	}
	res := &resultJSON{LivenessDecision: decision, Targets: captureTargets(), Digest: s.hexID()}
	if sess.sessionImage {
		res.SessionImageID = s.imageID()
		s.images[res.SessionImageID] = sess.id
		sess.images = append(sess.images, res.SessionImageID)
	}
	if v := sess.verify; v != nil {
		vr, err := verifyResult(v, a)
		if err != nil {
			return nil, err
		}
		res.VerifyResult = vr
		if v.returnHash {
			res.VerifyImageHash = v.verifyHash
		}
	}
	return res, nil
}

func verifyResult(v *createParams, a Attempt) (*verifyResultJSON, error) {
	threshold := defaultVerifyThreshold
	if v.hasThreshold {
		threshold = v.threshold
	}
	switch {
	case a.MatchConfidence != nil:
		c := *a.MatchConfidence
		if c < 0 || c > 1 || math.IsNaN(c) {
			return nil, fmt.Errorf("%w: matchConfidence %v is not within 0 to 1", ErrInvalidAttempt, c)
		}
		identical := c >= threshold
		if a.IsIdentical != nil {
			identical = *a.IsIdentical
		}
		return &verifyResultJSON{MatchConfidence: c, IsIdentical: identical}, nil
	case a.IsIdentical != nil && !*a.IsIdentical:
		return &verifyResultJSON{MatchConfidence: 0.1, IsIdentical: false}, nil
	default:
		return &verifyResultJSON{MatchConfidence: 0.9, IsIdentical: true}, nil
	}
}
