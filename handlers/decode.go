package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// eagerBodyBytes is how much of a body is read before a buffer of its declared length is made.
const eagerBodyBytes = 64 << 10

// readBody reads at most limit bytes of the request body. An empty body is allowed (the host
// forwards no body when Content-Length is 0); a non-empty one must be UTF-8 JSON. A body of
// unknown length (chunked) is errLengthRequired: see unframedBodies.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength < 0 {
		return nil, errLengthRequired
	}
	if r.ContentLength > limit {
		return nil, errPayloadTooLarge
	}
	// Sized by the declared length, the buffer is allocated once: io.ReadAll would grow it by
	// doubling, copying a verify image's 8 MB of text several times. MinRead spare bytes let
	// ReadFrom see the end without growing it. Only a body that has sent its first
	// eagerBodyBytes gets a buffer of its declared length: a header alone (a client that then
	// stalls) costs no more than that.
	in := io.LimitReader(r.Body, limit+1)
	buf := bytes.NewBuffer(make([]byte, 0, min(r.ContentLength, eagerBodyBytes)+bytes.MinRead))
	_, err := buf.ReadFrom(io.LimitReader(in, eagerBodyBytes))
	if err == nil && int64(buf.Len()) == eagerBodyBytes && r.ContentLength > eagerBodyBytes {
		full := bytes.NewBuffer(make([]byte, 0, r.ContentLength+bytes.MinRead))
		full.Write(buf.Bytes())
		buf = full
	}
	if err == nil {
		_, err = buf.ReadFrom(in)
	}
	body := buf.Bytes()
	if err != nil {
		return nil, liveness.Invalid("", "the request body could not be read")
	}
	if int64(len(body)) > limit {
		return nil, errPayloadTooLarge
	}
	// Declared twice or as something else, the body is refused even when empty: the header is
	// wrong whatever follows it.
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if !utf8.Valid(body) {
		// encoding/json would quietly turn each bad byte into U+FFFD: two different bodies would
		// read, store and hash the same.
		return nil, liveness.Invalid("", "the request body must be valid UTF-8")
	}
	return body, nil
}

// checkContentType accepts a body declared as JSON (application/json or any +json type) in
// UTF-8, the only encoding JSON has (RFC 8259 §8.1), or not declared at all, and sent without a
// content coding. The app decodes no coding (neither does the Functions host): a gzip body would
// be read as the bytes it is, and a body declared gzip but sent plain would be acted on as
// something its sender did not say it was (RFC 9110 §8.4: 415 for a coding the server refuses).
func checkContentType(r *http.Request) error {
	for _, v := range r.Header.Values("Content-Encoding") {
		for coding := range strings.SplitSeq(v, ",") {
			if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
				return fmt.Errorf("content coding %.40q: %w", c, errUnsupportedMediaType)
			}
		}
	}
	ct, ok, err := singleHeader(r, "Content-Type")
	if err != nil || !ok {
		return err
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return errUnsupportedMediaType
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return fmt.Errorf("charset %.40q: %w", cs, errUnsupportedMediaType)
	}
	return nil
}

// decodeObject decodes one JSON object into v (a pointer to a struct with json tags), member by
// member in one pass: names must match a tag exactly and appear once (encoding/json alone would
// match them case-insensitively and let a repeat win), other JSON types and trailing data are
// rejected, and every message names the offending field. The text must be UTF-8 and no value may
// be null or hold a lone surrogate escape (see checkJSONValue). A *base64Bytes field's string is
// decoded straight from the body's bytes when it can be (liftBase64).
func decodeObject(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil
	}
	if !utf8.Valid(trimmed) {
		return liveness.Invalid("", "the request body must be valid UTF-8")
	}
	if trimmed[0] != '{' {
		return liveness.Invalid("", "the request body must be a JSON object")
	}
	fields := jsonFields(v)
	if l, ok := liftBase64(trimmed, fields); ok {
		if decodeMembers(l.rest, fields) == nil {
			l.assign(fields)
			return nil
		}
		// The whole body is as wrong as its rest; decoded whole, the error says where (the byte
		// offset of a syntax error counts the lifted text).
		reflect.ValueOf(v).Elem().SetZero()
	}
	return decodeMembers(trimmed, fields)
}

// decodeMembers is decodeObject's member-by-member pass over an object, into fields.
func decodeMembers(trimmed []byte, fields map[string]any) error {
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields() // for nested objects
	if _, err := dec.Token(); err != nil {
		return describeJSONError("", err)
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return describeJSONError("", err)
		}
		name, _ := tok.(string) // the decoder yields only strings in key position
		field, known := fields[name]
		switch {
		case !known && hasControl(name):
			return liveness.Invalid("", "unknown field (its name has control characters, not repeated here)")
		case !known:
			return liveness.Invalid(clip(name), "unknown field")
		case seen[name]:
			return liveness.Invalid(name, "duplicate field")
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return describeJSONError(name, err)
		}
		if err := checkJSONValue(name, raw); err != nil {
			return err
		}
		if err := json.Unmarshal(raw, field); err != nil {
			return describeJSONError(name, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return describeJSONError("", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return liveness.Invalid("", "the request body must hold exactly one JSON object")
	}
	return nil
}

// jsonFields maps v's json tag names to pointers to its fields.
func jsonFields(v any) map[string]any {
	rv := reflect.ValueOf(v).Elem()
	t := rv.Type()
	fields := make(map[string]any, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			fields[name] = rv.Field(i).Addr().Interface()
		}
	}
	return fields
}

// clip shortens a client-supplied name before it is echoed in a problem detail or a log line.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

func describeJSONError(field string, err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			field += "." + typeErr.Field
		}
		if field == "" {
			return liveness.Invalid("", "the request body must be a JSON object")
		}
		return liveness.Invalid(field, fmt.Sprintf("must be of type %s", jsonTypeName(typeErr.Type.Kind().String())))
	case errors.As(err, &syntaxErr):
		return liveness.Invalid("", fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return liveness.Invalid(clip(name), "unknown field")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return liveness.Invalid("", "malformed JSON: unexpected end of input")
	default:
		return liveness.Invalid("", "malformed JSON")
	}
}

func jsonTypeName(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int64", "int32":
		return "integer"
	case "float64":
		return "number"
	default:
		return goKind
	}
}
