package hostcontract

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFunctionHTTPTriggerDecidesForwarding(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		forwarded bool
		route     string
		methods   []string
	}{
		{"http pair", httpFunction("sessions/{sessionId}", "get", "Delete"), true, "sessions/{sessionId}", []string{"GET", "DELETE"}},
		{"http pair, case of types ignored", `{"bindings":[{"type":"HttpTrigger","direction":"in","name":"req"},{"type":"HTTP","direction":"out","name":"res"}]}`,
			true, "Fn", nil},
		{"timer", timerFunction, false, "Fn", nil},
		{"http with an extra binding", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"http","direction":"out","name":"res"},{"type":"queue","direction":"out","name":"q"}]}`,
			false, "Fn", nil},
		{"http trigger with $return", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"queue","direction":"out","name":"$return"}]}`,
			false, "Fn", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := testApp(t, map[string]string{"Fn": tt.doc}).Function("Fn")
			if !ok {
				t.Fatal("function Fn not loaded")
			}
			if _, got := f.HTTPTrigger(); got != tt.forwarded {
				t.Errorf("HTTPTrigger forwarded = %v, want %v", got, tt.forwarded)
			}
			if got := f.Route(); got != tt.route {
				t.Errorf("Route = %q, want %q", got, tt.route)
			}
			if got := f.Methods(); !slices.Equal(got, tt.methods) {
				t.Errorf("Methods = %v, want %v", got, tt.methods)
			}
		})
	}
}

func TestRoutePrefix(t *testing.T) {
	tests := []struct {
		hostJSON string
		want     string
	}{
		{`{"version":"2.0"}`, "api/Fn"},
		{`{"version":"2.0","extensions":{"http":{"routePrefix":"v1"}}}`, "v1/Fn"},
		{`{"version":"2.0","extensions":{"http":{"routePrefix":""}}}`, "Fn"},
		{`{"version":"2.0","Extensions":{"HTTP":{"RoutePrefix":"/x/"}}}`, "x/Fn"}, // keys bind ignoring case
	}
	for _, tt := range tests {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "host.json"), tt.hostJSON)
		writeFile(t, filepath.Join(root, "functions", "Fn", "function.json"), `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"http","direction":"out","name":"res"}]}`)
		app, err := LoadApp(root)
		if err != nil {
			t.Fatalf("LoadApp: %v", err)
		}
		f, _ := app.Function("Fn")
		if got := app.RouteTemplate(f); got != tt.want {
			t.Errorf("%s: RouteTemplate = %q, want %q", tt.hostJSON, got, tt.want)
		}
	}
}

// A staged package has the function folders at its root, as the host reads them.
func TestLoadAppReadsAStagedLayout(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "host.json"), `{"version":"2.0"}`)
	writeFile(t, filepath.Join(root, "Reconcile", "function.json"), timerFunction)
	writeFile(t, filepath.Join(root, "Health", "function.json"), httpFunction("health", "get"))
	app, err := LoadApp(root)
	if err != nil {
		t.Fatalf("LoadApp: %v", err)
	}
	var names []string
	for _, f := range app.Functions {
		names = append(names, f.Name)
	}
	if want := []string{"Health", "Reconcile"}; !slices.Equal(names, want) {
		t.Errorf("functions = %v, want %v", names, want)
	}
}

func TestLoadAppFailures(t *testing.T) {
	tests := map[string]map[string]string{
		"no host.json":      {"functions/Fn/function.json": timerFunction},
		"bad host.json":     {"host.json": `{`, "functions/Fn/function.json": timerFunction},
		"no functions":      {"host.json": `{}`},
		"bad function.json": {"host.json": `{}`, "functions/Fn/function.json": `{"bindings":{}}`},
	}
	for name, files := range tests {
		root := t.TempDir()
		for p, doc := range files {
			writeFile(t, filepath.Join(root, p), doc)
		}
		if _, err := LoadApp(root); err == nil {
			t.Errorf("%s: LoadApp succeeded", name)
		}
	}
}

func writeFile(t *testing.T, path, doc string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}
