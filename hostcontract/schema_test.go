package hostcontract

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAppFilesMatchSchemaStoreSchemas(t *testing.T) {
	s := schemas(t)
	app := loadApp(t)
	if err := s.ValidateHost(app.HostJSONRaw); err != nil {
		t.Errorf("host.json does not match the SchemaStore schema:\n%v", err)
	}
	for _, f := range app.Functions {
		if err := s.ValidateFunction(f.Raw); err != nil {
			t.Errorf("%s/function.json does not match the SchemaStore schema:\n%v", f.Name, err)
		}
	}
}

// The validation must be able to fail, or the test above proves nothing.
func TestSchemasRejectBrokenFiles(t *testing.T) {
	s := schemas(t)
	tests := []struct {
		name     string
		validate func([]byte) error
		doc      string
	}{
		{"host.json executable path not a string", s.ValidateHost,
			`{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":5}}}`},
		{"host.json version 3", s.ValidateHost, `{"version":"3.0"}`},
		{"host.json routePrefix not a string", s.ValidateHost,
			`{"version":"2.0","extensions":{"http":{"routePrefix":1}}}`},
		{"host.json not JSON", s.ValidateHost, `{"version":`},
		{"binding direction sideways", s.ValidateFunction,
			`{"bindings":[{"type":"httpTrigger","direction":"sideways","name":"req"}]}`},
		{"httpTrigger authLevel public", s.ValidateFunction,
			`{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"public"}]}`},
		{"httpTrigger method fetch", s.ValidateFunction,
			`{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","methods":["fetch"]}]}`},
		{"timerTrigger as output", s.ValidateFunction,
			`{"bindings":[{"type":"timerTrigger","direction":"out","name":"timer"}]}`},
		{"binding without name", s.ValidateFunction,
			`{"bindings":[{"type":"http","direction":"out"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.validate([]byte(tt.doc)); err == nil {
				t.Errorf("schema accepted %s", tt.doc)
			}
		})
	}
}

// SchemaStore's function schema says draft-04 but uses "const"; compiled strictly as draft-04 it
// rejects every valid function.json (see upgradeDraft4Const).
func TestFunctionSchemaAcceptsValidBindingsDespiteDraft4Const(t *testing.T) {
	s := schemas(t)
	for _, doc := range []string{
		`{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","methods":["get"],"route":"x/{id}"},{"type":"http","direction":"out","name":"res"}]}`,
		`{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"0 */5 * * * *"}]}`,
	} {
		if err := s.ValidateFunction([]byte(doc)); err != nil {
			t.Errorf("valid function.json rejected: %s\n%v", doc, err)
		}
	}
}

func TestLoadSchemasFailsClearlyOnRemoteRef(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(HostSchemaFile, `{"$schema":"http://json-schema.org/draft-07/schema#","$ref":"https://example.org/remote.json"}`)
	write(FunctionSchemaFile, `{"$schema":"http://json-schema.org/draft-07/schema#"}`)
	_, err := LoadSchemas(dir)
	if err == nil || !strings.Contains(err.Error(), "https://example.org/remote.json") {
		t.Errorf("LoadSchemas with a remote $ref: error %v, want one naming the URL", err)
	}
}

func TestLoadSchemasMapsSchemaStoreURLsToLocalFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(FunctionSchemaFile, `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","required":["bindings"]}`)
	write(HostSchemaFile, `{"$schema":"http://json-schema.org/draft-07/schema#","$ref":"https://json.schemastore.org/function.json"}`)
	s, err := LoadSchemas(dir)
	if err != nil {
		t.Fatalf("LoadSchemas: %v", err)
	}
	if err := s.ValidateHost([]byte(`{}`)); err == nil {
		t.Error("the $ref to json.schemastore.org/function.json did not resolve to the local copy")
	}
}

func TestLoadSchemasReportsAbsence(t *testing.T) {
	if _, err := LoadSchemas(t.TempDir()); !errors.Is(err, ErrSchemasAbsent) {
		t.Errorf("LoadSchemas on an empty folder: %v, want ErrSchemasAbsent", err)
	}
}

func TestHostJSONConfiguresTheCustomHandler(t *testing.T) {
	h := loadApp(t).Host
	d := h.CustomHandler.Description
	if d.DefaultExecutablePath != "handler" {
		t.Errorf("customHandler.description.defaultExecutablePath = %q, want %q", d.DefaultExecutablePath, "handler")
	}
	if !h.CustomHandler.EnableForwardingHTTPRequest {
		t.Error("customHandler.enableForwardingHttpRequest is not true: HTTP functions would get the default payload")
	}
	if h.Extensions.HTTP.RoutePrefix == nil {
		t.Error("extensions.http.routePrefix is not set")
	}
}
