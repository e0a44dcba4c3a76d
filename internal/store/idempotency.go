package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

const rowIdempotency = "idempotency"

// reserveTries bounds the loop where a record is released between our insert and our read.
const reserveTries = 3

var keyHashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

type idempotencyEntity struct {
	PartitionKey string
	RowKey       string
	BodyHash     string
	SessionID    string `json:",omitempty"`
	CreatedAt    string `json:",omitempty"`
	WriteID      string `json:",omitempty"` // the write that stored this version; see settle
}

// ReserveIdempotencyKey inserts rec if its key is new (setting rec.ETag) and returns (nil, nil).
// If the key is taken, it returns the existing record, with its ETag, and ErrAlreadyExists. A
// retry that meets this reservation's own row (its answer lost) is a success (see settle); when
// the outcome cannot be told, the error is ErrUpstreamUnavailable.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, rec *liveness.IdempotencyRecord) (existing *liveness.IdempotencyRecord, err error) {
	writeID := s.newWriteID()
	data, err := encodeIdempotency(rec, writeID)
	if err != nil {
		return nil, err
	}
	for range reserveTries {
		resp, err := s.table.AddEntity(noEcho(ctx), data, nil)
		if err == nil {
			rec.ETag = string(resp.ETag)
			return nil, nil
		}
		err = mapError("reserve idempotency key", err)
		if !errors.Is(err, liveness.ErrAlreadyExists) && !errors.Is(err, liveness.ErrUpstreamUnavailable) {
			return nil, err
		}
		var row *liveness.IdempotencyRecord
		var gerr error
		err = settle("reserve idempotency key", err, writeID, func() (string, error) {
			var rowWriteID string
			row, rowWriteID, gerr = s.getIdempotency(ctx, rec.KeyHash)
			return rowWriteID, gerr
		})
		switch {
		case err == nil:
			rec.ETag = row.ETag
			return nil, nil
		case errors.Is(gerr, liveness.ErrNotFound):
			continue // released meanwhile (or never written): try to take it again
		case errors.Is(err, liveness.ErrAlreadyExists):
			return row, fmt.Errorf("store: idempotency key: %w", liveness.ErrAlreadyExists)
		}
		return nil, err
	}
	return nil, unavailable("reserve idempotency key", errors.New("the key kept changing hands"))
}

// CompleteIdempotencyKey records rec.SessionID on a reservation still at version rec.ETag
// (ErrConflict otherwise) and sets rec.ETag to the new version. A retry that meets this update's
// own new version is a success (see settle).
func (s *Store) CompleteIdempotencyKey(ctx context.Context, rec *liveness.IdempotencyRecord) error {
	writeID := s.newWriteID()
	data, err := encodeIdempotency(rec, writeID)
	if err != nil {
		return err
	}
	if err := validSessionID(rec.SessionID); err != nil {
		return err
	}
	if rec.ETag == "" {
		return errMissingETag
	}
	etag := azcore.ETag(rec.ETag)
	resp, err := s.table.UpdateEntity(ctx, data, &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
	if err != nil {
		var row *liveness.IdempotencyRecord
		err = settle("complete idempotency key", mapError("complete idempotency key", err), writeID, func() (string, error) {
			got, rowWriteID, err := s.getIdempotency(ctx, rec.KeyHash)
			row = got
			return rowWriteID, err
		})
		if err != nil {
			return err
		}
		rec.ETag = row.ETag
		return nil
	}
	rec.ETag = string(resp.ETag)
	return nil
}

// ReleaseIdempotencyKey deletes a reservation still at version rec.ETag (ErrConflict otherwise), so
// that a failed first request does not block its retries. A reservation already gone is not an
// error: it is what a retry whose first try deleted the row meets.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, rec *liveness.IdempotencyRecord) error {
	if err := validKeyHash(rec.KeyHash); err != nil {
		return err
	}
	if rec.ETag == "" {
		return errMissingETag
	}
	etag := azcore.ETag(rec.ETag)
	if _, err := s.table.DeleteEntity(ctx, rec.KeyHash, rowIdempotency, &aztables.DeleteEntityOptions{IfMatch: &etag}); err != nil {
		if err = mapError("release idempotency key", err); !errors.Is(err, liveness.ErrNotFound) {
			return err
		}
	}
	return nil
}

// getIdempotency reads a reservation, and the id of the write that stored it.
func (s *Store) getIdempotency(ctx context.Context, keyHash string) (*liveness.IdempotencyRecord, string, error) {
	row, etag, err := s.getRow(ctx, keyHash, rowIdempotency)
	if err != nil {
		return nil, "", mapError("get idempotency key", err)
	}
	var e idempotencyEntity
	if err := json.Unmarshal(row, &e); err != nil {
		return nil, "", fmt.Errorf("store: idempotency row: %w", err)
	}
	created, err := parseTime("CreatedAt", e.CreatedAt)
	if err != nil {
		return nil, "", fmt.Errorf("store: idempotency row: %w", err)
	}
	return &liveness.IdempotencyRecord{
		KeyHash:   e.PartitionKey,
		BodyHash:  e.BodyHash,
		SessionID: e.SessionID,
		CreatedAt: created,
		ETag:      etag,
	}, e.WriteID, nil
}

// encodeIdempotency is the row for rec, stored by the write writeID.
func encodeIdempotency(rec *liveness.IdempotencyRecord, writeID string) ([]byte, error) {
	if err := validKeyHash(rec.KeyHash); err != nil {
		return nil, err
	}
	if rec.SessionID != "" {
		if err := validSessionID(rec.SessionID); err != nil {
			return nil, err
		}
	}
	if err := checkString("bodyHash", rec.BodyHash); err != nil {
		return nil, liveness.Invalid("bodyHash", err.Error())
	}
	return json.Marshal(idempotencyEntity{
		PartitionKey: rec.KeyHash,
		RowKey:       rowIdempotency,
		BodyHash:     rec.BodyHash,
		SessionID:    rec.SessionID,
		CreatedAt:    formatTime(rec.CreatedAt),
		WriteID:      writeID,
	})
}

func validKeyHash(h string) error {
	if !keyHashPattern.MatchString(h) {
		return liveness.Invalid("keyHash", "not a lowercase hex SHA-256")
	}
	return nil
}
