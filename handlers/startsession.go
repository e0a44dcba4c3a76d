package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/quicklink"
)

// inFlightTimeout is how long a reserved Idempotency-Key without a session blocks retries: longer
// than any request can run, so a crashed request does not pin its key for a day.
const inFlightTimeout = 2 * time.Minute

// startSession is StartSession: POST /api/sessions.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	body, err := readBody(r, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	p, err := parseStartRequest(body, s.settings.DefaultMode, s.settings.AllowedReturnOrigins)
	if err != nil {
		return err
	}
	ctx, cancel := detached(r, startBudget)
	defer cancel()
	var sess *liveness.Session
	var link *linkView
	created := true
	if key == "" {
		sess, link, err = s.createSession(ctx, p)
	} else {
		sess, link, created, err = s.startIdempotent(ctx, key, p)
	}
	if err != nil {
		return err
	}
	noteSession(r.Context(), sess.ID) // a replay's too: its line names the session it answers
	w.Header().Set("Location", "/api/sessions/"+sess.ID)
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, startedView{viewOf(sess), link})
	return nil
}

// startedView is StartSession's answer: the session, with its link when this request issued one
// (never on an idempotent replay: a link is shown once).
type startedView struct {
	sessionView
	Link *linkView `json:"link,omitempty"`
}

// startIdempotent creates at most one session per Idempotency-Key and request within the window.
// A replay returns the session as it is now, without its link.
func (s *Server) startIdempotent(ctx context.Context, key string, p *startParams) (*liveness.Session, *linkView, bool, error) {
	sum := sha256.Sum256([]byte(key))
	keyHash := hex.EncodeToString(sum[:])
	for range 3 {
		rec := &liveness.IdempotencyRecord{KeyHash: keyHash, BodyHash: p.Hash, CreatedAt: s.now()}
		existing, err := s.store.ReserveIdempotencyKey(ctx, rec)
		if err == nil {
			sess, link, err := s.createSession(ctx, p)
			if err != nil {
				s.releaseKey(ctx, rec)
				return nil, nil, false, err
			}
			rec.SessionID = sess.ID
			// The two writes are independent (the entry names the key, and deletes the record
			// only once its window is over), so they are made at once.
			var wg sync.WaitGroup
			wg.Go(func() {
				if err := s.fileForgetKey(ctx, rec); err != nil {
					// Answered all the same: the record then stays until the key is used again.
					s.log.WarnContext(ctx, "idempotency key's expiry not indexed", slog.String("sessionId", sess.ID), slog.String("error", err.Error()))
				}
			})
			if err := s.store.CompleteIdempotencyKey(ctx, rec); err != nil {
				// The session exists and is answered; a retry after inFlightTimeout would make a second one.
				s.log.WarnContext(ctx, "idempotency key not completed", slog.String("sessionId", sess.ID), slog.String("error", err.Error()))
			}
			wg.Wait()
			return sess, link, true, nil
		}
		if !errors.Is(err, liveness.ErrAlreadyExists) || existing == nil {
			return nil, nil, false, err
		}
		age := s.now().Sub(existing.CreatedAt)
		switch {
		case age > s.opts.IdempotencyWindow || (existing.SessionID == "" && age > inFlightTimeout):
			if err := s.store.ReleaseIdempotencyKey(ctx, existing); err != nil &&
				!errors.Is(err, liveness.ErrConflict) && !errors.Is(err, liveness.ErrNotFound) {
				return nil, nil, false, err
			}
			continue // the stale reservation is gone (or someone else replaced it): reserve again
		case existing.BodyHash != p.Hash:
			return nil, nil, false, liveness.ErrIdempotencyKeyReused
		case existing.SessionID == "":
			return nil, nil, false, liveness.ErrIdempotencyInFlight
		default:
			noteSession(ctx, existing.SessionID) // the replay's line names it, even if the read fails
			sess, err := s.store.GetSession(ctx, existing.SessionID)
			return sess, nil, false, err
		}
	}
	return nil, nil, false, liveness.ErrIdempotencyInFlight
}

func (s *Server) releaseKey(ctx context.Context, rec *liveness.IdempotencyRecord) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupLimit)
	defer cancel()
	if err := s.store.ReleaseIdempotencyKey(ctx, rec); err != nil && !errors.Is(err, liveness.ErrNotFound) {
		s.log.WarnContext(ctx, "idempotency key not released", slog.String("error", err.Error()))
	}
}

// createSession creates the Face session, records it and indexes its expiry (see record), for
// issueLink with its link (see recordWithLink). When any of it fails the Face session is
// deleted again, so no session exists that the table does not know (nor one the client was not
// told about), and what the table may hold of it is deleted or left inert (see discardRows).
func (s *Server) createSession(ctx context.Context, p *startParams) (*liveness.Session, *linkView, error) {
	deviceID := p.DeviceCorrelationID
	if deviceID == "" {
		deviceID = s.opts.NewID()
	}
	fs, err := s.face.Create(ctx, faceKind(p.Kind), face.CreateRequest{
		Mode:                string(p.Mode),
		DeviceCorrelationID: deviceID,
		AuthTokenTTLSeconds: p.TTLSeconds,
		EnableSessionImage:  p.EnableSessionImage,
		VerifyImage:         p.VerifyImage,
	})
	if err != nil {
		return nil, nil, faceCreateError(err)
	}
	if !liveness.ValidSessionID(fs.ID) || fs.AuthToken == "" {
		return nil, nil, fmt.Errorf("face returned a session without a GUID id or token: %w", liveness.ErrUpstreamUnavailable)
	}
	noteSession(ctx, strings.ToLower(fs.ID)) // a start that fails from here on names its session
	now := s.now()
	sess := &liveness.Session{
		ID:                  strings.ToLower(fs.ID),
		Kind:                p.Kind,
		Mode:                p.Mode,
		Status:              liveness.StatusCreated,
		ExternalReference:   p.ExternalReference,
		DeviceCorrelationID: deviceID,
		ReturnURL:           p.ReturnURL,
		EnableSessionImage:  p.EnableSessionImage,
		TTLSeconds:          p.TTLSeconds,
		CreatedAt:           now,
		ExpiresAt:           now.Add(time.Duration(p.TTLSeconds) * time.Second),
		AuthToken:           fs.AuthToken,
	}
	due := liveness.DueItem{SessionID: sess.ID, Reason: liveness.DueExpire, Due: s.expiryDue(sess)}
	if !p.IssueLink {
		if err := s.record(ctx, sess, due); err != nil {
			return nil, nil, err
		}
		s.log.InfoContext(ctx, "session created", slog.String("sessionId", sess.ID), slog.String("kind", string(sess.Kind)))
		return sess, nil, nil
	}
	link, err := s.recordWithLink(ctx, sess, due, p.QR)
	if err != nil {
		return nil, nil, err
	}
	return sess, link, nil
}

