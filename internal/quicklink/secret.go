package quicklink

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// redacted is what a secret shows wherever it is printed, logged or marshaled.
const redacted = "[redacted]"

// ID is the `s` value of a quick link: the GUID the service answers with, e.g.
// 60c3980c-d9f6-4b16-a7f5-f1f4ad2b506f, kept as sent. Whoever holds it can open the link, so it
// is a bearer secret (reference §8): String, GoString, Format, LogValue, MarshalText and
// MarshalJSON all give "[redacted]", and only Reveal gives the value. The value sits behind a
// pointer so that even a struct holding an ID in an unexported field prints an address, not the
// value. The zero ID holds nothing; only Client.Create and ParseAnswer make others.
type ID struct{ secret[ID] }

// Link is a composed quick link, {endpoint}/?s=<ID>&callbackUrl=<percent-encoded callback URL>
// (design §3 IssueLink, reference §8). Anyone holding it can start, complete or cancel the
// session, so it is a bearer secret that is handed to the caller once and never stored or
// logged: it redacts itself exactly as ID does, and only Reveal gives the URL.
type Link struct{ secret[Link] }

// secret holds a bearer secret for ID and Link (T, named in %#v) and shows it nowhere but Reveal.
type secret[T any] struct{ v *string }

// Reveal returns the value: the GUID of an ID (for composing the link), the URL of a Link (for the
// one answer that hands it to the caller, and its QR code). Never log what it returns.
func (s secret[T]) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether it holds no value.
func (s secret[T]) IsZero() bool { return s.v == nil }

func (secret[T]) String() string                { return redacted }
func (secret[T]) GoString() string              { return typeName[T]() + "(" + redacted + ")" }
func (secret[T]) Format(f fmt.State, verb rune) { writeRedacted(f, verb, typeName[T]()) }
func (secret[T]) LogValue() slog.Value          { return slog.StringValue(redacted) }
func (secret[T]) MarshalText() ([]byte, error)  { return []byte(redacted), nil }
func (secret[T]) MarshalJSON() ([]byte, error)  { return []byte(`"` + redacted + `"`), nil }

func typeName[T any]() string { var zero T; return fmt.Sprintf("%T", zero) }

// writeRedacted answers every fmt verb, %x and %d included, without the value.
func writeRedacted(f fmt.State, verb rune, typ string) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, typ+"("+redacted+")")
		return
	}
	fmt.Fprint(f, redacted)
}

// Compose builds the link the end user opens: endpoint (QUICKLINK_ENDPOINT, e.g.
// https://liveness.face.azure.com; a trailing slash is dropped) + "/?s=" + s + "&callbackUrl=" +
// callbackURL percent-encoded as a query value. Reference §8 step 3 appends callbackUrl to the
// service's url; its quirk table (§10) notes the docs' "&&" and says one "&". Every byte of
// callbackURL outside A-Z a-z 0-9 - _ . ~ is percent-encoded (a space as %20, never "+"), so the
// callback's own query, with its "&" and "=", stays inside the one callbackUrl value. A zero s
// gives the zero Link. Compose is pure: it checks neither URL (configuration and the signer
// produced them).
func Compose(endpoint string, s ID, callbackURL string) Link {
	if s.IsZero() {
		return Link{}
	}
	// QueryEscape writes a space as "+" and a literal "+" as "%2B", so every "+" it writes is a space.
	cb := strings.ReplaceAll(url.QueryEscape(callbackURL), "+", "%20")
	link := strings.TrimRight(endpoint, "/") + "/?s=" + s.Reveal() + "&callbackUrl=" + cb
	return Link{secret[Link]{&link}}
}
