package handlers

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/origin"
)

// FuzzCheckReturnURL: a returnUrl is accepted only as an absolute URL without user information,
// control characters, spaces or raw non-ASCII, whose scheme and origin are an allowed one (https,
// or http for loopback); accepting it again gives the same origin; and the Callback's redirect
// built from it (returnTarget) stays on that origin, carries sessionId and status once each, as
// set, and holds no byte a Location header may not carry. Every refusal is an invalid request
// whose message holds no control character.
func FuzzCheckReturnURL(f *testing.F) {
	for _, seed := range []string{
		"https://app.example.com/done", "https://App.Example.com:443/x?a=1#frag", "http://localhost:3000/cb?sessionId=x&status=y",
		"https://app.example.com/done\r\nSet-Cookie: a=b", "https://app.example.com/%0d%0a", "https://app.example.com\\@evil.example/",
		"https://good@app.example.com/", "//app.example.com/", "javascript:alert(1)", "https://app.example.com.evil.example/",
		"https://evil.example#@app.example.com/", "https://\u0430pp.example.com/", "https://app.example.com/\u202e",
		"https://app.example.com/?status=completed&STATUS=x&a=%zz", "https://app.example.com:8443/", "http://app.example.com/",
		"https://[::1]/", "http://127.0.0.1:3000/", "https://app.example.com/caf\u00e9?q=\u00e9", "https://app.example.com/?a=1;b=2",
	} {
		f.Add(seed)
	}
	origins := testOrigins(f)
	const id = "3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50"
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := checkReturnURL(raw, origins)
		if err != nil {
			if !errors.Is(err, liveness.ErrInvalidRequest) {
				t.Fatalf("checkReturnURL(%q) = %v, not an invalid-request error", raw, err)
			}
			if hasControl(err.Error()) {
				t.Fatalf("checkReturnURL(%q): the message %q holds a control character", raw, err)
			}
			return
		}
		if strings.ContainsAny(raw, "\r\n\t ") || hasControl(raw) {
			t.Fatalf("accepted %q, which holds a control character or a space", raw)
		}
		u, err := url.Parse(got)
		if err != nil || !u.IsAbs() || u.User != nil || u.Opaque != "" {
			t.Fatalf("accepted %q as %q, which is not an absolute URL without user information (%v)", raw, got, err)
		}
		o, err := origin.Of(u)
		if err != nil || !slices.Contains(origins, o) {
			t.Fatalf("accepted %q as %q of origin %q (%v), not an allowed one", raw, got, o, err)
		}
		if again, err := checkReturnURL(got, origins); err != nil {
			t.Fatalf("accepted %q as %q, which is then refused: %v", raw, got, err)
		} else if au, _ := url.Parse(again); au == nil || mustOrigin(t, au) != o {
			t.Fatalf("accepted %q as %q, then as %q of another origin", raw, got, again)
		}

		for _, status := range []liveness.Status{liveness.StatusCreated, liveness.StatusCompleted} {
			target, err := returnTarget(&liveness.Session{ID: id, Status: status, ReturnURL: got})
			if err != nil {
				t.Fatalf("returnTarget(%q): %v", got, err)
			}
			for i := 0; i < len(target); i++ {
				if c := target[i]; c <= ' ' || c >= 0x7f {
					t.Fatalf("redirect %q from %q holds byte %#x, which a Location header may not carry", target, got, c)
				}
			}
			tu, err := url.Parse(target)
			if err != nil {
				t.Fatalf("redirect %q from %q does not parse: %v", target, got, err)
			}
			if to, err := origin.Of(tu); err != nil || to != o || tu.User != nil {
				t.Fatalf("redirect %q from %q leaves origin %q for %q (%v)", target, got, o, to, err)
			}
			var ids, statuses []string
			for pair := range strings.SplitSeq(tu.RawQuery, "&") {
				k, v, _ := strings.Cut(pair, "=")
				if k, err := url.QueryUnescape(k); err == nil && strings.EqualFold(k, "sessionId") {
					ids = append(ids, v)
				} else if err == nil && strings.EqualFold(k, "status") {
					statuses = append(statuses, v)
				}
			}
			if !slices.Equal(ids, []string{id}) || !slices.Equal(statuses, []string{string(status)}) {
				t.Fatalf("redirect %q from %q carries sessionId %q and status %q, want [%s] and [%s]", target, got, ids, statuses, id, status)
			}
		}
	})
}

func mustOrigin(t *testing.T, u *url.URL) string {
	t.Helper()
	o, err := origin.Of(u)
	if err != nil {
		t.Fatalf("origin.Of(%q): %v", u, err)
	}
	return o
}

// FuzzParseLinkRequest: an IssueLink body is refused as an invalid request, or it is empty, or it
// is one UTF-8 JSON object whose only member, if any, is "qr" with "svg" or "png" — and then
// parseLinkRequest returns that value, as encoding/json reads it.
func FuzzParseLinkRequest(f *testing.F) {
	for _, seed := range []string{
		``, ` `, `{}`, `{"qr":"svg"}`, `{"qr":"png"}`, `{"qr":"SVG"}`, `{"QR":"svg"}`, `{"qr":"svg","qr":"png"}`, `{"qr":null}`,
		`{"qr":1}`, `{"qr":["svg"]}`, `{"qr":"svg"}{}`, `[]`, `null`, `"svg"`, `{"qr":"sv\u0067"}`, `{"\u0071r":"png"}`,
		`{"qr":"svg\u0000"}`, "{\"qr\":\"svg\"}\x00", "\xef\xbb\xbf{}", `{"qr":"\ud800"}`, `{"x":{"y":[[[]]]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		qr, err := parseLinkRequest(body)
		if err != nil {
			if !errors.Is(err, liveness.ErrInvalidRequest) {
				t.Fatalf("parseLinkRequest(%q) = %v, not an invalid-request error", body, err)
			}
			if hasControl(err.Error()) || !utf8.ValidString(err.Error()) {
				t.Fatalf("parseLinkRequest(%q): the message %q holds a control character or is not UTF-8", body, err)
			}
			return
		}
		if strings.TrimSpace(string(body)) == "" {
			if qr != qrNone {
				t.Fatalf("an empty body asks for qr %q", qr)
			}
			return
		}
		var members map[string]any
		if !utf8.Valid(body) || json.Unmarshal(body, &members) != nil || members == nil {
			t.Fatalf("accepted %q, which is not one UTF-8 JSON object", body)
		}
		want := qrNone
		for k, v := range members {
			s, ok := v.(string)
			if k != "qr" || !ok || (s != "svg" && s != "png") {
				t.Fatalf("accepted %q with member %q: %#v", body, k, v)
			}
			want = qrFormat(s)
		}
		if qr != want {
			t.Fatalf("parseLinkRequest(%q) = %q, but the body says %q", body, qr, want)
		}
	})
}
