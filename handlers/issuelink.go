package handlers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/qrcode"
	"github.com/liveness-quicklink/functions/internal/quicklink"
)

// maxLinkBodyBytes caps the IssueLink body, whose one field takes a few bytes.
const maxLinkBodyBytes = 1 << 10

// linkBudget bounds an IssueLink once it has started: it may swap the token, which must then be
// recorded even when the client hangs up (see detached).
const linkBudget = 60 * time.Second

// qrFormat is the QR code a caller asks for with the link: none, "svg" or "png".
type qrFormat string

const (
	qrNone qrFormat = ""
	qrSVG  qrFormat = "svg"
	qrPNG  qrFormat = "png"
)

// parseQR checks the `qr` field of IssueLink and StartSession; nil (absent) is qrNone.
func parseQR(v *string) (qrFormat, error) {
	if v == nil {
		return qrNone, nil
	}
	switch f := qrFormat(*v); f {
	case qrSVG, qrPNG:
		return f, nil
	}
	return qrNone, liveness.Invalid("qr", "must be svg or png")
}

// linkRequest is the IssueLink body as sent; the body is optional.
type linkRequest struct {
	QR *string `json:"qr"`
}

// parseLinkRequest reads an IssueLink body (nil or empty: none) as decodeObject does and returns
// the QR code it asks for; any error is liveness.ErrInvalidRequest.
func parseLinkRequest(body []byte) (qrFormat, error) {
	var req linkRequest
	if err := decodeObject(body, &req); err != nil {
		return qrNone, err
	}
	return parseQR(req.QR)
}

// linkView is the IssueLink answer, and StartSession's `link`. URL is the quick link itself, a
// bearer secret handed to the caller this once: it is never stored or logged.
type linkView struct {
	URL       string `json:"url"`
	ExpiresAt string `json:"expiresAt"`
	QRSVG     string `json:"qrSvg,omitempty"` // SVG markup
	QRPNG     string `json:"qrPng,omitempty"` // standard base64 of the PNG
}

// issueLink is IssueLink: POST /api/sessions/{sessionId}/link. A session gets one link: a second
// call is 409 link_already_issued, whoever asked first (the link cannot be shown twice).
func (s *Server) issueLink(w http.ResponseWriter, r *http.Request) error {
	id, err := sessionIDFrom(r)
	if err != nil {
		return err
	}
	body, err := readBody(r, min(s.opts.MaxBodyBytes, maxLinkBodyBytes))
	if err != nil {
		return err
	}
	qr, err := parseLinkRequest(body)
	if err != nil {
		return err
	}
	ctx, cancel := detached(r, linkBudget)
	defer cancel()
	// Requests for one session on this instance take turns: the first swaps the token, the others
	// then read linkIssued and answer 409 without calling the quick link service. Across
	// instances the conditional write and the re-read in issue decide instead.
	unlock := s.linkTurns.take(id)
	defer unlock()
	sess, err := s.store.GetSession(ctx, id)
	if err != nil {
		return err
	}
	link, err := s.issue(ctx, sess, qr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, link)
	return nil
}

