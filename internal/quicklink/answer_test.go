package quicklink

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// FuzzParseAnswer: ParseAnswer never panics, every refusal is ErrUnexpectedAnswer and quotes
// nothing, and what it accepts passes an independent check with encoding/json, net/url and
// google/uuid: a JSON object whose url is relative, path "/", one query key s with one value,
// a GUID in 8-4-4-4-12 form, which is what Reveal returns.
func FuzzParseAnswer(f *testing.F) {
	for _, seed := range []string{
		answerOK,
		`{"url":"/?s=60C3980C-D9F6-4B16-A7F5-F1F4AD2B506F","expiresIn":600}`,
		`{"url":"/?s=` + testS + `&a=b"}`,
		`{"url":"https://x/?s=` + testS + `"}`,
		`{"url":"/?s=%36` + testS[1:] + `"}`,
		`{"url":"\/?s=` + testS + `"}`,
		`{"url":"/?s=` + testS + `","url":"/?s=x"}`,
		`null`, `{}`, `[]`, ``, `{"url":1}`,
	} {
		f.Add([]byte(seed))
	}
	messages := []string{
		ErrUnexpectedAnswer.Error() + ": not a JSON object with a string url",
		ErrUnexpectedAnswer.Error() + ": no url",
		ErrUnexpectedAnswer.Error() + `: url is not "/?s=<GUID>"`,
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := ParseAnswer(body)
		if err != nil {
			if !errors.Is(err, ErrUnexpectedAnswer) {
				t.Fatalf("error %v is not ErrUnexpectedAnswer", err)
			}
			known := false
			for _, m := range messages {
				known = known || err.Error() == m
			}
			if !known {
				t.Fatalf("error %q is not one of the fixed messages", err)
			}
			if !id.IsZero() {
				t.Fatal("a refusal returned an ID")
			}
			return
		}
		var a map[string]json.RawMessage
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %v", err)
		}
		var raw string
		if err := json.Unmarshal(body, &struct {
			URL *string `json:"url"`
		}{&raw}); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted url %q that net/url refuses: %v", raw, err)
		}
		q, err := url.ParseQuery(u.RawQuery)
		if u.Scheme != "" || u.Host != "" || u.User != nil || u.Path != "/" || u.RawPath != "" || u.Fragment != "" ||
			err != nil || len(q) != 1 || len(q["s"]) != 1 {
			t.Fatalf("accepted url %q, which is not a relative / with one query key s", raw)
		}
		s := q.Get("s")
		if len(s) != 36 || strings.Count(s, "-") != 4 {
			t.Fatalf("accepted s %q, not in 8-4-4-4-12 form", s)
		}
		if _, err := uuid.Parse(s); err != nil {
			t.Fatalf("accepted s %q, not a GUID: %v", s, err)
		}
		if id.Reveal() != s || "/?s="+s != raw {
			t.Fatalf("Reveal() = %q for url %q, want %q as sent", id.Reveal(), raw, s)
		}
	})
}

func TestParseAnswerAcceptsOnlyTheDocumentedShape(t *testing.T) {
	tests := []struct {
		body, wantS string
	}{
		{answerOK, testS},
		{`{"url":"/?s=` + strings.ToUpper(testS) + `"}`, strings.ToUpper(testS)},
		{`{"url":"\/?s=` + testS + `"}`, testS},           // JSON escaping is not a different url
		{`{"url":"/?s=` + testS + `","ttl":600}`, testS},  // other members: the service is a preview
		{` {"url" : "/?s=` + testS + `"} ` + "\n", testS}, // whitespace around JSON
	}
	for _, tt := range tests {
		id, err := ParseAnswer([]byte(tt.body))
		if err != nil || id.Reveal() != tt.wantS {
			t.Errorf("ParseAnswer(%s) = %q, %v; want %q", tt.body, id.Reveal(), err, tt.wantS)
		}
	}
}
