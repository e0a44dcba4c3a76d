package hostcontract

import (
	"maps"
	"strings"
	"testing"
)

func TestTemplateExpandsAndMatches(t *testing.T) {
	tests := []struct {
		template string
		vars     map[string]string
		path     string
	}{
		{"api/sessions", nil, "/api/sessions"},
		{"/api/sessions/", nil, "/api/sessions"},
		{"api/sessions/{sessionId}", map[string]string{"sessionId": "3f2a"}, "/api/sessions/3f2a"},
		{"api/sessions/{sessionId}/link", map[string]string{"sessionId": "a b"}, "/api/sessions/a%20b/link"},
		{"api/items/{id:int}", map[string]string{"id": "7"}, "/api/items/7"},
		{"api/items/{id?}", map[string]string{"id": "7"}, "/api/items/7"},
		{"api/items/{id?}", nil, "/api/items"},
		{"api/files/{*rest}", map[string]string{"rest": "a/b c"}, "/api/files/a/b%20c"},
		{"api/files/{name}.{ext}", map[string]string{"name": "x", "ext": "png"}, "/api/files/x.png"},
		{"api/{{literal}}", nil, "/api/%7Bliteral%7D"},
		{"api/café", nil, "/api/caf%C3%A9"},
		{"", nil, "/"},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.template)
			if err != nil {
				t.Fatalf("ParseTemplate: %v", err)
			}
			got, err := tmpl.Expand(tt.vars)
			if err != nil || got != tt.path {
				t.Fatalf("Expand(%v) = %q, %v; want %q", tt.vars, got, err, tt.path)
			}
			vars, ok := tmpl.Match(got)
			if !ok {
				t.Fatalf("Match(%q) = false", got)
			}
			want := tt.vars
			if want == nil {
				want = map[string]string{}
			}
			if !maps.Equal(vars, want) {
				t.Errorf("Match(%q) vars = %v, want %v", got, vars, want)
			}
		})
	}
}

func TestTemplateMatchesAsTheHostRoutes(t *testing.T) {
	tmpl, err := ParseTemplate("api/sessions/{sessionId}")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want bool
	}{
		{"/api/sessions/abc", true},
		{"/API/Sessions/ABC", true}, // routes match case-insensitively
		{"/api/sessions/abc/", true},
		{"/api/sessions", false},
		{"/api/sessions/abc/link", false},
		{"/api/sessionsX/abc", false},
		{"/xapi/sessions/abc", false},
	}
	for _, tt := range tests {
		if _, got := tmpl.Match(tt.path); got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestParseTemplateRejects(t *testing.T) {
	for _, bad := range []string{
		"api/{id", "api/id}", "api//x", "api/{}", "api/{1x}", "api/{a}{b}",
		"api/{id}/{id}", "api/{ID}/{id}", "api/{*rest}/more", "api/x{id?}", "api/{a{b}}",
	} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) accepted it", bad)
		}
	}
}

func TestTemplateExpandNeedsEveryRequiredValue(t *testing.T) {
	tmpl, err := ParseTemplate("api/sessions/{sessionId}")
	if err != nil {
		t.Fatal(err)
	}
	for _, vars := range []map[string]string{nil, {"sessionId": ""}, {"other": "x"}} {
		if p, err := tmpl.Expand(vars); err == nil {
			t.Errorf("Expand(%v) = %q, want an error", vars, p)
		}
	}
}

// FuzzTemplate: whatever template parses, its expansion with any value matches it again and
// gives that value back.
func FuzzTemplate(f *testing.F) {
	f.Add("api/sessions/{sessionId}", "3F2A-b")
	f.Add("api/files/{*rest}", "a/b")
	f.Add("api/{x:int?}", "7")
	f.Add("{a}.{b}", "x.y")
	f.Fuzz(func(t *testing.T, template, value string) {
		tmpl, err := ParseTemplate(template)
		if err != nil {
			return
		}
		params := tmpl.Params()
		vars := map[string]string{}
		for _, p := range params {
			vars[p] = value
		}
		path, err := tmpl.Expand(vars)
		if err != nil {
			return // empty value of a required parameter
		}
		got, ok := tmpl.Match(path)
		if !ok {
			t.Fatalf("template %q: Match(Expand) = false for path %q", template, path)
		}
		// Adjacent parameters split a value ambiguously ("{a}.{b}" with "x.y"), and an empty
		// catch-all or optional value drops out; otherwise the value must come back.
		if len(params) == 1 && value != "" && !strings.Contains(value, "/") && got[params[0]] != value {
			t.Fatalf("template %q: Match(%q) = %v, want %s=%q", template, path, got, params[0], value)
		}
	})
}
