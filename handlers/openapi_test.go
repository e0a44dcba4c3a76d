package handlers

import (
	"encoding/base64"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// The document states the limits the parser enforces; these tests fail when one side moves alone.
func TestOpenAPIStartRequestLimitsMatchParser(t *testing.T) {
	c := loadContract(t)
	req := c.doc.Components.Schemas["StartSessionRequest"].Value
	prop := func(name string) *openapi3.Schema {
		p := req.Properties[name]
		if p == nil || p.Value == nil {
			t.Fatalf("StartSessionRequest has no property %q", name)
		}
		return p.Value
	}
	maxLen := func(s *openapi3.Schema) int {
		if s.MaxLength == nil {
			return -1
		}
		return int(*s.MaxLength)
	}
	num := func(f *float64) int {
		if f == nil {
			return -1
		}
		return int(*f)
	}
	tests := []struct {
		name      string
		got, want int
	}{
		{"externalReference maxLength", maxLen(prop("externalReference")), maxExternalReference},
		{"deviceCorrelationId maxLength", maxLen(prop("deviceCorrelationId")), maxDeviceCorrelationID},
		{"deviceCorrelationId minLength", int(prop("deviceCorrelationId").MinLength), 1},
		{"returnUrl maxLength", maxLen(prop("returnUrl")), maxReturnURL},
		{"ttlSeconds minimum", num(prop("ttlSeconds").Min), minTTLSeconds},
		{"ttlSeconds maximum", num(prop("ttlSeconds").Max), maxTTLSeconds},
		{"ttlSeconds default", int(prop("ttlSeconds").Default.(float64)), defaultTTLSeconds},
		{"verifyImage minLength", int(prop("verifyImage").MinLength), base64.StdEncoding.EncodedLen(minImageBytes)},
		{"verifyImage maxLength", maxLen(prop("verifyImage")), base64.StdEncoding.EncodedLen(maxImageBytes)},
		{"Idempotency-Key maxLength", maxLen(c.doc.Components.Parameters["IdempotencyKey"].Value.Schema.Value), maxIdempotencyKey},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("api/openapi.yaml %s = %d, handler uses %d", tt.name, tt.got, tt.want)
		}
	}
	if req.AdditionalProperties.Has == nil || *req.AdditionalProperties.Has {
		t.Errorf("StartSessionRequest must say additionalProperties: false (the handler rejects unknown fields)")
	}
	if want := []string{"enableSessionImage", "deviceCorrelationId", "externalReference", "issueLink", "kind", "mode", "qr", "returnUrl", "ttlSeconds", "verifyImage"}; !sameSet(mapsKeys(req.Properties), want) {
		t.Errorf("StartSessionRequest properties = %v, want the fields of startRequest %v", mapsKeys(req.Properties), want)
	}
}

func TestOpenAPIProblemCodesAreTheHandlerCodes(t *testing.T) {
	c := loadContract(t)
	var documented []string
	for _, v := range c.doc.Components.Schemas["Problem"].Value.Properties["code"].Value.Enum {
		documented = append(documented, v.(string))
	}
	emitted := []string{internalProblem.code}
	for _, row := range problemTable {
		emitted = append(emitted, row.kind.code)
	}
	if !sameSet(documented, emitted) {
		t.Errorf("Problem.code enum = %v, the handler's error table emits %v", documented, emitted)
	}
}

func TestOpenAPIOperations(t *testing.T) {
	c := loadContract(t)
	tests := []struct {
		path, method string
		statuses     []string
		anonymous    bool
	}{
		{"/api/sessions", "POST", []string{"200", "201", "400", "401", "409", "411", "413", "415", "500", "503"}, false},
		{"/api/sessions/{sessionId}/link", "POST", []string{"201", "400", "401", "404", "409", "411", "413", "415", "500", "503"}, false},
		{"/api/sessions/{sessionId}", "GET", []string{"200", "400", "401", "404", "500", "503"}, false},
		{"/api/sessions/{sessionId}", "DELETE", []string{"200", "400", "401", "404", "409", "500", "503"}, false},
		{"/api/health", "GET", []string{"200", "400", "503"}, true},
		{"/api/callback/{sessionId}", "GET", []string{"200", "303", "401", "404", "409", "500", "503"}, true},
		{"/api/callback/{sessionId}", "POST", []string{"200", "303", "401", "404", "409", "500", "503"}, true},
		{"/api/callback/{sessionId}", "HEAD", []string{"200", "401", "500", "503"}, true},
	}
	for _, tt := range tests {
		item := c.doc.Paths.Value(tt.path)
		if item == nil {
			t.Errorf("api/openapi.yaml has no path %s", tt.path)
			continue
		}
		op := item.GetOperation(tt.method)
		if op == nil {
			t.Errorf("api/openapi.yaml has no %s %s", tt.method, tt.path)
			continue
		}
		if got := mapsKeys(op.Responses.Map()); !sameSet(got, tt.statuses) {
			t.Errorf("%s %s responses = %v, want %v", tt.method, tt.path, got, tt.statuses)
		}
		if op.Responses.Default() != nil {
			t.Errorf("%s %s has a default response, which would let any status pass", tt.method, tt.path)
		}
		security := c.doc.Security
		if op.Security != nil {
			security = *op.Security
		}
		if anonymous := len(security) == 0; anonymous != tt.anonymous {
			t.Errorf("%s %s anonymous = %v, want %v", tt.method, tt.path, anonymous, tt.anonymous)
		}
	}
	schemes := c.doc.Components.SecuritySchemes
	for name, want := range map[string][2]string{"functionKey": {"header", "x-functions-key"}, "functionKeyQuery": {"query", "code"}} {
		s := schemes[name]
		if s == nil || s.Value.Type != "apiKey" || s.Value.In != want[0] || s.Value.Name != want[1] {
			t.Errorf("security scheme %s must be apiKey in %s named %s", name, want[0], want[1])
		}
	}
}

func mapsKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
