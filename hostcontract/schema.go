package hostcontract

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaStore file names in the specs folder (../shared/specs relative to the repo root).
const (
	HostSchemaFile     = "schemastore-host.schema.json"
	FunctionSchemaFile = "schemastore-function.schema.json"
)

// Schemas validates host.json and function.json documents against SchemaStore's schemas.
type Schemas struct {
	host, function *jsonschema.Schema
}

// ErrSchemasAbsent is returned by LoadSchemas when the folder lacks the schema files.
var ErrSchemasAbsent = errors.New("SchemaStore schemas absent")

// LoadSchemas compiles the two schemas in dir. It never touches the network: $refs to the
// SchemaStore URLs of these two files resolve to dir, the JSON Schema meta-schemas are built into
// the library, and any other remote $ref fails with an error that names it (see offlineLoader).
func LoadSchemas(dir string) (*Schemas, error) {
	for _, name := range []string{HostSchemaFile, FunctionSchemaFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSchemasAbsent, err)
		}
	}
	loader := offlineLoader{
		"https://json.schemastore.org/host.json":     filepath.Join(dir, HostSchemaFile),
		"https://json.schemastore.org/function.json": filepath.Join(dir, FunctionSchemaFile),
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{"file": loader, "http": loader, "https": loader})
	host, err := c.Compile(filepath.Join(dir, HostSchemaFile))
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", HostSchemaFile, err)
	}
	function, err := c.Compile(filepath.Join(dir, FunctionSchemaFile))
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", FunctionSchemaFile, err)
	}
	return &Schemas{host: host, function: function}, nil
}

// ValidateHost validates a host.json document.
func (s *Schemas) ValidateHost(doc []byte) error { return validate(s.host, doc) }

// ValidateFunction validates a function.json document.
func (s *Schemas) ValidateFunction(doc []byte) error { return validate(s.function, doc) }

func validate(sch *jsonschema.Schema, doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(v)
}

// offlineLoader loads file URLs from disk and maps the known SchemaStore URLs to local copies.
// Tests run without internet, so any other http(s) $ref fails at compile time with its URL in
// the message, instead of hanging or passing by accident; to support it, add its local copy to
// the specs folder and to this map.
type offlineLoader map[string]string

func (l offlineLoader) Load(url string) (any, error) {
	path, ok := l[strings.TrimSuffix(url, "#")]
	if !ok {
		if !strings.HasPrefix(url, "file://") {
			return nil, fmt.Errorf("remote $ref %s: tests run offline and no local copy is mapped for it", url)
		}
		var err error
		if path, err = (jsonschema.FileLoader{}).ToFile(url); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return upgradeDraft4Const(doc), nil
}

const (
	draft4 = "http://json-schema.org/draft-04/schema#"
	draft6 = "http://json-schema.org/draft-06/schema#"
)

// upgradeDraft4Const compiles a draft-04 schema that uses "const" as draft-06. SchemaStore's
// function.json declares draft-04 but writes `{"type": {"const": "sql"}}` in its sqlBinding and
// mySqlBinding branches; "const" arrived in draft-06, so a strict draft-04 validator ignores it,
// those branches then match every binding, and the bindings' oneOf rejects every valid
// function.json. SchemaStore's own tooling (ajv) and editors honour "const" in any draft; so do we.
// Draft-06 changes nothing else these schemas use ("id" is left unused: all $refs are fragments).
func upgradeDraft4Const(doc any) any {
	m, ok := doc.(map[string]any)
	if !ok || m["$schema"] != draft4 || !usesKeyword(doc, "const") {
		return doc
	}
	m["$schema"] = draft6
	return m
}

func usesKeyword(v any, keyword string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			if k == keyword || usesKeyword(sub, keyword) {
				return true
			}
		}
	case []any:
		for _, sub := range v {
			if usesKeyword(sub, keyword) {
				return true
			}
		}
	}
	return false
}
