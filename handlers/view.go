package handlers

import (
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// sessionView is the JSON of a session as StartSession, GetSession and CancelSession answer it.
// It has no field for the auth token: the token cannot leak through it.
type sessionView struct {
	SessionID         string          `json:"sessionId"`
	Kind              liveness.Kind   `json:"kind"`
	Status            liveness.Status `json:"status"`
	ExternalReference string          `json:"externalReference,omitempty"`
	CreatedAt         string          `json:"createdAt"`
	ExpiresAt         string          `json:"expiresAt"`
	LinkIssuedAt      string          `json:"linkIssuedAt,omitempty"`
	CompletedAt       string          `json:"completedAt,omitempty"`
	Passed            *bool           `json:"passed,omitempty"`
	Outcome           *outcomeView    `json:"outcome,omitempty"`
}

type outcomeView struct {
	Decision       string       `json:"decision,omitempty"`
	AttemptCount   int          `json:"attemptCount"`
	Failure        *failureView `json:"failure,omitempty"`
	Verify         *verifyView  `json:"verify,omitempty"`
	ModelVersion   string       `json:"modelVersion,omitempty"`
	Digest         string       `json:"digest,omitempty"`
	SessionImageID string       `json:"sessionImageId,omitempty"`
}

type failureView struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

type verifyView struct {
	IsIdentical     bool    `json:"isIdentical"`
	MatchConfidence float64 `json:"matchConfidence"`
}

func viewOf(s *liveness.Session) sessionView {
	v := sessionView{
		SessionID:         s.ID,
		Kind:              s.Kind,
		Status:            s.Status,
		ExternalReference: s.ExternalReference,
		CreatedAt:         timestamp(s.CreatedAt),
		ExpiresAt:         timestamp(s.ExpiresAt),
		LinkIssuedAt:      timestamp(s.LinkIssuedAt),
		CompletedAt:       timestamp(s.CompletedAt),
	}
	if s.Status.Final() {
		passed := s.Passed()
		v.Passed = &passed
	}
	if o := s.Outcome; o != nil {
		ov := &outcomeView{
			Decision:       o.Decision,
			AttemptCount:   o.AttemptCount,
			ModelVersion:   o.ModelVersion,
			Digest:         o.Digest,
			SessionImageID: o.SessionImageID,
		}
		if o.Failure != nil {
			ov.Failure = &failureView{Code: o.Failure.Code, Message: o.Failure.Message}
		}
		if o.Verify != nil {
			ov.Verify = &verifyView{IsIdentical: o.Verify.IsIdentical, MatchConfidence: o.Verify.MatchConfidence}
		}
		v.Outcome = ov
	}
	return v
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
