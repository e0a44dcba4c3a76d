package quicklinkstub

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// The outcomes the capture page offers, in the form field "outcome".
const (
	OutcomeRealFace  = "realface"
	OutcomeSpoofFace = "spoofface"
	OutcomeUncertain = "uncertain"
	OutcomeError     = "error"   // a Failed attempt with error code FaceWithMaskDetected
	OutcomeAbandon   = "abandon" // no attempt: the user walked away
)

// attemptFor is what each outcome records in the Face session; abandon records nothing (record
// false); valid is false for anything else.
func attemptFor(outcome string) (a facestub.Attempt, record, valid bool) {
	switch outcome {
	case OutcomeRealFace, OutcomeSpoofFace, OutcomeUncertain:
		return facestub.Attempt{Status: facestub.StatusSucceeded, Decision: outcome}, true, true
	case OutcomeError:
		return facestub.Attempt{Status: facestub.StatusFailed, ErrorCode: "FaceWithMaskDetected",
			ErrorMessage: "Mask detected on face image."}, true, true
	case OutcomeAbandon:
		return facestub.Attempt{}, false, true
	}
	return facestub.Attempt{}, false, false
}

// errLinkGone covers an unknown link id, a used link and a link whose Face session is gone: the
// real service's answers are undocumented, and one page for all of them tells a holder nothing.
var errLinkGone = errors.New("link already used")

// page answers GET /?s=<id>&callbackUrl=<url>: the capture page (200), 410 for a link that is
// unknown, used or whose Face session is gone, 400 for a missing or repeated s, a callbackUrl that
// is not an absolute http(s) URL, or one other than the link was first opened with.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q["s"]) != 1 || len(q["callbackUrl"]) > 1 {
		writeMessage(w, http.StatusBadRequest, "Bad link",
			"The link needs exactly one s parameter and at most one callbackUrl.")
		return
	}
	id := q.Get("s")
	var callback string
	if cbs := q["callbackUrl"]; len(cbs) == 1 {
		callback = cbs[0]
		if err := checkCallbackURL(callback); err != nil {
			writeMessage(w, http.StatusBadRequest, "Bad callbackUrl", err.Error())
			return
		}
	}
	l, err := s.open(id, callback)
	switch {
	case errors.Is(err, errLinkGone):
		writeGone(w)
		return
	case err != nil:
		writeMessage(w, http.StatusBadRequest, "Bad callbackUrl", err.Error())
		return
	}
	render(w, http.StatusOK, "capture", capturePage{Action: "/capture/" + url.PathEscape(id), Kind: kindLabel(l.kind)})
}

// open returns a copy of the live, unused link id, binding callback to it on its first sight.
func (s *Server) open(id, callback string) (link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.liveLocked(id)
	if err != nil {
		return link{}, err
	}
	switch {
	case callback == "" || l.callbackURL == callback:
	case l.callbackURL == "":
		l.callbackURL = callback
	default:
		return link{}, errors.New("this link was opened with another callbackUrl")
	}
	return *l, nil
}

// liveLocked returns the link id if it exists, is unused and its Face session still exists.
func (s *Server) liveLocked(id string) (*link, error) {
	l := s.links[id]
	if l == nil || l.used {
		return nil, errLinkGone
	}
	if _, ok := s.face.SessionKind(l.sessionID); !ok {
		return nil, errLinkGone
	}
	return l, nil
}

// capture answers POST /capture/{s} with form field outcome: it uses the link up, records the
// outcome's attempt in the Face session and returns the browser to the link's callbackUrl per the
// settings (or a "done" page when the link was opened without one). 400 for a missing, repeated or
// unknown outcome (the link stays usable); 410 for a link that is unknown, used or whose Face
// session is gone, recording nothing.
func (s *Server) capture(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	var outcome string
	if err := r.ParseForm(); err == nil && len(r.PostForm["outcome"]) == 1 {
		outcome = r.PostForm.Get("outcome")
	}
	attempt, record, valid := attemptFor(outcome)
	if !valid {
		writeMessage(w, http.StatusBadRequest, "Bad outcome",
			"The form needs one outcome: realface, spoofface, uncertain, error or abandon.")
		return
	}
	l, err := s.use(r.PathValue("s"))
	if err != nil {
		writeGone(w)
		return
	}
	if record {
		if err := s.face.AddAttempt(l.sessionID, attempt); errors.Is(err, facestub.ErrSessionNotFound) {
			writeGone(w) // deleted between the check and the write
			return
		} else if err != nil {
			writeMessage(w, http.StatusInternalServerError, "Not recorded", "The attempt was not recorded.")
			return
		}
	}
	if l.callbackURL == "" {
		writeMessage(w, http.StatusOK, "Done", "The capture is recorded. You can close this window.")
		return
	}
	st := s.Settings()
	var params [][2]string
	if st.AppendParams {
		params = [][2]string{{"sessionId", l.sessionID}, {"result", outcome},
			{"timestamp", strconv.FormatInt(s.opts.Now().Unix(), 10)}}
	}
	if st.ReturnMode == ReturnPost {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
		render(w, http.StatusOK, "return", returnPage{Action: l.callbackURL, Params: params})
		return
	}
	w.Header().Set("Location", withParams(l.callbackURL, params))
	w.WriteHeader(http.StatusSeeOther)
}

// use marks the live link id used and returns a copy; the check and the mark are one step, so
// of many concurrent captures exactly one goes on to record.
func (s *Server) use(id string) (link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.liveLocked(id)
	if err != nil {
		return link{}, err
	}
	l.used = true
	return *l, nil
}

// checkCallbackURL accepts only an absolute http(s) URL without user info, written in URL
// characters only (RFC 3986 reserved and unreserved ones and %): anything else could be sent on
// changed (a browser re-encodes the rest) or make the stand-in an open redirect to javascript: etc.
func checkCallbackURL(raw string) error {
	for i := 0; i < len(raw); i++ {
		if !urlByte(raw[i]) {
			return fmt.Errorf("callbackUrl has a character that must be percent-encoded at byte %d", i)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("callbackUrl is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "" || u.User != nil {
		return errors.New("callbackUrl must be an absolute http or https URL without user info")
	}
	return nil
}

func urlByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", b) >= 0
}

// withParams appends params to callback's query, before any fragment, leaving every byte of
// callback as it was.
func withParams(callback string, params [][2]string) string {
	if len(params) == 0 {
		return callback
	}
	base, fragment, hasFragment := strings.Cut(callback, "#")
	var b strings.Builder
	b.WriteString(base)
	switch {
	case !strings.Contains(base, "?"):
		b.WriteByte('?')
	case !strings.HasSuffix(base, "?") && !strings.HasSuffix(base, "&"):
		b.WriteByte('&')
	}
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p[0]) + "=" + url.QueryEscape(p[1]))
	}
	if hasFragment {
		b.WriteString("#" + fragment)
	}
	return b.String()
}

func kindLabel(kind string) string {
	if kind == facestub.KindLivenessWithVerify {
		return "Liveness with verify session"
	}
	return "Liveness session"
}

func writeGone(w http.ResponseWriter) {
	writeMessage(w, http.StatusGone, "Link already used",
		"Quick link already used, expired or unknown: a link works once. Start again from the app.")
}
