package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

const rowSession = "session"

// sessionEntity is the session row. Outcome is flattened so the portal shows it column by column;
// an absent column is a nil pointer, which is how a nil Outcome, Failure or Verify survives the trip.
type sessionEntity struct {
	PartitionKey        string
	RowKey              string
	Kind                string `json:",omitempty"`
	Mode                string `json:",omitempty"`
	Status              string
	ExternalReference   string `json:",omitempty"`
	DeviceCorrelationID string `json:",omitempty"`
	ReturnURL           string `json:",omitempty"`
	EnableSessionImage  bool
	TTLSeconds          int32
	CreatedAt           string `json:",omitempty"`
	ExpiresAt           string `json:",omitempty"`
	LinkIssuedAt        string `json:",omitempty"`
	ReturnedAt          string `json:",omitempty"`
	CompletedAt         string `json:",omitempty"`
	AuthToken           string `json:",omitempty"`
	FaceDeleted         bool
	// WriteID names the logical write that stored this version (see settle); a merge of
	// FaceDeleted keeps it.
	WriteID string `json:",omitempty"`

	OutcomeAttemptCount   *int32 `json:",omitempty"` // present exactly when there is an Outcome
	OutcomeDecision       string `json:",omitempty"`
	OutcomeModelVersion   string `json:",omitempty"`
	OutcomeDigest         string `json:",omitempty"`
	OutcomeSessionImageID string `json:",omitempty"`

	FailureCode    *string `json:",omitempty"`
	FailureMessage *string `json:",omitempty"`

	VerifyIsIdentical     *bool    `json:",omitempty"`
	VerifyMatchConfidence *float64 `json:",omitempty"`
	// Without the annotation a whole confidence (1.0, marshalled as 1) would be typed Edm.Int32.
	VerifyMatchConfidenceType string `json:"VerifyMatchConfidence@odata.type,omitempty"`
}

// encodeSession is the row for sess, stored by the write writeID.
func encodeSession(sess *liveness.Session, writeID string) ([]byte, error) {
	if err := validSessionID(sess.ID); err != nil {
		return nil, err
	}
	if err := checkSession(sess); err != nil {
		return nil, liveness.Invalid("session", err.Error())
	}
	e := sessionEntity{
		PartitionKey:        sess.ID,
		RowKey:              rowSession,
		Kind:                string(sess.Kind),
		Mode:                string(sess.Mode),
		Status:              string(sess.Status),
		ExternalReference:   sess.ExternalReference,
		DeviceCorrelationID: sess.DeviceCorrelationID,
		ReturnURL:           sess.ReturnURL,
		EnableSessionImage:  sess.EnableSessionImage,
		TTLSeconds:          int32(sess.TTLSeconds),
		CreatedAt:           formatTime(sess.CreatedAt),
		ExpiresAt:           formatTime(sess.ExpiresAt),
		LinkIssuedAt:        formatTime(sess.LinkIssuedAt),
		ReturnedAt:          formatTime(sess.ReturnedAt),
		CompletedAt:         formatTime(sess.CompletedAt),
		AuthToken:           sess.AuthToken,
		FaceDeleted:         sess.FaceDeleted,
		WriteID:             writeID,
	}
	if o := sess.Outcome; o != nil {
		n := int32(o.AttemptCount)
		e.OutcomeAttemptCount = &n
		e.OutcomeDecision = o.Decision
		e.OutcomeModelVersion = o.ModelVersion
		e.OutcomeDigest = o.Digest
		e.OutcomeSessionImageID = o.SessionImageID
		if f := o.Failure; f != nil {
			e.FailureCode, e.FailureMessage = &f.Code, &f.Message
		}
		if v := o.Verify; v != nil {
			e.VerifyIsIdentical, e.VerifyMatchConfidence = &v.IsIdentical, &v.MatchConfidence
			e.VerifyMatchConfidenceType = "Edm.Double"
		}
	}
	return json.Marshal(e)
}

