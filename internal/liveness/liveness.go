// Package liveness holds the domain types of a liveness quick-link session and the errors the rest of
// the backend speaks in. It has no dependencies on Azure SDKs or HTTP.
package liveness

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// Kind is the kind of Face liveness session.
type Kind string

const (
	KindLiveness           Kind = "liveness"
	KindLivenessWithVerify Kind = "livenessWithVerify"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindLiveness || k == KindLivenessWithVerify }

// Mode is the Face liveness operation mode.
type Mode string

const (
	ModePassive       Mode = "Passive"
	ModePassiveActive Mode = "PassiveActive"
)

// Valid reports whether m is a mode the Face API accepts.
func (m Mode) Valid() bool { return m == ModePassive || m == ModePassiveActive }

// Status is the state of a session; see design §4.
type Status string

const (
	StatusCreated    Status = "created"
	StatusLinkIssued Status = "linkIssued"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusAbandoned  Status = "abandoned"
	StatusExpired    Status = "expired"
	StatusCanceled   Status = "canceled"
)

// Valid reports whether s is one of the states of design §4.
func (s Status) Valid() bool { return s == StatusCreated || s == StatusLinkIssued || s.Final() }

// Final reports whether s never changes again.
func (s Status) Final() bool {
	switch s {
	case StatusCompleted, StatusFailed, StatusAbandoned, StatusExpired, StatusCanceled:
		return true
	}
	return false
}

// Session is one liveness session as the backend records it.
type Session struct {
	ID                  string
	Kind                Kind
	Mode                Mode
	Status              Status
	ExternalReference   string
	DeviceCorrelationID string
	ReturnURL           string
	EnableSessionImage  bool
	TTLSeconds          int
	CreatedAt           time.Time
	ExpiresAt           time.Time
	LinkIssuedAt        time.Time // zero until a link is issued
	ReturnedAt          time.Time // zero until the user first comes back without a finished attempt
	CompletedAt         time.Time // zero until the session is final

	// AuthToken is the Face session token. It is a bearer secret: kept only until the link is issued
	// or the session ends, and never logged, returned or emitted.
	AuthToken string

	// FaceDeleted records that the Face session was deleted (token, link and images revoked).
	FaceDeleted bool

	Outcome *Outcome

	// ETag is the store's concurrency token for the version read; updates are conditional on it.
	ETag string
}

// Outcome is what the Face API reported for the latest attempt of a finished session.
type Outcome struct {
	Decision       string // realface | spoofface | uncertain (empty when the attempt failed)
	AttemptCount   int
	Failure        *Failure
	Verify         *VerifyResult
	ModelVersion   string
	Digest         string
	SessionImageID string
}

// Failure is the error of a failed attempt.
type Failure struct {
	Code    string
	Message string
}

// VerifyResult is the face comparison of a livenessWithVerify session.
type VerifyResult struct {
	IsIdentical     bool
	MatchConfidence float64
}

// Passed is the derived verdict of design §4: a real face and, for verify sessions, the same person.
func (s *Session) Passed() bool {
	if s.Outcome == nil || !strings.EqualFold(s.Outcome.Decision, "realface") {
		return false
	}
	if s.Kind == KindLivenessWithVerify {
		return s.Outcome.Verify != nil && s.Outcome.Verify.IsIdentical
	}
	return true
}

var sessionIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ValidSessionID reports whether id has the Face session id format (a GUID). Every id is checked
// with it before it reaches a table key or an OData filter.
func ValidSessionID(id string) bool { return sessionIDPattern.MatchString(id) }

// IdempotencyRecord remembers which session a StartSession Idempotency-Key produced.
type IdempotencyRecord struct {
	KeyHash   string // hex SHA-256 of the Idempotency-Key header; the raw key is never stored
	BodyHash  string // hex SHA-256 of the normalized request
	SessionID string // empty while the first request is still in flight
	CreatedAt time.Time
	ETag      string
}

// DueItem is an entry of the index of due work that Reconcile reads. A session can have one
// entry per reason. An entry names a session (SessionID), except a DueForgetKey entry, which
// names an Idempotency-Key record (KeyHash) and no session.
type DueItem struct {
	SessionID string
	KeyHash   string // DueForgetKey only: the IdempotencyRecord's KeyHash
	Reason    DueReason
	Due       time.Time
	// Attempts counts the runs whose work on this entry failed; each failure files it again later.
	Attempts int
	ETag     string
}

// DueReason says what a due entry is for; Reconcile dispatches on it and never infers it.
type DueReason string

const (
	// DueExpire is filed at start, for ExpiresAt plus the grace period: finish the session with
	// the outcome of a finished attempt, else as expired.
	DueExpire DueReason = "expire"
	// DueAbandon is filed when the user returns without a finished attempt, ABANDON_AFTER_SECONDS
	// later: finish with the outcome of an attempt that finished meanwhile, else as abandoned.
	DueAbandon DueReason = "abandon"
	// DueAnnounce is filed just before a final state commits: do what the request that finished
	// the session could not of what follows the commit — revoke the Face session, and (once the
	// Service Bus publisher is there) publish its event if it is still unsent.
	DueAnnounce DueReason = "announce"
	// DuePurge is filed when a final state has been announced, for the final time plus the
	// retention period (RETENTION_DAYS): delete the session, its sent event and what is left of
	// it in the index.
	DuePurge DueReason = "purge"
	// DueForgetKey is filed once a start with an Idempotency-Key has created its session, for the
	// end of the key's window: delete the record unless a newer reservation of the key is still in its window.
	DueForgetKey DueReason = "forget-key"
)

// DueReasons are the reasons this version knows.
var DueReasons = []DueReason{DueExpire, DueAbandon, DueAnnounce, DuePurge, DueForgetKey}

// Valid reports whether r is a reason this version knows.
func (r DueReason) Valid() bool { return slices.Contains(DueReasons, r) }
