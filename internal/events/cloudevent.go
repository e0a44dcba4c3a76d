// Package events builds the CloudEvents 1.0 messages of design §6. Building is separate from
// sending so the event can be stored in the outbox in the same transaction as the final state.
package events

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// ContentType is the Service Bus content type of a structured-mode CloudEvent.
const ContentType = "application/cloudevents+json"

// CloudEvent is the structured-mode envelope.
type CloudEvent struct {
	SpecVersion     string `json:"specversion"`
	ID              string `json:"id"`
	Source          string `json:"source"`
	Type            string `json:"type"`
	Subject         string `json:"subject"`
	Time            string `json:"time"`
	DataContentType string `json:"datacontenttype"`
	Data            Data   `json:"data"`
}

// Data is the event payload. It never carries the token, the link, images or raw request data.
type Data struct {
	SessionID         string          `json:"sessionId"`
	Kind              liveness.Kind   `json:"kind"`
	Status            liveness.Status `json:"status"`
	Passed            bool            `json:"passed"`
	Decision          string          `json:"decision,omitempty"`
	AttemptCount      int             `json:"attemptCount"`
	Failure           *Failure        `json:"failure,omitempty"`
	Verify            *Verify         `json:"verify,omitempty"`
	ExternalReference string          `json:"externalReference,omitempty"`
	CreatedAt         string          `json:"createdAt"`
	CompletedAt       string          `json:"completedAt"`
	ModelVersion      string          `json:"modelVersion,omitempty"`
}

// Failure mirrors liveness.Failure on the wire.
type Failure struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// Verify mirrors liveness.VerifyResult on the wire.
type Verify struct {
	IsIdentical     bool    `json:"isIdentical"`
	MatchConfidence float64 `json:"matchConfidence"`
}

var typeByStatus = map[liveness.Status]string{
	liveness.StatusCompleted: "Liveness.Session.Completed",
	liveness.StatusFailed:    "Liveness.Session.Failed",
	liveness.StatusAbandoned: "Liveness.Session.Abandoned",
	liveness.StatusExpired:   "Liveness.Session.Expired",
	liveness.StatusCanceled:  "Liveness.Session.Canceled",
}

// MessageID is the stable id of the event of a final state: retries de-duplicate on it.
func MessageID(sessionID string, status liveness.Status) string {
	return sessionID + "/" + string(status)
}

// New builds the event for a session that has reached a final state. It refuses an id that
// NewMessage could not send (longer than MaxMessageIDLength), so that no unsendable event is ever
// committed to the outbox.
func New(s *liveness.Session, source string) (*CloudEvent, error) {
	typ, ok := typeByStatus[s.Status]
	if !ok {
		return nil, errors.New("events: session is not in a final state")
	}
	id := MessageID(s.ID, s.Status)
	if err := checkIDLength(id); err != nil {
		return nil, err
	}
	d := Data{
		SessionID:         s.ID,
		Kind:              s.Kind,
		Status:            s.Status,
		Passed:            s.Passed(),
		ExternalReference: s.ExternalReference,
		CreatedAt:         s.CreatedAt.UTC().Format(time.RFC3339Nano),
		CompletedAt:       s.CompletedAt.UTC().Format(time.RFC3339Nano),
	}
	if o := s.Outcome; o != nil {
		d.Decision = o.Decision
		d.AttemptCount = o.AttemptCount
		d.ModelVersion = o.ModelVersion
		if o.Failure != nil {
			d.Failure = &Failure{Code: o.Failure.Code, Message: o.Failure.Message}
		}
		if o.Verify != nil {
			d.Verify = &Verify{IsIdentical: o.Verify.IsIdentical, MatchConfidence: o.Verify.MatchConfidence}
		}
	}
	return &CloudEvent{
		SpecVersion:     "1.0",
		ID:              id,
		Source:          source,
		Type:            typ,
		Subject:         s.ID,
		Time:            d.CompletedAt,
		DataContentType: "application/json",
		Data:            d,
	}, nil
}

// Marshal builds the event and encodes it as the message body.
func Marshal(s *liveness.Session, source string) ([]byte, error) {
	ev, err := New(s, source)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ev)
}