func checkSession(sess *liveness.Session) error {
	if !sess.Kind.Valid() || !sess.Mode.Valid() || !sess.Status.Valid() {
		return fmt.Errorf("kind %.20q, mode %.20q or status %.20q is not one of the domain's", sess.Kind, sess.Mode, sess.Status)
	}
	strs := []struct{ field, v string }{
		{"kind", string(sess.Kind)}, {"mode", string(sess.Mode)}, {"status", string(sess.Status)},
		{"externalReference", sess.ExternalReference}, {"deviceCorrelationId", sess.DeviceCorrelationID},
		{"returnUrl", sess.ReturnURL}, {"authToken", sess.AuthToken},
	}
	if o := sess.Outcome; o != nil {
		strs = append(strs, []struct{ field, v string }{
			{"outcome.decision", o.Decision}, {"outcome.modelVersion", o.ModelVersion},
			{"outcome.digest", o.Digest}, {"outcome.sessionImageId", o.SessionImageID},
		}...)
		if f := o.Failure; f != nil {
			strs = append(strs, []struct{ field, v string }{
				{"outcome.failure.code", f.Code}, {"outcome.failure.message", f.Message},
			}...)
		}
		if err := checkInt32("outcome.attemptCount", o.AttemptCount); err != nil {
			return err
		}
		if v := o.Verify; v != nil && (math.IsNaN(v.MatchConfidence) || math.IsInf(v.MatchConfidence, 0)) {
			return errors.New("outcome.verify.matchConfidence: not a finite number")
		}
	}
	for _, s := range strs {
		if err := checkString(s.field, s.v); err != nil {
			return err
		}
	}
	return checkInt32("ttlSeconds", sess.TTLSeconds)
}

// decodeSession reads a session row, and the id of the write that stored it.
func decodeSession(data []byte, etag string) (*liveness.Session, string, error) {
	var e sessionEntity
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, "", fmt.Errorf("session row: %w", err)
	}
	// A row this app did not write (or a damaged one) is refused, not shown as a session: its
	// empty or unknown fields would break every answer that shows it.
	if !liveness.ValidSessionID(e.PartitionKey) || e.RowKey != rowSession || !liveness.Kind(e.Kind).Valid() ||
		!liveness.Mode(e.Mode).Valid() || !liveness.Status(e.Status).Valid() {
		return nil, "", fmt.Errorf("session row %.40q is not one this app writes (kind %.20q, mode %.20q, status %.20q)",
			e.PartitionKey, e.Kind, e.Mode, e.Status)
	}
	sess := &liveness.Session{
		ID:                  e.PartitionKey,
		Kind:                liveness.Kind(e.Kind),
		Mode:                liveness.Mode(e.Mode),
		Status:              liveness.Status(e.Status),
		ExternalReference:   e.ExternalReference,
		DeviceCorrelationID: e.DeviceCorrelationID,
		ReturnURL:           e.ReturnURL,
		EnableSessionImage:  e.EnableSessionImage,
		TTLSeconds:          int(e.TTLSeconds),
		AuthToken:           e.AuthToken,
		FaceDeleted:         e.FaceDeleted,
		ETag:                etag,
	}
	for _, t := range []struct {
		column, value string
		dst           *time.Time
	}{
		{"CreatedAt", e.CreatedAt, &sess.CreatedAt},
		{"ExpiresAt", e.ExpiresAt, &sess.ExpiresAt},
		{"LinkIssuedAt", e.LinkIssuedAt, &sess.LinkIssuedAt},
		{"ReturnedAt", e.ReturnedAt, &sess.ReturnedAt},
		{"CompletedAt", e.CompletedAt, &sess.CompletedAt},
	} {
		var err error
		if *t.dst, err = parseTime(t.column, t.value); err != nil {
			return nil, "", err
		}
	}
	if e.OutcomeAttemptCount != nil {
		o := &liveness.Outcome{
			Decision:       e.OutcomeDecision,
			AttemptCount:   int(*e.OutcomeAttemptCount),
			ModelVersion:   e.OutcomeModelVersion,
			Digest:         e.OutcomeDigest,
			SessionImageID: e.OutcomeSessionImageID,
		}
		if e.FailureCode != nil || e.FailureMessage != nil {
			o.Failure = &liveness.Failure{Code: deref(e.FailureCode), Message: deref(e.FailureMessage)}
		}
		if e.VerifyIsIdentical != nil || e.VerifyMatchConfidence != nil {
			o.Verify = &liveness.VerifyResult{IsIdentical: deref(e.VerifyIsIdentical), MatchConfidence: deref(e.VerifyMatchConfidence)}
		}
		sess.Outcome = o
	}
	return sess, e.WriteID, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// sameState reports whether a and b would be stored as the same row by the same write.
func sameState(a, b *liveness.Session) bool {
	ea, errA := encodeSession(a, "")
	eb, errB := encodeSession(b, "")
	return errA == nil && errB == nil && bytes.Equal(ea, eb)
}
