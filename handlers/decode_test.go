package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// probe is a small request type: a string, a number and a nested object cover decodeObject's paths.
type probe struct {
	Name  *string          `json:"name"`
	Count *int             `json:"count"`
	Inner *struct{ X int } `json:"inner"`
}

func TestDecodeObject(t *testing.T) {
	tests := []struct {
		body      string
		wantField string // field the error names; "-" for no error
		wantIn    string // text the reason must contain
	}{
		{``, "-", ""},
		{"  \n", "-", ""},
		{`{"name":"a","count":2}`, "-", ""},
		{` {"name":"a"} `, "-", ""},
		{`[]`, "", "JSON object"},
		{`"x"`, "", "JSON object"},
		{`1`, "", "JSON object"},
		{`null`, "", "JSON object"},
		{`{"name":`, "", "malformed JSON"},
		{`{"name":"a",}`, "", "malformed JSON"},
		{`{"name":"a"}{"name":"b"}`, "", "exactly one JSON object"},
		{`{"name":"a"}]`, "", "exactly one JSON object"},
		{`{"name":"a"} x`, "", "exactly one JSON object"},
		{`{"other":1}`, "other", "unknown field"},
		{`{"name":1}`, "name", "string"},
		{`{"count":"2"}`, "count", "integer"},
		{`{"count":2.5}`, "count", "integer"},
		{`{"count":true}`, "count", "integer"},
		{`{"inner":[]}`, "inner", ""},
		{`{"name":"a","name":"b"}`, "name", "duplicate field"},
		{`{"` + strings.Repeat("z", 5000) + `":1}`, strings.Repeat("z", 64) + "…", "unknown field"},
	}
	for _, tt := range tests {
		var v probe
		err := decodeObject([]byte(tt.body), &v)
		if tt.wantField == "-" {
			if err != nil {
				t.Errorf("decodeObject(%s) = %v, want nil", tt.body, err)
			}
			continue
		}
		var invalid *liveness.InvalidError
		if !errors.As(err, &invalid) {
			t.Errorf("decodeObject(%s) = %v, want an *InvalidError", tt.body, err)
			continue
		}
		if invalid.Field != tt.wantField || !strings.Contains(invalid.Reason, tt.wantIn) {
			t.Errorf("decodeObject(%s) = field %q reason %q, want field %q and a reason containing %q",
				tt.body, invalid.Field, invalid.Reason, tt.wantField, tt.wantIn)
		}
	}
}

// JSON member names are case-sensitive: "Kind" is not "kind", and the document says
// additionalProperties: false. encoding/json matches names case-insensitively unless told otherwise.
func TestDecodeObjectFieldNamesAreCaseSensitive(t *testing.T) {
	for _, body := range []string{`{"Name":"a"}`, `{"COUNT":1}`, `{"name":"a","NAME":"b"}`} {
		var v probe
		err := decodeObject([]byte(body), &v)
		var invalid *liveness.InvalidError
		if !errors.As(err, &invalid) || invalid.Reason != "unknown field" {
			t.Errorf("decodeObject(%s) = %v, want an unknown-field error", body, err)
		}
	}
}

func FuzzDecodeObject(f *testing.F) {
	for _, seed := range []string{``, `{}`, `[]`, `null`, `"x"`, `1`, `{"name":"a","count":1}`, `{"other":1}`,
		`{"count":"1"}`, `{"inner":{"X":1}}`, `{"name":"a"}{}`, `{"name":"a"}]`, `{"name":"\ud800"}`, `{"count":1e400}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v probe
		err := decodeObject(body, &v)
		if err != nil {
			if !errors.Is(err, liveness.ErrInvalidRequest) {
				t.Fatalf("decodeObject = %v, not an invalid-request error", err)
			}
			return
		}
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) == 0 {
			return
		}
		if trimmed[0] != '{' || !json.Valid(trimmed) {
			t.Fatalf("decodeObject accepted %q, which is not one JSON object", body)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &fields); err != nil {
			t.Fatalf("decodeObject accepted %q, which is not a JSON object: %v", body, err)
		}
		for name := range fields {
			if name != "name" && name != "count" && name != "inner" {
				t.Fatalf("decodeObject accepted unknown field %q", name)
			}
		}
	})
}
