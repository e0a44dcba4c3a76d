// Package callbackurl builds and checks the signed callback URLs of design §3 ("Callback"):
//
//	{PUBLIC_BASE_URL}/api/callback/{sessionId}?exp=<unix seconds>&sig=<base64url HMAC-SHA256>
//
// The quick link service sends the user's browser to this URL after the capture, and anyone who
// holds the link can follow it, so the Callback route acts only on a URL this app signed, for that
// session, that has not expired. The signature is HMAC-SHA256 (RFC 2104, FIPS 198-1) keyed with
// CALLBACK_SIGNING_KEYS (design §7): the first key signs, every key verifies, so a new key is put
// first without breaking the links already in flight, and a key removed from the list stops
// verifying at once.
//
// The functions are pure: no I/O, no clock (the caller passes "now"), no globals.
package callbackurl

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Query parameter names of the callback URL (design §3).
const (
	ParamExp = "exp"
	ParamSig = "sig"
)

// RoutePrefix is the path of the Callback route below PUBLIC_BASE_URL, up to the session id
// (design §3: `GET, POST, HEAD /api/callback/{sessionId}`).
const RoutePrefix = "/api/callback/"

// MinKeyBytes is the shortest key NewSigner accepts: HMAC-SHA256 wants a key of at least its
// output size (RFC 2104 §3), and internal/config refuses shorter CALLBACK_SIGNING_KEYS entries too.
const MinKeyBytes = 32

// sigLen is the length of a signature in the URL: 32 bytes of HMAC-SHA256 as base64url without
// padding (RFC 4648 §5), ceil(32*8/6) = 43 characters.
var sigLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// sigEncoding decodes sig strictly: a final character with non-zero padding bits is refused, so
// each signature has exactly one spelling in a URL that verifies.
var sigEncoding = base64.RawURLEncoding.Strict()

// domain separates these MACs from any other use of the same key; "v1" names the message layout
// below, so a later layout can never be confused with this one.
const domain = "liveness-quicklink/callback/v1\x00"

// ErrInvalidSignature is the one error kind of Verify: every refusal wraps it (errors.Is), with a
// short reason for the log (e.g. "sig missing", "expired", "no key matches"). Neither the
// signature, the key nor the query's values ever appear in the message. The Callback route maps it
// to 401 invalid_signature.
var ErrInvalidSignature = errors.New("invalid callback signature")

// Signer signs and verifies callback URLs with a fixed list of keys. It is safe for concurrent
// use. It prints (fmt, log/slog) as a key count only; hold it by pointer, since fmt prints the
// unexported fields of a struct that embeds a Signer value without asking the Signer.
type Signer struct {
	keys [][]byte // keys[0] signs; all verify. Copies: the caller's slices may change.
}

// NewSigner returns a Signer for keys, the decoded CALLBACK_SIGNING_KEYS in their configured order
// (config.Config.CallbackSigningKeys). It fails when there is no key or a key is shorter than
// MinKeyBytes; the error names the key by position (1-based), never by value.
func NewSigner(keys [][]byte) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("callbackurl: no signing key")
	}
	s := &Signer{keys: make([][]byte, len(keys))}
	for i, k := range keys {
		if len(k) < MinKeyBytes {
			return nil, fmt.Errorf("callbackurl: signing key %d is shorter than %d bytes", i+1, MinKeyBytes)
		}
		s.keys[i] = append([]byte(nil), k...)
	}
	return s, nil
}

// URL returns the signed callback URL for sessionID, valid until exp:
// base + "/api/callback/" + path-escaped sessionID + "?exp=<exp as unix seconds>&sig=<43 chars>".
//
// base is PUBLIC_BASE_URL (config.Config.PublicBaseURL): its scheme, host and optional path prefix
// are kept (a trailing slash dropped); anything else in it is ignored. exp is the session's expiry plus the grace
// period after which Reconcile expires it (design §4 "expired"), so the link works for as long as
// the session can still finish; it is truncated to whole seconds (a time at or before the Unix
// epoch gives a URL that never verifies). sessionID is a Face session id
// (a GUID); any other non-empty path segment is escaped so that the route's {sessionId} decodes to
// it, except "." and "..", which HTTP path cleaning removes.
func (s *Signer) URL(base *url.URL, sessionID string, exp time.Time) string {
	e := exp.Unix()
	// EscapedPath keeps the base's own escaping; the id is escaped as one segment ("/" too).
	// Parameters in a fixed order, exp then sig, as design §3 writes them.
	return base.Scheme + "://" + base.Host +
		strings.TrimRight(base.EscapedPath(), "/") + RoutePrefix + url.PathEscape(sessionID) +
		"?" + ParamExp + "=" + strconv.FormatInt(e, 10) +
		"&" + ParamSig + "=" + sigEncoding.EncodeToString(mac(s.keys[0], sessionID, e))
}

