package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
)

// base64Bytes is a JSON string member of standard base64 (RFC 4648 §4, padded), held decoded. A
// string that is not base64 is held as not valid rather than refused as it is read, so the
// field's own checks, in their order, say so (checkImage).
type base64Bytes struct {
	data  []byte
	valid bool
}

// UnmarshalJSON is the slow way, for a value decodeObject did not lift (see liftBase64): a string
// with escapes ("\/" is a legal spelling of "/"), or a value of another type, which fails as a
// string field would ("must be of type string").
func (b *base64Bytes) UnmarshalJSON(raw []byte) error {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	data, err := base64.StdEncoding.Strict().DecodeString(s)
	*b = base64Bytes{data: data, valid: err == nil}
	return nil
}

// lifted is a body with its base64 strings taken out: rest is the body with each of them
// replaced by "", and fields the decoded values by member name.
type lifted struct {
	rest   []byte
	fields map[string]*base64Bytes
}

// liftBase64 takes the value of every top-level member of body whose field (in fields, from
// jsonFields) is a *base64Bytes out of the text, decoding its base64 straight from the body's
// bytes into a buffer of the decoded size: encoding/json would scan a 6 MB image's 8 MB of text
// three times and copy it twice, and most of a verify request's CPU and memory went there.
//
// It lifts a value only when the result cannot differ from decoding the whole body: the member's
// name is spelt without escapes, the value is a string without escapes or line breaks (which
// base64 would skip but JSON refuses raw), and it decodes as strict base64, so every byte of it is
// one JSON allows in a string and checkJSONValue accepts. Replacing such a string by "" keeps the
// text valid or invalid as it was, with the same members in the same order. ok is false when
// nothing was lifted.
func liftBase64(body []byte, fields map[string]any) (l lifted, ok bool) {
	type span struct {
		name       string
		start, end int // the string's contents, between its quotes
	}
	var spans []span
	for name, f := range fields {
		if _, is := f.(**base64Bytes); !is {
			continue
		}
		if start, end, found := memberString(body, name); found {
			spans = append(spans, span{name, start, end})
		}
	}
	if len(spans) == 0 {
		return lifted{}, false
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	l.fields = make(map[string]*base64Bytes, len(spans))
	size := len(body)
	for _, s := range spans {
		size -= s.end - s.start
	}
	l.rest = make([]byte, 0, size)
	at := 0
	for _, s := range spans {
		text := body[s.start:s.end]
		if bytes.IndexByte(text, '\\') >= 0 || bytes.IndexByte(text, '\n') >= 0 || bytes.IndexByte(text, '\r') >= 0 {
			return lifted{}, false
		}
		data := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
		n, err := base64.StdEncoding.Strict().Decode(data, text)
		if err != nil {
			return lifted{}, false
		}
		l.fields[s.name] = &base64Bytes{data: data[:n], valid: true}
		l.rest = append(l.rest, body[at:s.start]...)
		at = s.end
	}
	l.rest = append(l.rest, body[at:]...)
	return l, true
}

// assign puts the lifted values into the fields the rest of the body was decoded into.
func (l lifted) assign(fields map[string]any) {
	for name, v := range l.fields {
		*fields[name].(**base64Bytes) = v
	}
}

// memberString finds the first member of the object body (body[0] is '{') named name, spelt
// without escapes, whose value is a string, and returns the offsets of the string's contents. It
// knows only enough JSON to tell strings, nesting and member names apart, and trusts nothing
// else: on malformed text it may find nothing or a wrong span, and the caller's full decode of
// the rest refuses the text as it would have refused the whole.
func memberString(body []byte, name string) (start, end int, ok bool) {
	depth, key := 1, true
	for i := 1; i < len(body); {
		switch body[i] {
		case '"':
			closing := stringEnd(body, i+1)
			if closing < 0 {
				return 0, 0, false
			}
			if depth != 1 || !key {
				i = closing + 1
				continue
			}
			colon := skipSpace(body, closing+1)
			if colon >= len(body) || body[colon] != ':' {
				return 0, 0, false
			}
			v := skipSpace(body, colon+1)
			if v < len(body) && body[v] == '"' && string(body[i+1:closing]) == name {
				end := stringEnd(body, v+1)
				return v + 1, end, end >= 0
			}
			key, i = false, v
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			key = depth == 1
		}
		i++
	}
	return 0, 0, false
}

// stringEnd returns the offset of the quote closing the string whose contents start at i, or -1.
// Each byte is looked at once or twice (by IndexByte), whatever the escapes.
func stringEnd(b []byte, i int) int {
	quote := -1
	for i < len(b) {
		if quote < i {
			q := bytes.IndexByte(b[i:], '"')
			if q < 0 {
				return -1
			}
			quote = i + q
		}
		esc := bytes.IndexByte(b[i:quote], '\\')
		if esc < 0 {
			return quote
		}
		i += esc + 2 // the escaped byte, perhaps the quote, is not an end
	}
	return -1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
