package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/pack"
)

// TestPackageRepository builds the real handler the way `make package` does, packages this
// repository and checks the zip is what the Functions host expects at the app root.
func TestPackageRepository(t *testing.T) {
	root := filepath.Join("..", "..")
	out := t.TempDir()
	handler := filepath.Join(out, "handler")
	build := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", handler, "./cmd/handler")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/handler for linux/amd64: %v\n%s", err, b)
	}
	// A function folder left from an older package must not survive.
	stale := filepath.Join(out, "app", "Removed")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}

	var stdout bytes.Buffer
	if err := run([]string{"-root", root, "-handler", handler, "-out", out}, &stdout); err != nil {
		t.Fatalf("package: %v", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale folder %s survived packaging (%v)", stale, err)
	}

	// -zip=false stages the same folder (for `func start`) and writes no zip.
	stageOnly := t.TempDir()
	if err := run([]string{"-root", root, "-handler", handler, "-out", stageOnly, "-zip=false"}, io.Discard); err != nil {
		t.Fatalf("package -zip=false: %v", err)
	}
	if _, err := os.Stat(filepath.Join(stageOnly, "app.zip")); !os.IsNotExist(err) {
		t.Errorf("package -zip=false wrote app.zip (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(stageOnly, "app", "host.json")); err != nil {
		t.Errorf("package -zip=false staged no app folder: %v", err)
	}

	want := map[string][]byte{}
	hostJSON, err := os.ReadFile(filepath.Join(root, "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	want["host.json"] = hostJSON
	functions, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	if err != nil || len(functions) == 0 {
		t.Fatalf("no functions/*/function.json in the repository (%v)", err)
	}
	for _, f := range functions {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want[filepath.Base(filepath.Dir(f))+"/function.json"] = b
	}

	zr, err := zip.OpenReader(filepath.Join(out, "app.zip"))
	if err != nil {
		t.Fatalf("opening app.zip: %v", err)
	}
	defer zr.Close()
	var sawHandler bool
	for _, f := range zr.File {
		switch {
		case f.Name == "handler":
			sawHandler = true
			if f.Mode().Perm() != 0o755 || !f.Mode().IsRegular() {
				t.Errorf("handler mode %v, want 0755: the host starts it without a shell", f.Mode())
			}
			checkELF(t, f)
		case strings.HasSuffix(f.Name, "/") && f.Mode().IsDir():
			if _, ok := want[f.Name+"function.json"]; !ok {
				t.Errorf("zip has folder %s, which is not a function", f.Name)
			}
		default:
			content, ok := want[f.Name]
			if !ok {
				t.Errorf("zip has unexpected file %s", f.Name)
				continue
			}
			delete(want, f.Name)
			if got := readEntry(t, f); !bytes.Equal(got, content) {
				t.Errorf("%s differs from the repository's", f.Name)
			}
		}
	}
	if !sawHandler {
		t.Error("zip has no handler at its root")
	}
	for name := range want {
		t.Errorf("zip lacks %s (host.json and every function folder belong at the app root)", name)
	}
	if info, err := os.Stat(filepath.Join(out, "app", "handler")); err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("staged dist/app/handler: %v, mode %v; want 0755", err, info.Mode())
	}
}

func readEntry(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkELF(t *testing.T, f *zip.File) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "handler")
	if err := os.WriteFile(p, readEntry(t, f), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := pack.CheckHandler(p); err != nil {
		t.Error(err)
	}
}

func TestRunRejectsArguments(t *testing.T) {
	if err := run([]string{"extra"}, io.Discard); err == nil {
		t.Error("run accepted a positional argument")
	}
}
