package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// CreateSession inserts sess and sets sess.ETag. A session with the same id, stored by another
// write, gives ErrAlreadyExists; a retry that meets this write's own row is a success (see settle).
func (s *Store) CreateSession(ctx context.Context, sess *liveness.Session) error {
	writeID := s.newWriteID()
	data, err := encodeSession(sess, writeID)
	if err != nil {
		return err
	}
	resp, err := s.table.AddEntity(noEcho(ctx), data, nil)
	if err != nil {
		return s.settleSession(ctx, "create session", mapError("create session", err), sess, writeID)
	}
	sess.ETag = string(resp.ETag)
	return nil
}

// GetSession reads a session, with the ETag that its next update must match.
func (s *Store) GetSession(ctx context.Context, id string) (*liveness.Session, error) {
	sess, _, err := s.getSession(ctx, id)
	return sess, err
}

// getSession is GetSession, with the id of the write that stored the row.
func (s *Store) getSession(ctx context.Context, id string) (*liveness.Session, string, error) {
	if err := validSessionID(id); err != nil {
		return nil, "", err
	}
	row, etag, err := s.getRow(ctx, id, rowSession)
	if err != nil {
		return nil, "", mapError("get session", err)
	}
	sess, writeID, err := decodeSession(row, etag)
	if err != nil {
		return nil, "", fmt.Errorf("store: get session: %w", err)
	}
	return sess, writeID, nil
}

// settleSession is settle for a write of sess by writeID. When the write proves ours, sess.ETag
// becomes the row's ETag if the row still holds what was written, else empty (re-read before
// the next update: a later change, such as MarkFaceDeleted, must not be overwritten).
func (s *Store) settleSession(ctx context.Context, op string, err error, sess *liveness.Session, writeID string) error {
	var row *liveness.Session
	err = settle(op, err, writeID, func() (string, error) {
		got, rowWriteID, err := s.getSession(ctx, sess.ID)
		row = got
		return rowWriteID, err
	})
	if err != nil {
		return err
	}
	sess.ETag = ""
	if sameState(row, sess) {
		sess.ETag = row.ETag
	}
	return nil
}