// recordWithLink is record for a start with issueLink: the session is recorded already
// linkIssued, without its Face token, while the quick link service swaps that token for the link
// (the swap beside the insert: two round trips fewer than IssueLink's path after record). The link
// is answered only once the row that knows it as issued and its expiry entry committed, so no
// link is shown that the table does not know; when any part fails, the Face session is deleted
// (which kills a link made meanwhile, never shown) and the rows are discarded as record does.
// Every failure of the quick link service is a 503: the start is undone, and the client may
// simply retry it.
func (s *Server) recordWithLink(ctx context.Context, sess *liveness.Session, due liveness.DueItem, qr qrFormat) (*linkView, error) {
	token, err := sess.IssueLink(s.now())
	if err != nil {
		s.discardFaceSession(ctx, sess)
		return nil, fmt.Errorf("issue a link: %w", err)
	}
	var linkID quicklink.ID
	var linkErr error
	var wg sync.WaitGroup
	wg.Go(func() { linkID, linkErr = s.quickLinks.Create(ctx, token) })
	recErr := s.record(ctx, sess, due)
	wg.Wait()
	if recErr != nil {
		return nil, recErr // record deleted the Face session and its link
	}
	s.log.InfoContext(ctx, "session created", slog.String("sessionId", sess.ID), slog.String("kind", string(sess.Kind)))
	var view *linkView
	if linkErr != nil {
		err = quickLinkError(linkErr)
	} else {
		view, err = s.linkView(sess, linkID, qr)
	}
	if err != nil {
		s.discardFaceSession(ctx, sess)
		s.discardRows(ctx, sess, &due)
		return nil, err
	}
	s.log.InfoContext(ctx, "link issued", slog.String("sessionId", sess.ID))
	return view, nil
}

// record writes the session row, then its expiry entry, and answers only when both committed.
// They are not written at once, though that would save a round trip: the order is what makes a
// failed start whose clean-up also fails harmless. A row left without its entry (the insert
// undecided, its deletion refused) is never picked up by Reconcile, so no event ever names a
// session its client was not told about; written at once, both could be left, and Reconcile
// would expire and announce it. On failure the Face session is deleted, and what may have
// committed is deleted too, best effort (see discardRows).
func (s *Server) record(ctx context.Context, sess *liveness.Session, due liveness.DueItem) error {
	if err := s.store.CreateSession(ctx, sess); err != nil {
		s.discardFaceSession(ctx, sess)
		if errors.Is(err, liveness.ErrUpstreamUnavailable) {
			s.discardRows(ctx, sess, nil) // the insert may have committed unseen
		}
		return fmt.Errorf("record the session: %w", err)
	}
	if err := s.store.AddDue(ctx, due); err != nil {
		s.discardFaceSession(ctx, sess)
		s.discardRows(ctx, sess, &due) // the upsert may have committed unseen
		return fmt.Errorf("index the session: %w", err)
	}
	return nil
}

func (s *Server) discardFaceSession(ctx context.Context, sess *liveness.Session) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupLimit)
	defer cancel()
	if err := s.face.Delete(ctx, faceKind(sess.Kind), sess.ID); err != nil && !face.IsNotFound(err) {
		s.log.ErrorContext(ctx, "face session not deleted after a failed start", slog.String("sessionId", sess.ID), slog.String("error", err.Error()))
	}
}

// discardRows deletes what a failed start may have left in the table, best effort: its session
// row, and its expiry entry when it got that far. A row it cannot delete stays inert when its
// entry is gone (or never written): Reconcile never finishes (or announces) it.
func (s *Server) discardRows(ctx context.Context, sess *liveness.Session, due *liveness.DueItem) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupLimit)
	defer cancel()
	// The row first and whatever becomes of the entry: an entry without its row is dropped by
	// Reconcile, a row without its entry is never acted on; only both left would be.
	if err := s.store.DiscardSession(ctx, sess.ID); err != nil {
		s.log.WarnContext(ctx, "session row of a failed start not deleted", slog.String("sessionId", sess.ID), slog.String("error", err.Error()))
	}
	if due == nil {
		return
	}
	if err := s.store.DeleteDue(ctx, *due); err != nil {
		s.log.WarnContext(ctx, "expiry entry of a failed start not deleted", slog.String("sessionId", sess.ID), slog.String("error", err.Error()))
	}
}

func faceKind(k liveness.Kind) face.Kind {
	if k == liveness.KindLivenessWithVerify {
		return face.KindLivenessWithVerify
	}
	return face.KindLiveness
}
