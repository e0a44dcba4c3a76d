package handlers

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// Bounds of one callback's work once its signature verified.
const (
	// callbackBudget bounds the work after the signature check, detached from the browser: a
	// user who closes the tab must not cut a finish between its commit and its announcement.
	callbackBudget = 30 * time.Second
	// callbackDecisions bounds how often a callback reads and decides again after another writer
	// moved the session (a racing callback, Reconcile, CancelSession).
	callbackDecisions = 3
	// callbackPollInterval is the pause between two reads of a Face session that is Running.
	callbackPollInterval = 500 * time.Millisecond
	// defaultCallbackPoll is Options.CallbackPoll's default: a few seconds at most (design §3).
	defaultCallbackPoll = 3 * time.Second
)

// callbackRoute is Callback, with its errors answered as a small HTML page to a browser and as
// problem+json to anything else (a POST from a back end). It reads no body and no query parameter
// but exp and sig, so checkedInput's refusal of a malformed query does not apply: parameters the
// quick link service may append are ignored, whatever their spelling.
func (s *Server) callbackRoute() http.Handler {
	html, plain := s.returningAs(writeProblemHTML, s.orStarting(s.callback)), s.returning(s.orStarting(s.callback))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fromBrowser(r) {
			html.ServeHTTP(w, r)
			return
		}
		plain.ServeHTTP(w, r)
	})
}

