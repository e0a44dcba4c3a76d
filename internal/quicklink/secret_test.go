package quicklink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const callback = "https://fn.example/api/callback/b12e033e-bda7-4b83-a211-e721c661f30e?exp=1767225600&sig=ab-_Z9+/x= y"

func testID(t *testing.T) ID {
	t.Helper()
	id, err := ParseAnswer([]byte(answerOK))
	if err != nil {
		t.Fatalf("ParseAnswer: %v", err)
	}
	return id
}

func TestCompose(t *testing.T) {
	id := testID(t)
	want := "https://liveness.face.azure.com/?s=" + testS + "&callbackUrl=" +
		"https%3A%2F%2Ffn.example%2Fapi%2Fcallback%2Fb12e033e-bda7-4b83-a211-e721c661f30e%3Fexp%3D1767225600%26sig%3Dab-_Z9%2B%2Fx%3D%20y"
	for _, endpoint := range []string{"https://liveness.face.azure.com", "https://liveness.face.azure.com/"} {
		link := Compose(endpoint, id, callback).Reveal()
		if link != want {
			t.Errorf("Compose(%q) =\n%s\nwant\n%s", endpoint, link, want)
		}
		if n := strings.Count(link, "&"); n != 1 {
			t.Errorf("link has %d '&', want 1", n)
		}
		if strings.Contains(link, "+") {
			t.Errorf("link %q has a '+', which some decoders read as a space", link)
		}
		u, err := url.Parse(link)
		if err != nil {
			t.Fatalf("url.Parse(link): %v", err)
		}
		q := u.Query()
		if len(q) != 2 || q.Get("s") != testS || q.Get("callbackUrl") != callback {
			t.Errorf("link's query = %v, want s=%s and callbackUrl=%s", q, testS, callback)
		}
	}
}

func TestComposeZeroID(t *testing.T) {
	if l := Compose("https://liveness.face.azure.com", ID{}, callback); !l.IsZero() || l.Reveal() != "" {
		t.Errorf("Compose with a zero ID = %q, want the zero Link", l.Reveal())
	}
}

// holder keeps the secrets as a careless caller might: exported, unexported and behind pointers.
type holder struct {
	ID      ID
	Link    Link
	PID     *ID
	id      ID
	link    Link
	Secrets []any
}

// TestSecretsNeverPrinted: the `s` value and the link reach no fmt verb, slog handler or JSON.
func TestSecretsNeverPrinted(t *testing.T) {
	id := testID(t)
	link := Compose("https://liveness.face.azure.com", id, callback)
	h := holder{ID: id, Link: link, PID: &id, id: id, link: link, Secrets: []any{id, link}}

	var outputs []string
	for _, v := range []any{id, link, &id, &link, h, &h} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
		outputs = append(outputs, fmt.Sprint(v), fmt.Sprintln(v))
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		outputs = append(outputs, string(b))
		var jsonLog, textLog bytes.Buffer
		slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("issued", "value", v, "group", slog.GroupValue(slog.Any("id", id)))
		slog.New(slog.NewTextHandler(&textLog, nil)).Info("issued", "value", v)
		outputs = append(outputs, jsonLog.String(), textLog.String())
	}
	for _, out := range outputs {
		if strings.Contains(out, testS) || strings.Contains(out, "callbackUrl") || strings.Contains(out, "liveness.face") {
			t.Errorf("output reveals a secret: %s", out)
		}
	}
	if got := fmt.Sprint(id); got != "[redacted]" {
		t.Errorf("fmt.Sprint(id) = %q, want [redacted]", got)
	}
	if got := fmt.Sprintf("%#v", link); got != "quicklink.Link([redacted])" {
		t.Errorf("%%#v of a Link = %q, want quicklink.Link([redacted])", got)
	}
}

// TestErrorsNeverHoldSecrets runs every way Create can fail with the token and an answer holding
// an `s` value about, and looks for either in the error's text and its slog rendering.
func TestErrorsNeverHoldSecrets(t *testing.T) {
	answers := []reply{
		{status: http.StatusUnauthorized, body: `{"error":{"code":"Unauthorized","message":"` + testToken + ` /?s=` + testS + `"}}`},
		{status: http.StatusCreated, body: answerOK},
		{status: http.StatusOK, body: `{"url":"/?s=` + testS + `&x=1"}`},
		{status: http.StatusOK, body: `{"url":"https://evil.test/?s=` + testS + `"}`},
		{status: http.StatusOK, body: `/?s=` + testS},
	}
	for _, a := range answers {
		_, err := newTestClient(t, "https://ql.test", answering(a), nil).Create(context.Background(), testToken)
		if err == nil {
			t.Fatalf("answer %d %q: Create succeeded, want an error", a.status, a.body)
		}
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Error("quick link failed", "err", err, "upstream", slog.AnyValue(err))
		for _, out := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), logged.String()} {
			if strings.Contains(out, testToken) || strings.Contains(out, testS) {
				t.Errorf("answer %d %q: error output reveals a secret: %s", a.status, a.body, out)
			}
		}
	}
}