// Verify checks the exp and sig parameters of a callback's query for sessionID (the route's
// decoded {sessionId}) at time now. It returns nil only when exp and sig each appear exactly once,
// exp is a canonical positive decimal (no sign, no leading zero, fits int64), sig is 43 characters
// of base64url without padding, sig is the MAC of (sessionID, exp) under one of the keys, and now
// is before exp (to the second). Every other case returns an error wrapping ErrInvalidSignature.
// Other query parameters (the quick link service may append some) are ignored.
//
// query is the request's parsed query (r.URL.Query()); a repeated parameter is refused, not
// resolved, so a scanner or proxy cannot choose which of two signatures is checked.
func (s *Signer) Verify(sessionID string, query url.Values, now time.Time) error {
	rawExp, err := single(query, ParamExp)
	if err != nil {
		return err
	}
	rawSig, err := single(query, ParamSig)
	if err != nil {
		return err
	}
	exp, ok := parseExp(rawExp)
	if !ok {
		return invalid("exp malformed")
	}
	if len(rawSig) != sigLen {
		return invalid("sig has the wrong length")
	}
	sig, err := sigEncoding.DecodeString(rawSig)
	if err != nil || len(sig) != sha256.Size {
		return invalid("sig is not base64url")
	}
	// Every key is tried (the loop does not stop early) so the time taken does not tell which key
	// matched; hmac.Equal compares in constant time.
	matched := false
	for _, k := range s.keys {
		if hmac.Equal(sig, mac(k, sessionID, exp)) {
			matched = true
		}
	}
	if !matched {
		return invalid("no key matches")
	}
	// Checked after the MAC, so "expired" in a log always means a genuine link that ran out.
	if !now.Before(time.Unix(exp, 0)) {
		return invalid("expired")
	}
	return nil
}

// String reports the number of keys only.
func (s Signer) String() string { return fmt.Sprintf("callbackurl.Signer{keys: %d}", len(s.keys)) }

// Format prints String for every verb (%v, %+v, %#v, %x, %d, …), so no verb reaches the keys.
func (s Signer) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue reports the number of keys only.
func (s Signer) LogValue() slog.Value { return slog.GroupValue(slog.Int("keys", len(s.keys))) }

// mac is HMAC-SHA256(key, message) with
//
//	message = domain || uint64be(len(sessionID)) || sessionID || int64be(exp)
//
// The id is length-prefixed and exp has a fixed width, so the message is an injective function of
// (sessionID, exp): no two pairs share a message, hence no signature. (A plain "id|exp" or "id"+exp
// would let ("s1", 23) and ("s12", 3) collide, and a delimiter needs the id never to contain it.)
func mac(key []byte, sessionID string, exp int64) []byte {
	h := hmac.New(sha256.New, key)
	var n [8]byte
	h.Write([]byte(domain))
	binary.BigEndian.PutUint64(n[:], uint64(len(sessionID)))
	h.Write(n[:])
	h.Write([]byte(sessionID))
	binary.BigEndian.PutUint64(n[:], uint64(exp))
	h.Write(n[:])
	return h.Sum(nil)
}

// single returns the one value of name in q, refusing none and more than one.
func single(q url.Values, name string) (string, error) {
	switch v := q[name]; len(v) {
	case 0:
		return "", invalid(name + " missing")
	case 1:
		return v[0], nil
	default:
		return "", invalid(name + " repeated")
	}
}

// parseExp accepts only the spelling URL writes (strconv.FormatInt of a positive value), so one
// exp has one spelling: "0123", "+123" and "1e3" are refused rather than read as 123 or 1000.
func parseExp(raw string) (int64, bool) {
	if raw == "" || raw[0] < '1' || raw[0] > '9' {
		return 0, false
	}
	for i := 1; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	return n, err == nil
}

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidSignature, reason) }
