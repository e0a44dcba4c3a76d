package infra

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestBicepSyntax runs the tree-sitter check on every template in infra/.
func TestBicepSyntax(t *testing.T) {
	stdout, stderr, err := runChecker(t, ".", "--json", ".")
	if err != nil {
		t.Fatalf("check-bicep.mjs rejects infra/: %v\n%s", err, stderr)
	}
	var parsed struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if err := json.Unmarshal(stdout, &parsed); err != nil {
		t.Fatal(err)
	}
	var checked []string
	for _, f := range parsed.Files {
		checked = append(checked, filepath.ToSlash(f.Path))
	}
	want, err := bicepFilesIn(".")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(checked)
	if !slices.Equal(checked, want) {
		t.Errorf("checked %v, want every template %v", checked, want)
	}
}

func bicepFilesIn(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && (strings.HasSuffix(p, ".bicep") || strings.HasSuffix(p, ".bicepparam")) {
			out = append(out, filepath.ToSlash(p))
		}
		return err
	})
	slices.Sort(out)
	return out, err
}

// TestBicepSyntaxCheckCatchesErrors proves the check fails, with file:line:col, on broken files.
func TestBicepSyntaxCheckCatchesErrors(t *testing.T) {
	const good = `param location string = resourceGroup().location

resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st${uniqueString(resourceGroup().id)}'
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
  }
}

var names = [
  'a'
  'b'
]

output id string = st.id
`
	cases := []struct {
		name     string
		old, new string
		wantLine int // 0: any line
	}{
		{"missing closing brace", "  }\n}\n", "  }\n", 0},
		{"missing closing bracket", "  'b'\n]\n", "  'b'\n", 0},
		{"dangling equals", "output id string = st.id", "output id string =", 20},
		{"unterminated string", "kind: 'StorageV2'", "kind: 'StorageV2", 0},
		{"missing parenthesis", "uniqueString(resourceGroup().id)", "uniqueString(resourceGroup().id", 4},
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "good.bicep"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runChecker(t, dir, "good.bicep"); err != nil {
		t.Fatalf("the unbroken file fails the check: %v\n%s", err, stderr)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(good, c.old) {
				t.Fatalf("the good file has no %q", c.old)
			}
			dir := t.TempDir()
			broken := strings.Replace(good, c.old, c.new, 1)
			if err := os.WriteFile(filepath.Join(dir, "broken.bicep"), []byte(broken), 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, err := runChecker(t, dir, "broken.bicep")
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("check-bicep.mjs = %v, want exit status 1; stderr:\n%s", err, stderr)
			}
			m := regexp.MustCompile(`(?m)^broken\.bicep:(\d+):(\d+): \S`).FindSubmatch(stderr)
			if m == nil {
				t.Fatalf("no file:line:col report in:\n%s", stderr)
			}
			if line, _ := strconv.Atoi(string(m[1])); c.wantLine != 0 && line != c.wantLine {
				t.Errorf("reported line %d, want %d:\n%s", line, c.wantLine, stderr)
			}
		})
	}
}

func TestBicepSyntaxCheckUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"no-such-dir"}} {
		_, _, err := runChecker(t, t.TempDir(), args...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("check-bicep.mjs %v = %v, want exit status 2 (nothing was checked)", args, err)
		}
	}
}
