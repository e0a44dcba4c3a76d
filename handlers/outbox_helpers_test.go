package handlers

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// outboxRow is a session's event row as stored, read behind the store's back.
type outboxRow struct {
	Event string
	Sent  bool
}

// outbox reads the event row of session id; found is false when there is none.
func (a *app) outbox(id string) (row outboxRow, found bool) {
	a.t.Helper()
	resp, err := a.table.GetEntity(a.t.Context(), id, "event", nil)
	if re, ok := errors.AsType[*azcore.ResponseError](err); ok && re.StatusCode == http.StatusNotFound {
		return row, false
	}
	if err != nil {
		a.t.Fatalf("read the event row of %s: %v", id, err)
	}
	if err := json.Unmarshal(resp.Value, &row); err != nil {
		a.t.Fatalf("decode the event row of %s: %v", id, err)
	}
	return row, true
}

// sentEvent is the event of session id, failing the test unless it was recorded and marked sent.
func (a *app) sentEvent(id string) []byte {
	a.t.Helper()
	row, found := a.outbox(id)
	if !found || !row.Sent {
		a.t.Errorf("event of %s: recorded %v, sent %v; want recorded and sent", id, found, row.Sent)
	}
	return []byte(row.Event)
}
