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
}

// ReserveIdempotencyKey inserts rec if its key is new (setting rec.ETag) and returns (nil, nil).
// If the key is taken, it returns the existing record, with its ETag, and ErrAlreadyExists.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, rec *liveness.IdempotencyRecord) (existing *liveness.IdempotencyRecord, err error) {
	data, err := encodeIdempotency(rec)
	if err != nil {
		return nil, err
	}
	for range reserveTries {
		resp, err := s.table.AddEntity(ctx, data, nil)
		if err == nil {
			rec.ETag = string(resp.ETag)
			return nil, nil
		}
		if err = mapError("reserve idempotency key", err); !errors.Is(err, liveness.ErrAlreadyExists) {
			return nil, err
		}
		existing, err := s.getIdempotency(ctx, rec.KeyHash)
		if errors.Is(err, liveness.ErrNotFound) {
			continue // released meanwhile: try to take it again
		}
		if err != nil {
			return nil, err
		}
		return existing, fmt.Errorf("store: idempotency key: %w", liveness.ErrAlreadyExists)
	}
	return nil, unavailable("reserve idempotency key", errors.New("the key kept changing hands"))
}

// CompleteIdempotencyKey records rec.SessionID on a reservation still at version rec.ETag
// (ErrConflict otherwise) and sets rec.ETag to the new version.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, rec *liveness.IdempotencyRecord) error {
	data, err := encodeIdempotency(rec)
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
		return mapError("complete idempotency key", err)
	}
	rec.ETag = string(resp.ETag)
	return nil
}

// ReleaseIdempotencyKey deletes a reservation still at version rec.ETag (ErrConflict otherwise), so
// that a failed first request does not block its retries.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, rec *liveness.IdempotencyRecord) error {
	if err := validKeyHash(rec.KeyHash); err != nil {
		return err
	}
	if rec.ETag == "" {
		return errMissingETag
	}
	etag := azcore.ETag(rec.ETag)
	if _, err := s.table.DeleteEntity(ctx, rec.KeyHash, rowIdempotency, &aztables.DeleteEntityOptions{IfMatch: &etag}); err != nil {
		return mapError("release idempotency key", err)
	}
	return nil
}

func (s *Store) getIdempotency(ctx context.Context, keyHash string) (*liveness.IdempotencyRecord, error) {
	resp, err := s.table.GetEntity(ctx, keyHash, rowIdempotency, nil)
	if err != nil {
		return nil, mapError("get idempotency key", err)
	}
	var e idempotencyEntity
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		return nil, fmt.Errorf("store: idempotency row: %w", err)
	}
	created, err := parseTime("CreatedAt", e.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("store: idempotency row: %w", err)
	}
	return &liveness.IdempotencyRecord{
		KeyHash:   e.PartitionKey,
		BodyHash:  e.BodyHash,
		SessionID: e.SessionID,
		CreatedAt: created,
		ETag:      string(resp.ETag),
	}, nil
}

func encodeIdempotency(rec *liveness.IdempotencyRecord) ([]byte, error) {
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
	})
}

func validKeyHash(h string) error {
	if !keyHashPattern.MatchString(h) {
		return liveness.Invalid("keyHash", "not a lowercase hex SHA-256")
	}
	return nil
}
