package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// singleHeader returns the one value of a header that means one thing: ok is false when it is
// absent. Two lines of it are ambiguous (net/http's Get would silently take the first) and a value
// that is not UTF-8 is not text; both are invalid requests. The value is never echoed: a client's
// header may hold anything.
func singleHeader(r *http.Request, name string) (value string, ok bool, err error) {
	values := r.Header.Values(name)
	switch {
	case len(values) == 0:
		return "", false, nil
	case len(values) > 1:
		return "", false, liveness.Invalid(name, fmt.Sprintf("must be sent once, not %d times", len(values)))
	case !utf8.ValidString(values[0]):
		return "", false, liveness.Invalid(name, "must be valid UTF-8")
	}
	return values[0], true, nil
}

// hasControl reports whether s holds a character that can hide or reorder text in a log line, an
// event or a page: a C0 or C1 control, DEL, or a bidirectional formatting character (the
// embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069, the marks U+200E, U+200F and
// U+061C; Unicode UAX #9).
func hasControl(s string) bool { return strings.ContainsFunc(s, isControl) }

func isControl(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// controlInvalid is the answer for a field value that hasControl: it names the first such
// character by its code point (never the character itself, which would reach the answer), and a
// line break as such, since base64 wrapped at 76 columns is the common way to meet it.
func controlInvalid(field, v string) error {
	i := strings.IndexFunc(v, isControl)
	r, _ := utf8.DecodeRuneInString(v[i:])
	what := fmt.Sprintf("U+%04X", r)
	if r == '\n' || r == '\r' {
		what = "a line break, " + what
	}
	return liveness.Invalid(field, "must not contain control or bidirectional formatting characters (found "+what+")")
}

// checkJSONValue holds one member's value (raw JSON, already well-formed) to what api/openapi.yaml
// says of every field: nothing is nullable, so null is not "absent"; every string, at any depth,
// is Unicode text without control or bidirectional formatting characters.
func checkJSONValue(field string, raw json.RawMessage) error {
	if hasLoneSurrogate(raw) {
		// encoding/json would decode it to U+FFFD, as it does invalid UTF-8.
		return liveness.Invalid(field, "must be valid Unicode (it escapes half of a surrogate pair)")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return describeJSONError(field, err)
		}
		switch v := tok.(type) {
		case nil:
			return liveness.Invalid(field, "must not be null (leave the field out to get its default)")
		case string:
			if hasControl(v) {
				return controlInvalid(field, v)
			}
		}
	}
}

// hasLoneSurrogate reports whether a JSON text escapes a UTF-16 surrogate (\uD800–\uDFFF) that is
// not the high-then-low pair of one character. It reads only string literals and trusts the
// caller to reject malformed JSON.
func hasLoneSurrogate(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch {
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(raw) && raw[i+1] == 'u':
			r, ok := hex4(raw[i+2:])
			switch {
			case !ok:
				return false // malformed: the decoder reports it
			case r >= 0xdc00 && r <= 0xdfff:
				return true // a low half first
			case r >= 0xd800 && r <= 0xdbff:
				if len(raw) < i+12 || raw[i+6] != '\\' || raw[i+7] != 'u' {
					return true
				}
				if low, ok := hex4(raw[i+8:]); !ok || low < 0xdc00 || low > 0xdfff {
					return true
				}
				i += 6 // the low half
			}
			i += 5
		case c == '\\':
			i++ // the escaped character, which may be a quote
		}
	}
	return false
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		d, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// checkedInput refuses, before h reads anything, a request whose path or query is not UTF-8 text
// (net/http decodes percent-escapes to any bytes): the same request would otherwise exist in two
// spellings once a replacement character stands in. Query values are never echoed: the host
// forwards the function key in ?code=.
func checkedInput(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !utf8.ValidString(r.URL.Path) {
			return liveness.Invalid("path", "must be valid UTF-8")
		}
		// Each component decoded on its own: url.ParseQuery would also refuse a ";", which is the
		// client's business (the app reads no query parameter; the host may add ?code=).
		for part := range strings.SplitSeq(r.URL.RawQuery, "&") {
			text, err := url.QueryUnescape(part)
			if err != nil {
				return liveness.Invalid("query", "is malformed")
			}
			if !utf8.ValidString(text) {
				return liveness.Invalid("query", "must be valid UTF-8")
			}
		}
		return h(w, r)
	}
}

// hostRouted hands next the path the way the Functions host matched it before forwarding
// (reference "Routes"): route literals compare ignoring ASCII case, and one trailing "/" is no
// part of the route. The mux decodes percent-escapes itself, segment by segment, as the host's
// server does before routing. A path the host routes to no function (an empty segment; "." and
// ".." the host's server resolves before routing) goes to notFound, not to the mux's redirect to
// a cleaned path. Paths outside /api (the host's own calls) pass as they are.
func hostRouted(next, notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		escaped := r.URL.EscapedPath()
		if !underAPI(escaped) {
			next.ServeHTTP(w, r)
			return
		}
		p, ok := routePath(escaped)
		if !ok {
			notFound.ServeHTTP(w, r)
			return
		}
		if p != escaped {
			r = r.Clone(r.Context())
			r.URL.RawPath = p
			r.URL.Path, _ = url.PathUnescape(p) // routePath checked every escape
		}
		next.ServeHTTP(w, r)
	})
}

// underAPI reports whether an escaped path is under the host's route prefix, however spelled.
func underAPI(escaped string) bool {
	first, _, found := strings.Cut(strings.TrimPrefix(escaped, "/"), "/")
	first, err := url.PathUnescape(first)
	return found && err == nil && strings.EqualFold(first, "api")
}

// routePath is an escaped /api path as the mux's patterns spell routes: ASCII lower case, without
// one trailing "/". ok is false when no route can match it.
func routePath(escaped string) (p string, ok bool) {
	p = strings.TrimSuffix(escaped, "/")
	for seg := range strings.SplitSeq(p[1:], "/") {
		// An escaped dot is left to the route: the mux redirects only on the path as sent.
		if _, err := url.PathUnescape(seg); err != nil || seg == "" || seg == "." || seg == ".." {
			return "", false
		}
	}
	return asciiLower(unescapeLetters(p)), true
}

// unescapeLetters decodes the percent-escapes of ASCII letters ("%53" is "S"): an escaped
// unreserved character is the character itself (RFC 3986 §6.2.2.2), so "/api/%53essions" is
// "/api/Sessions", which then matches ignoring case. Other escapes stay for the mux to decode.
func unescapeLetters(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if c, ok := hex2(p[i+1], p[i+2]); ok && ('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func hex2(hi, lo byte) (byte, bool) {
	h, ok1 := unhex(hi)
	l, ok2 := unhex(lo)
	return h<<4 | l, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// asciiLower lower-cases ASCII letters only: strings.ToLower would also rewrite invalid UTF-8,
// which checkedInput must still see.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// unframedBodies answers a request whose body has no Content-Length (Transfer-Encoding: chunked)
// without waiting for that body: the Functions host forwards such a request's headers but never
// its body (reference §6), so a read would block until the connection times out. The
// connection's read deadline is set to now, so that neither the handler nor net/http (which
// drains an unread body before answering) waits; net/http then closes the connection after the
// answer. readBody answers errLengthRequired for such a body.
func unframedBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength < 0 {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now()) // unsupported only off a real connection
		}
		next.ServeHTTP(w, r)
	})
}
