package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// PurgeSession deletes a final session and its event row in one entity-group transaction, each
// only at the version read: the session at sess.ETag, the event row as PurgeSession reads it, and
// only once that event is marked sent. An event still unsent is ErrConflict and nothing is
// deleted: the outbox row is the only copy of an outcome not yet delivered. ErrConflict too when
// either row changed meanwhile (MarkFaceDeleted, MarkEventSent); read the session again and retry.
// A session already gone, with its event row (another run's purge, or this one's whose answer was
// lost), is ErrNotFound, which a caller takes as done: the transaction deletes both or neither,
// so a final session never loses its event row alone.
func (s *Store) PurgeSession(ctx context.Context, sess *liveness.Session) error {
	if err := validSessionID(sess.ID); err != nil {
		return err
	}
	if !sess.Status.Final() {
		return liveness.Invalid("status", "not a final state")
	}
	if sess.ETag == "" {
		return errMissingETag
	}
	resp, err := s.table.GetEntity(ctx, sess.ID, rowEvent, nil)
	if err != nil {
		// ErrNotFound means purged already: Finalize writes the event row with the final state.
		return mapError("purge session: read the event", err)
	}
	e, err := decodeOutbox(resp.Value)
	if err != nil {
		return fmt.Errorf("store: purge session: %w", err)
	}
	if !e.Sent {
		return fmt.Errorf("store: purge session: its event is not sent yet: %w", liveness.ErrConflict)
	}
	keys := func(row string) []byte {
		data, _ := json.Marshal(struct{ PartitionKey, RowKey string }{sess.ID, row})
		return data
	}
	eventTag, sessionTag := resp.ETag, azcore.ETag(sess.ETag)
	return s.submit(ctx, "purge session", sess.ID, []aztables.TransactionAction{
		{ActionType: aztables.TransactionTypeDelete, Entity: keys(rowEvent), IfMatch: &eventTag},
		{ActionType: aztables.TransactionTypeDelete, Entity: keys(rowSession), IfMatch: &sessionTag},
	})
}

// GetIdempotencyKey reads the Idempotency-Key record keyHash names, with its ETag (for
// ReleaseIdempotencyKey). ErrNotFound if there is none.
func (s *Store) GetIdempotencyKey(ctx context.Context, keyHash string) (*liveness.IdempotencyRecord, error) {
	if err := validKeyHash(keyHash); err != nil {
		return nil, err
	}
	rec, _, err := s.getIdempotency(ctx, keyHash)
	return rec, err
}
