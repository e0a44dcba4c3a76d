package quicklink

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrUnexpectedAnswer is the error kind of a 2xx answer that is not a quick link (ParseAnswer):
// the service, or something in front of it, said something this client does not trust. The
// message never quotes the answer, whose url holds a bearer secret.
var ErrUnexpectedAnswer = errors.New("quicklink: the answer is not a quick link")

// guid is the textual GUID form, 8-4-4-4-12 hex digits in either case: the reference's example
// (§8 step 2) is lower case, and nothing says the service will not send upper case.
var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ParseAnswer checks the body of a 200 answer of POST /api/quicklink and returns its `s` value.
// The one accepted shape (reference §8 step 2, and its 2026-11-30 addition) is a JSON object whose
// "url" is exactly "/?s=<GUID>": relative, path "/", one query key `s`, no fragment, the GUID
// unescaped. Other members of the object are ignored (the service is a preview and may add
// some); anything else — not JSON, no url, an absolute URL, another path, more query keys, a
// percent-encoded or non-GUID value — is ErrUnexpectedAnswer. The GUID keeps the case it was sent in.
func ParseAnswer(body []byte) (ID, error) {
	var a struct {
		URL *string `json:"url"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return ID{}, fmt.Errorf("%w: not a JSON object with a string url", ErrUnexpectedAnswer)
	}
	if a.URL == nil {
		return ID{}, fmt.Errorf("%w: no url", ErrUnexpectedAnswer)
	}
	// Comparing the text, rather than what url.Parse makes of it, leaves no room for another
	// spelling of the same link (an escaped "s", "//host", a ";" separator, an empty "&").
	s, ok := strings.CutPrefix(*a.URL, "/?s=")
	if !ok || !guid.MatchString(s) {
		return ID{}, fmt.Errorf(`%w: url is not "/?s=<GUID>"`, ErrUnexpectedAnswer)
	}
	return ID{secret[ID]{&s}}, nil
}
