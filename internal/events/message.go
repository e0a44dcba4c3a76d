package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// MaxMessageIDLength is the longest MessageId Service Bus accepts, in characters (design §6; the
// Go SDK does not check it, the service refuses the send).
const MaxMessageIDLength = 128

// The application property names of design §6. The first three are ours, for SQL-filtered
// subscriptions (infra's `review` rule is `passed = false`); the cloudEvents_ ones are the names the
// CloudEvents AMQP binding gives the attributes, for consumers that filter that way.
const (
	PropStatus          = "status"
	PropPassed          = "passed"
	PropKind            = "kind"
	PropCloudEventsType = "cloudEvents_type"
	PropCloudEventsSubj = "cloudEvents_subject"
)

// ErrInvalidEvent means stored bytes are not a final-state CloudEvent as New builds them. It is
// permanent: the same bytes fail again, so a sender must not retry them.
var ErrInvalidEvent = errors.New("events: not a final-state event of this app")

// ErrMessageIDTooLong means the event's id exceeds MaxMessageIDLength; it is an ErrInvalidEvent
// too. Service Bus would refuse the message, and a shortened id would defeat duplicate detection.
var ErrMessageIDTooLong = fmt.Errorf("%w: id longer than %d characters", ErrInvalidEvent, MaxMessageIDLength)

// storedEvent is what NewMessage reads of a stored event. Passed is a pointer so that an event
// without it is refused rather than read as false. Unknown members are ignored: the body is sent as
// stored, never re-encoded.
type storedEvent struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"`
	Type        string `json:"type"`
	Subject     string `json:"subject"`
	Data        *struct {
		SessionID string          `json:"sessionId"`
		Kind      liveness.Kind   `json:"kind"`
		Status    liveness.Status `json:"status"`
		Passed    *bool           `json:"passed"`
	} `json:"data"`
}

// NewMessage turns a stored event (the structured CloudEvent JSON that Marshal built and the
// outbox holds) into the Service Bus message of design §6:
//
//   - Body: the event bytes unchanged; ContentType application/cloudevents+json (structured mode).
//   - MessageID: the CloudEvent id, "<sessionId>/<status>", so a resend is dropped by the topic's
//     duplicate detection.
//   - Subject: the CloudEvent type, e.g. Liveness.Session.Completed.
//   - ApplicationProperties: status (string), passed (bool, so the SQL filter `passed = false`
//     matches), kind (string), cloudEvents_type and cloudEvents_subject (strings).
//
// Before it builds anything it checks that the event holds together: specversion 1.0, a final
// status, type and id derived from it (New's rules), subject = data.sessionId, data.passed present.
// Errors: ErrMessageIDTooLong, else ErrInvalidEvent with what is wrong; nothing of the event but
// the offending attribute's name is quoted.
func NewMessage(event []byte) (*azservicebus.Message, error) {
	var ev storedEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		return nil, fmt.Errorf("%w: not a JSON CloudEvent: %w", ErrInvalidEvent, err)
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	d := ev.Data
	return &azservicebus.Message{
		Body:        event,
		ContentType: ptr(ContentType),
		MessageID:   ptr(ev.ID),
		Subject:     ptr(ev.Type),
		ApplicationProperties: map[string]any{
			PropStatus:          string(d.Status),
			PropPassed:          *d.Passed,
			PropKind:            string(d.Kind),
			PropCloudEventsType: ev.Type,
			PropCloudEventsSubj: ev.Subject,
		},
	}, nil
}

func (ev *storedEvent) check() error {
	invalid := func(what string) error { return fmt.Errorf("%w: %s", ErrInvalidEvent, what) }
	d := ev.Data
	switch {
	case ev.SpecVersion != "1.0":
		return invalid("specversion is not 1.0")
	case d == nil:
		return invalid("no data")
	case d.SessionID == "":
		return invalid("no data.sessionId")
	case !d.Kind.Valid():
		return invalid("data.kind is not a known kind")
	case d.Passed == nil:
		return invalid("no data.passed")
	case ev.Subject != d.SessionID:
		return invalid("subject is not data.sessionId")
	}
	wantType, ok := typeByStatus[d.Status]
	if !ok {
		return invalid("data.status is not a final status")
	}
	if ev.Type != wantType {
		return invalid("type does not match data.status")
	}
	if err := checkIDLength(ev.ID); err != nil {
		return err
	}
	if ev.ID != MessageID(d.SessionID, d.Status) {
		return invalid("id is not <data.sessionId>/<data.status>")
	}
	return nil
}

// checkIDLength counts characters, as the Service Bus limit does, not bytes.
func checkIDLength(id string) error {
	if utf8.RuneCountInString(id) > MaxMessageIDLength {
		return ErrMessageIDTooLong
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