// callback is Callback: GET, POST and HEAD /api/callback/{sessionId}?exp=&sig=, the quick link
// return (design §3). The signature is checked before anything else, and a HEAD (link scanners)
// stops there. A valid call is only a signal: the outcome comes from Face (settleReturn), and the
// browser is sent on to the session's stored returnUrl, the only target there is.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("sessionId")
	if err := s.verifyCallback(id, r.URL.Query()); err != nil {
		return err
	}
	// Only ids this app signed verify, and it signs Face session ids (GUIDs); the check keeps the
	// store's key rule in one place all the same.
	if !liveness.ValidSessionID(id) {
		return fmt.Errorf("callback: a signed id is not a session id: %w", liveness.ErrInvalidSignature)
	}
	noteSession(r.Context(), id)
	if r.Method == http.MethodHead {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	ctx, cancel := detached(r, callbackBudget)
	defer cancel()
	sess, err := s.settleReturn(ctx, id)
	if err != nil {
		return err
	}
	if r.Method == http.MethodPost && !fromBrowser(r) {
		writeJSON(w, http.StatusOK, callbackAnswer{SessionID: sess.ID, Status: sess.Status})
		return nil
	}
	if sess.ReturnURL == "" {
		writeHTML(w, http.StatusOK, "You can close this window", "You can close this window and go back to the app.")
		return nil
	}
	target, err := returnTarget(sess)
	if err != nil {
		return err
	}
	w.Header().Set("Location", target)
	w.Header().Set("Cache-Control", "no-store")
	// The callback's own URL holds its signature: the next page must not learn it as Referer.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// callbackAnswer is the JSON answer to a POST that is not a browser's.
type callbackAnswer struct {
	SessionID string          `json:"sessionId"`
	Status    liveness.Status `json:"status"`
}

// verifyCallback checks exp and sig for id (the route's value, as sent). Every refusal is
// ErrInvalidSignature, with Verify's reason for the log; the query itself never reaches an error.
func (s *Server) verifyCallback(id string, q url.Values) error {
	if s.settings.Callbacks == nil {
		return fmt.Errorf("callback: no signing keys configured: %w", liveness.ErrInvalidSignature)
	}
	// Every refusal of Verify is callbackurl.ErrInvalidSignature; its reason goes to the log.
	if err := s.settings.Callbacks.Verify(id, q, s.now()); err != nil {
		return fmt.Errorf("callback: %w (%v)", liveness.ErrInvalidSignature, err)
	}
	return nil
}

// settleReturn decides what the user's return means for the session and records it: the outcome
// of a finished attempt through the shared finish path, else the return itself. A session already
// final is answered as it is, without asking Face. When another writer moves the session meanwhile
// it reads and decides again, at most callbackDecisions times (then ErrConflict). Repeating it is
// safe: the first finish or return wins, and every later call finds it.
func (s *Server) settleReturn(ctx context.Context, id string) (*liveness.Session, error) {
	for range callbackDecisions {
		sess, err := s.store.GetSession(ctx, id)
		if err != nil {
			return nil, err
		}
		if sess.Status.Final() {
			return sess, nil
		}
		fs, err := s.sharedPoll(ctx, sess)
		if err != nil {
			return nil, err
		}
		if fs == nil {
			sess.FaceDeleted = true // gone at Face: no attempt can finish any more, nothing to revoke
		} else if status, outcome, ok := outcomeOf(fs); ok {
			_, err := s.finish(ctx, sess, status, outcome)
			switch {
			case errors.Is(err, liveness.ErrConflict), errors.Is(err, liveness.ErrSessionFinalized):
				continue
			case err != nil:
				return nil, err
			}
			// A revocation left undone is Reconcile's (the announce entry): the outcome is recorded.
			return sess, nil
		}
		if !sess.ReturnedAt.IsZero() {
			return sess, nil // the first return counts, and its abandon entry was filed with it
		}
		err = s.recordReturn(ctx, sess)
		if errors.Is(err, liveness.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return sess, nil
	}
	return nil, fmt.Errorf("callback: the session kept changing: %w", liveness.ErrConflict)
}

// recordReturn writes the session's first return and files the abandon entry that finishes it
// ABANDON_AFTER_SECONDS later. The entry goes first: filed without its return (the write then
// fails, or the process dies between the two), Reconcile finds no recorded return and drops it,
// and a later callback files its own. Written the other way round, a crash between the two would
// leave a return that no entry ever abandons (the session would wait for its expiry instead), and
// no repeated callback would file one, since the first return counts.
func (s *Server) recordReturn(ctx context.Context, sess *liveness.Session) error {
	if err := sess.Returned(s.now()); err != nil {
		return err
	}
	due := liveness.DueItem{SessionID: sess.ID, Reason: liveness.DueAbandon, Due: s.abandonDue(sess)}
	if err := s.store.AddDue(ctx, due); err != nil {
		return fmt.Errorf("callback: file the abandon entry: %w", err)
	}
	if err := s.store.UpdateSession(ctx, sess); err != nil {
		return fmt.Errorf("callback: record the return: %w", err)
	}
	return nil
}

// abandonDue is when Reconcile may record a returned session abandoned: ABANDON_AFTER_SECONDS
// after the user first came back.
func (s *Server) abandonDue(sess *liveness.Session) time.Time {
	return sess.ReturnedAt.Add(s.settings.AbandonAfter)
}

// sharedPoll is pollFace, shared by the callbacks of one session that arrive while it runs: a
// callback is anonymous (its link is all it needs), so a burst of them, or clients that hang up and
// call again, must not multiply the reads of the Face resource every user shares. Callers wait on
// ctx, their detached context: a browser that left still has its return (or outcome) recorded.
func (s *Server) sharedPoll(ctx context.Context, sess *liveness.Session) (*face.Session, error) {
	ch := s.polls.DoChan(sess.ID, func() (any, error) {
		pollCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.CallbackPoll+callbackPollInterval)
		defer cancel()
		return s.pollFace(pollCtx, sess)
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("callback: reading the Face session: %w", ctx.Err())
	case res := <-ch:
		fs, _ := res.Val.(*face.Session)
		return fs, res.Err
	}
}

// pollFace reads the Face session, again every callbackPollInterval while it is Running, for at
// most Options.CallbackPoll of wall time (what the browser waits): the user may be back a moment
// before Face has the result. It returns the last read, or nil when the Face session is gone.
func (s *Server) pollFace(ctx context.Context, sess *liveness.Session) (*face.Session, error) {
	deadline := time.Now().Add(s.opts.CallbackPoll)
	for {
		fs, err := s.face.Get(ctx, faceKind(sess.Kind), sess.ID)
		if face.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, faceError("read the Face session", err)
		}
		left := time.Until(deadline)
		if !strings.EqualFold(fs.Status, "Running") || left <= 0 {
			return fs, nil
		}
		t := time.NewTimer(min(callbackPollInterval, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return fs, nil
		case <-t.C:
		}
	}
}

// returnTarget is the session's stored returnUrl with sessionId and status set in its query.
// The rest of its query is kept as stored, in order (parsing and encoding it again would drop pairs
// it cannot parse and reorder the rest), with only bytes a header must not carry raw (non-ASCII,
// controls, space) percent-encoded; pairs whose key is sessionId or status in any case give way.
// Nothing of the callback's request reaches it.
func returnTarget(sess *liveness.Session) (string, error) {
	u, err := url.Parse(sess.ReturnURL)
	if err != nil {
		return "", fmt.Errorf("callback: the stored returnUrl does not parse: %w", err)
	}
	var kept []string
	if u.RawQuery != "" {
		for pair := range strings.SplitSeq(u.RawQuery, "&") {
			key, _, _ := strings.Cut(pair, "=")
			if k, err := url.QueryUnescape(key); err == nil && (strings.EqualFold(k, "sessionId") || strings.EqualFold(k, "status")) {
				continue
			}
			kept = append(kept, escapeRaw(pair))
		}
	}
	kept = append(kept, "sessionId="+url.QueryEscape(sess.ID), "status="+url.QueryEscape(string(sess.Status)))
	u.RawQuery, u.ForceQuery = strings.Join(kept, "&"), false
	return u.String(), nil
}

// escapeRaw percent-encodes the bytes of s that may not stand raw in a URL in a header: bytes
// from 0x80 (UTF-8), controls and space. Everything else, escapes included, stays as it is.
func escapeRaw(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c <= ' ' || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// fromBrowser reports whether a request comes from a browser, which gets pages rather than JSON:
// a form post, or anything that accepts text/html (every navigation does).
func fromBrowser(r *http.Request) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil &&
		(mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data") {
		return true
	}
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
				return true
			}
		}
	}
	return false
}
