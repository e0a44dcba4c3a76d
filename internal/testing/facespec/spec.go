// Package facespec checks HTTP traffic against Microsoft's Face v1.2 OpenAPI (Swagger 2.0) file, so that the
// Face client and the Face stand-in are held to the real contract rather than to our reading of it.
// It is meant for tests: the file lives outside the repository and Load skips when it is absent.
package facespec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// EnvSpecPath names the environment variable that overrides where the spec file is read from.
const EnvSpecPath = "FACE_OPENAPI_SPEC"

// BasePath is where the Face v1.2 operations live on any endpoint.
const BasePath = "/face/v1.2"

// Spec is the loaded Face v1.2 API description. It is safe for concurrent use.
type Spec struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
}

// SpecPath returns the spec file location: $FACE_OPENAPI_SPEC, else ../shared/specs/face-v1.2.openapi.json
// relative to the repository root (the nearest folder above the working directory that holds go.mod).
func SpecPath() string {
	if p := os.Getenv(EnvSpecPath); p != "" {
		return p
	}
	return filepath.Join(repoRoot(), "..", "shared", "specs", "face-v1.2.openapi.json")
}

func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return wd
		}
	}
}

// Converting the 290 KB Swagger file takes tens of milliseconds and tests in several packages call Load
// once per test, so each file is converted once per process. Failures are not remembered.
var loaded struct {
	sync.Mutex
	specs map[string]*Spec
}

// Load returns the spec at SpecPath. It skips tb when the file is absent and fails tb on any other error.
func Load(tb testing.TB) *Spec {
	tb.Helper()
	path := SpecPath()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		tb.Skipf("Face OpenAPI spec not found at %s; set %s", path, EnvSpecPath)
	}
	s, err := loadCached(path)
	if err != nil {
		tb.Fatalf("facespec: %v", err)
	}
	return s
}

func loadCached(path string) (*Spec, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", path, err)
	}
	loaded.Lock()
	defer loaded.Unlock()
	if s := loaded.specs[abs]; s != nil {
		return s, nil
	}
	s, err := loadFile(abs)
	if err != nil {
		return nil, err
	}
	if loaded.specs == nil {
		loaded.specs = make(map[string]*Spec)
	}
	loaded.specs[abs] = s
	return s, nil
}

// loadFile reads and converts the Swagger 2.0 file at path.
func loadFile(path string) (*Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read Face spec: %w", err)
	}
	var doc2 openapi2.T
	if err := json.Unmarshal(raw, &doc2); err != nil {
		return nil, fmt.Errorf("parse Face spec %s: %w", path, err)
	}
	doc, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("convert Face spec to OpenAPI 3: %w", err)
	}
	// The file names its host with Azure's x-ms-parameterized-host ({endpoint}/face/{apiVersion}), which
	// kin-openapi does not read, so the document has no server and every path would be matched at the
	// root. A path-only server pins the version prefix; requests are routed on their path alone (see
	// route), so any endpoint — a random test port or a real resource — matches, and /face/v1.1 does not.
	doc.Servers = openapi3.Servers{{URL: BasePath}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("build router for Face spec: %w", err)
	}
	return &Spec{doc: doc, router: router, opts: validationOptions()}, nil
}