// UpdateSession replaces the stored session if it is still the version sess.ETag names (ErrConflict
// otherwise, and nothing changes), then sets sess.ETag to the new version. A retry that meets
// this update's own new version is a success (see settle).
func (s *Store) UpdateSession(ctx context.Context, sess *liveness.Session) error {
	writeID := s.newWriteID()
	data, err := encodeSession(sess, writeID)
	if err != nil {
		return err
	}
	if sess.ETag == "" {
		return errMissingETag
	}
	etag := azcore.ETag(sess.ETag)
	resp, err := s.table.UpdateEntity(ctx, data, &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
	if err != nil {
		return s.settleSession(ctx, "update session", mapError("update session", err), sess, writeID)
	}
	sess.ETag = string(resp.ETag)
	return nil
}

// Finalize records a final session and its outgoing event atomically: the session is replaced if it
// is still the version sess.ETag names, and the event row is added with sent=false. Just before,
// it files a DueAnnounce entry AnnounceDelay later, so that no committed state can miss its
// announcement. When another writer got there first, it returns ErrConflict and writes nothing
// but that entry, which Reconcile drops once it sees there is nothing of this commit to announce.
//
// A final session needs no Face token, so Finalize clears sess.AuthToken before writing.
//
// On success sess.ETag is empty (the transaction reports none; see the end of Finalize): re-read
// the session before updating it again, except by MarkFaceDeleted. A retry
// that meets this transaction's own commit (its answer lost) is a success (see settle); when the
// row cannot be read back to tell, the error is ErrUpstreamUnavailable, not ErrConflict.
func (s *Store) Finalize(ctx context.Context, sess *liveness.Session, event []byte) error {
	if err := validSessionID(sess.ID); err != nil {
		return err
	}
	sess.AuthToken = ""
	writeID := s.newWriteID()
	data, err := encodeSession(sess, writeID)
	if err != nil {
		return err
	}
	if !sess.Status.Final() {
		return liveness.Invalid("status", "not a final state")
	}
	if sess.ETag == "" {
		return errMissingETag
	}
	now := s.nowUTC()
	outbox, err := encodeOutbox(sess.ID, event, now)
	if err != nil {
		return err
	}
	if err := s.AddDue(ctx, liveness.DueItem{SessionID: sess.ID, Reason: liveness.DueAnnounce, Due: now.Add(s.announceDelay)}); err != nil {
		return err
	}
	etag := azcore.ETag(sess.ETag)
	err = s.submit(ctx, "finalize session", sess.ID, []aztables.TransactionAction{
		{ActionType: aztables.TransactionTypeUpdateReplace, Entity: data, IfMatch: &etag},
		{ActionType: aztables.TransactionTypeAdd, Entity: outbox},
	})
	if err != nil {
		return s.settleSession(ctx, "finalize session", err, sess, writeID)
	}
	// The transaction's answer carries no ETag, and reading the row back for one would cost every
	// finish a round trip for nothing: a final session changes only by MarkFaceDeleted, which
	// needs none.
	sess.ETag = ""
	return nil
}

// MarkFaceDeleted records on a final session that its Face session is gone (token, link and
// images revoked), so that Reconcile does not call Face for it again. It changes that column only.
// ErrNotFound if there is no such session; ErrInvalidRequest if it is not final.
func (s *Store) MarkFaceDeleted(ctx context.Context, sess *liveness.Session) error {
	if err := validSessionID(sess.ID); err != nil {
		return err
	}
	if !sess.Status.Final() {
		// A session that can still change is only ever replaced whole, under its ETag.
		return liveness.Invalid("status", "not a final state")
	}
	data, err := json.Marshal(struct {
		PartitionKey, RowKey string
		FaceDeleted          bool
	}{sess.ID, rowSession, true})
	if err != nil {
		return fmt.Errorf("store: mark face deleted: %w", err)
	}
	// Merge with If-Match *: a final row changes in nothing else, and the row must exist.
	anyVersion := azcore.ETagAny
	resp, err := s.table.UpdateEntity(ctx, data, &aztables.UpdateEntityOptions{IfMatch: &anyVersion, UpdateMode: aztables.UpdateModeMerge})
	if err != nil {
		return mapError("mark face deleted", err)
	}
	sess.FaceDeleted, sess.ETag = true, string(resp.ETag)
	return nil
}

// MarkEventSent records that the session's event reached the topic. ErrNotFound if there is none.
func (s *Store) MarkEventSent(ctx context.Context, sessionID string) error {
	if err := validSessionID(sessionID); err != nil {
		return err
	}
	data, err := encodeSentMark(sessionID, s.nowUTC())
	if err != nil {
		return err
	}
	// Merge with If-Match * updates only an existing row and leaves the event itself alone.
	anyVersion := azcore.ETagAny
	if _, err := s.table.UpdateEntity(ctx, data, &aztables.UpdateEntityOptions{IfMatch: &anyVersion, UpdateMode: aztables.UpdateModeMerge}); err != nil {
		return mapError("mark event sent", err)
	}
	return nil
}

// PendingEvent returns the session's event if it was recorded and not yet marked sent.
func (s *Store) PendingEvent(ctx context.Context, sessionID string) (event []byte, found bool, err error) {
	if err := validSessionID(sessionID); err != nil {
		return nil, false, err
	}
	row, _, err := s.getRow(ctx, sessionID, rowEvent)
	if err != nil {
		err = mapError("get event", err)
		if errors.Is(err, liveness.ErrNotFound) {
			return nil, false, nil
		}
		return nil, false, err
	}
	e, err := decodeOutbox(row)
	if err != nil {
		return nil, false, fmt.Errorf("store: get event: %w", err)
	}
	if e.Sent {
		return nil, false, nil
	}
	return []byte(e.Event), true, nil
}

// DiscardSession deletes the row of a session that was never answered: a start whose
// CreateSession could not tell whether it committed (ErrUpstreamUnavailable) deletes the row it
// may have left, so that no session exists that its client was not told about. Only the start
// that chose the id (Face's, new) knows it, so the delete is unconditional. A row already gone is
// not an error.
func (s *Store) DiscardSession(ctx context.Context, id string) error {
	if err := validSessionID(id); err != nil {
		return err
	}
	if _, err := s.table.DeleteEntity(ctx, id, rowSession, nil); err != nil {
		if err = mapError("discard session", err); !errors.Is(err, liveness.ErrNotFound) {
			return err
		}
	}
	return nil
}