// issue gives sess its one quick link, the one path of IssueLink and StartSession's issueLink:
// the domain hands over the Face token (linkIssued, linkIssuedAt), the quick link service swaps it
// for the link's id, and one conditional write records linkIssued without the token. Only then
// is the link answered, so no link exists that the table does not know as issued; a link whose
// write lost a race is never shown. The QR code is drawn before the write, so a recorded link
// is always answered.
//
// Errors: liveness.ErrLinkAlreadyIssued or ErrSessionFinalized from the domain (also when
// another request recorded its link first); liveness.ErrLinkUnavailable when the service refused
// the token, now or before (see quickLinkFailed); ErrUpstreamUnavailable (503) when the quick
// link service fails otherwise; the store's errors for the write; liveness.ErrConflict when the
// session kept changing.
func (s *Server) issue(ctx context.Context, sess *liveness.Session, qr qrFormat) (*linkView, error) {
	token, err := sess.IssueLink(s.now())
	if err != nil {
		return nil, fmt.Errorf("issue a link: %w", err)
	}
	linkID, err := s.quickLinks.Create(ctx, token)
	if err != nil {
		return nil, s.quickLinkFailed(ctx, sess.ID, err)
	}
	view, err := s.linkView(sess, linkID, qr)
	if err == nil {
		err = s.recordLink(ctx, sess, token)
	}
	if err != nil {
		if !errors.Is(err, liveness.ErrLinkAlreadyIssued) && !errors.Is(err, liveness.ErrSessionFinalized) {
			// The service spent the token on a link nobody will see: drop it now rather than
			// keep a dead secret until the next IssueLink hears the service refuse it.
			// A write that failed unseen may have recorded the link after all (ErrLinkAlreadyIssued).
			serr := s.spendToken(ctx, sess.ID)
			if serr != nil && !errors.Is(serr, liveness.ErrLinkUnavailable) && !errors.Is(serr, liveness.ErrLinkAlreadyIssued) && !errors.Is(serr, liveness.ErrSessionFinalized) {
				s.log.WarnContext(ctx, "spent Face token not dropped", slog.String("sessionId", sess.ID), slog.String("error", serr.Error()))
			}
		}
		return nil, err
	}
	s.log.InfoContext(ctx, "link issued", slog.String("sessionId", sess.ID))
	return view, nil
}

// recordLink writes sess, which IssueLink moved to linkIssued handing over token, on the version
// it was read at, or, when someone else changed the session meanwhile, on the new version, unless
// that change was another link or the end of the session (the domain's error then drops this link
// unseen).
func (s *Server) recordLink(ctx context.Context, sess *liveness.Session, token string) error {
	for range 3 {
		err := s.store.UpdateSession(ctx, sess)
		if !errors.Is(err, liveness.ErrConflict) {
			if err != nil {
				return fmt.Errorf("record the link: %w", err)
			}
			return nil
		}
		fresh, err := s.store.GetSession(ctx, sess.ID)
		if err != nil {
			return fmt.Errorf("record the link: %w", err)
		}
		// The token may have been dropped meanwhile by a request whose swap the service refused
		// because this one had spent it: the link is still this one's to record.
		if fresh.AuthToken != "" && fresh.AuthToken != token {
			return errors.New("record the link: the stored Face token changed while the link was issued")
		}
		if err := fresh.LinkSwapped(sess.LinkIssuedAt); err != nil {
			return fmt.Errorf("record the link: %w", err)
		}
		*sess = *fresh
	}
	return fmt.Errorf("record the link: %w", liveness.ErrConflict)
}

// linkView composes sess's link from the quick link id and a callback URL signed for the whole
// time the session can still finish (its expiry plus the grace Reconcile gives it), and draws the
// QR code asked for.
func (s *Server) linkView(sess *liveness.Session, id quicklink.ID, qr qrFormat) (*linkView, error) {
	base, err := url.Parse(s.settings.PublicBaseURL)
	if err != nil {
		return nil, fmt.Errorf("compose the link: PUBLIC_BASE_URL: %w", err)
	}
	callback := s.settings.Callbacks.URL(base, sess.ID, s.expiryDue(sess))
	link := quicklink.Compose(s.settings.QuickLinkEndpoint, id, callback).Reveal()
	v := &linkView{URL: link, ExpiresAt: timestamp(sess.ExpiresAt)}
	switch qr {
	case qrSVG:
		v.QRSVG, err = qrcode.SVG(link)
	case qrPNG:
		var img []byte
		img, err = qrcode.PNG(link)
		v.QRPNG = base64.StdEncoding.EncodeToString(img)
	}
	if err != nil {
		return nil, fmt.Errorf("draw the QR code: %w", err)
	}
	return v, nil
}

// linkTurns makes IssueLink requests for one session on this instance take turns. A fixed set of
// locks, picked by the session id's hash, needs no cleanup; sessions that share a lock only wait
// for each other's few calls.
type linkTurns [64]sync.Mutex

// take locks id's turn and returns its unlock.
func (t *linkTurns) take(id string) (unlock func()) {
	h := fnv.New32a()
	h.Write([]byte(id))
	m := &t[h.Sum32()%uint32(len(t))]
	m.Lock()
	return m.Unlock
}
