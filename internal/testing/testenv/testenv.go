// Package testenv provides the services that integration tests of several packages share: today the
// Azurite table service, run from the repository's npm install (`npm ci` at the repo root).
//
// A test calls StartAzurite(t). To share one Azurite across a package's test binary, the package adds
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// and `make test` may share one across all packages by exporting AZURITE_TABLES_CONNECTION_STRING.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod, found by walking up from the working directory
// (a package's directory under `go test`).
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := repoRoot()
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	return root
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
