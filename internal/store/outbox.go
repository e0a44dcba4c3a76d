package store

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

const rowEvent = "event"

// outboxEntity is the event row. The event is a string column, not binary: it is JSON, and the
// portal shows strings.
type outboxEntity struct {
	PartitionKey string
	RowKey       string
	Event        string `json:",omitempty"`
	Sent         bool
	CreatedAt    string `json:",omitempty"`
	SentAt       string `json:",omitempty"`
}

func encodeOutbox(sessionID string, event []byte, now time.Time) ([]byte, error) {
	switch {
	case len(event) == 0:
		return nil, liveness.Invalid("event", "empty")
	case !utf8.Valid(event):
		return nil, liveness.Invalid("event", "not UTF-8")
	case len(event) > maxStringBytes:
		return nil, liveness.Invalid("event", fmt.Sprintf("longer than %d bytes", maxStringBytes))
	}
	return json.Marshal(outboxEntity{
		PartitionKey: sessionID,
		RowKey:       rowEvent,
		Event:        string(event),
		CreatedAt:    formatTime(now),
	})
}

// encodeSentMark is the partial row that a Merge applies to mark the event sent.
func encodeSentMark(sessionID string, now time.Time) ([]byte, error) {
	return json.Marshal(struct {
		PartitionKey, RowKey string
		Sent                 bool
		SentAt               string
	}{sessionID, rowEvent, true, formatTime(now)})
}

func decodeOutbox(data []byte) (outboxEntity, error) {
	var e outboxEntity
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("event row: %w", err)
	}
	return e, nil
}
