package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

func newRecord() *liveness.IdempotencyRecord {
	key := sha256.Sum256([]byte(uuid.NewString()))
	body := sha256.Sum256([]byte(`{"kind":"liveness"}`))
	return &liveness.IdempotencyRecord{
		KeyHash:   hex.EncodeToString(key[:]),
		BodyHash:  hex.EncodeToString(body[:]),
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
	}
}

func TestIdempotencyKeyLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	rec := newRecord()

	if existing, err := f.store.ReserveIdempotencyKey(ctx, rec); err != nil || existing != nil {
		t.Fatalf("first Reserve = %v, %v; want nil, nil", existing, err)
	}
	if rec.ETag == "" {
		t.Fatal("Reserve left the record's ETag empty")
	}

	second := newRecord()
	second.KeyHash = rec.KeyHash
	existing, err := f.store.ReserveIdempotencyKey(ctx, second)
	if !errors.Is(err, liveness.ErrAlreadyExists) {
		t.Fatalf("second Reserve error = %v, want ErrAlreadyExists", err)
	}
	if existing == nil || *existing != *rec {
		t.Fatalf("second Reserve returned %+v, want the first record %+v", existing, rec)
	}

	stale := *rec
	if err := f.store.ReleaseIdempotencyKey(ctx, &liveness.IdempotencyRecord{KeyHash: rec.KeyHash, ETag: `W/"datetime'2020-01-01T00%3A00%3A00Z'"`}); !errors.Is(err, liveness.ErrConflict) {
		t.Errorf("Release with a stale ETag = %v, want ErrConflict", err)
	}

	rec.SessionID = uuid.NewString()
	if err := f.store.CompleteIdempotencyKey(ctx, rec); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if rec.ETag == stale.ETag {
		t.Error("Complete did not give the record a new ETag")
	}
	stale.SessionID = uuid.NewString()
	if err := f.store.CompleteIdempotencyKey(ctx, &stale); !errors.Is(err, liveness.ErrConflict) {
		t.Errorf("Complete with a stale ETag = %v, want ErrConflict", err)
	}
	existing, err = f.store.ReserveIdempotencyKey(ctx, newRecordWithKey(rec.KeyHash))
	if !errors.Is(err, liveness.ErrAlreadyExists) || existing == nil || existing.SessionID != rec.SessionID {
		t.Errorf("Reserve after Complete = %+v, %v; want the record naming session %s", existing, err, rec.SessionID)
	}

	if err := f.store.ReleaseIdempotencyKey(ctx, &stale); !errors.Is(err, liveness.ErrConflict) {
		t.Errorf("Release with the pre-Complete ETag = %v, want ErrConflict", err)
	}
	if err := f.store.ReleaseIdempotencyKey(ctx, rec); err != nil {
		t.Fatalf("Release: %v", err)
	}
	again := newRecordWithKey(rec.KeyHash)
	if existing, err := f.store.ReserveIdempotencyKey(ctx, again); err != nil || existing != nil {
		t.Errorf("Reserve after Release = %+v, %v; want the key free again", existing, err)
	}
}

func newRecordWithKey(keyHash string) *liveness.IdempotencyRecord {
	r := newRecord()
	r.KeyHash = keyHash
	return r
}
