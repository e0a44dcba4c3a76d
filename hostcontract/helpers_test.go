package hostcontract

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

const (
	envAppRoot  = "HOSTCONTRACT_APP_ROOT" // a staged package (e.g. dist/app) instead of the repo
	envSpecsDir = "SCHEMASTORE_SPECS_DIR" // the folder of the SchemaStore schemas
)

// appRoot is the app folder under test: $HOSTCONTRACT_APP_ROOT (relative to the repo root) or the
// repo root.
func appRoot(t *testing.T) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	if dir := os.Getenv(envAppRoot); dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		return dir
	}
	return root
}

func loadApp(t *testing.T) *App {
	t.Helper()
	app, err := LoadApp(appRoot(t))
	if err != nil {
		t.Fatalf("load the app: %v", err)
	}
	return app
}

// schemas compiles the SchemaStore schemas from ../shared/specs (or $SCHEMASTORE_SPECS_DIR), and
// skips the test when they are not there.
func schemas(t *testing.T) *Schemas {
	t.Helper()
	dir := os.Getenv(envSpecsDir)
	if dir == "" {
		dir = filepath.Join(testenv.RepoRoot(t), "..", "shared", "specs")
	}
	s, err := LoadSchemas(dir)
	if errors.Is(err, ErrSchemasAbsent) {
		t.Skipf("SchemaStore schemas not found in %s (set %s to their folder): %v", dir, envSpecsDir, err)
	}
	if err != nil {
		t.Fatalf("load the schemas: %v", err)
	}
	return s
}

// startHandler starts the stand-ins and the built handler on a free port with their settings, as
// most tests want it.
func startHandler(t *testing.T) (*Host, *StandIns) {
	t.Helper()
	app := loadApp(t)
	stand := StartStandIns(t)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	h := Start(t, app, &Options{Port: port, Settings: stand.Settings("http://127.0.0.1:" + strconv.Itoa(port))})
	return h, stand
}
