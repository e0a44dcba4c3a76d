package pack

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const testHostJSON = `{"version": "2.0", "customHandler": {"description": {"defaultExecutablePath": "handler"}, "enableForwardingHttpRequest": true}}`

// buildBinary cross-compiles a trivial program for goarch with cgo off.
func buildBinary(t *testing.T, goarch string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "handler-"+goarch)
	cmd := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", out, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build for linux/%s: %v\n%s", goarch, err, b)
	}
	return out
}

// writeTree writes files (slash paths) under a new temporary root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestStageAndZipLayout(t *testing.T) {
	root := writeTree(t, map[string]string{
		"host.json":                     testHostJSON,
		"functions/Alpha/function.json": `{"bindings":[]}`,
		"functions/Beta/function.json":  `{"bindings":[{"type":"timerTrigger"}]}`,
		"functions/Beta/readme.txt":     "kept beside its function.json",
		"local.settings.json":           `{"Values":{}}`,
		"go.mod":                        "module x",
	})
	handler := buildBinary(t, "amd64")
	staged, err := Stage(App{Root: root, Handler: handler}, filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if staged.Executable != "handler" || !slices.Equal(staged.Functions, []string{"Alpha", "Beta"}) {
		t.Errorf("Stage = %+v, want executable handler and functions [Alpha Beta]", staged)
	}
	if info, err := os.Stat(filepath.Join(staged.Dir, "handler")); err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("staged handler: %v, mode %v; want 0755", err, info.Mode())
	}

	var buf bytes.Buffer
	if err := Zip(&buf, staged.Dir, &ZipOptions{Executables: []string{staged.Executable}}); err != nil {
		t.Fatalf("Zip: %v", err)
	}
	entries := readZip(t, buf.Bytes())
	want := map[string]fs.FileMode{
		"Alpha/":              fs.ModeDir | 0o755,
		"Alpha/function.json": 0o644,
		"Beta/":               fs.ModeDir | 0o755,
		"Beta/function.json":  0o644,
		"Beta/readme.txt":     0o644,
		"handler":             0o755,
		"host.json":           0o644,
	}
	for name, mode := range want {
		e, ok := entries[name]
		if !ok {
			t.Errorf("zip has no %s", name)
			continue
		}
		if e.mode != mode {
			t.Errorf("%s: mode %v, want %v", name, e.mode, mode)
		}
	}
	for name := range entries {
		if _, ok := want[name]; !ok {
			t.Errorf("zip has unexpected entry %s", name)
		}
	}
	if got := entries["host.json"].content; got != testHostJSON {
		t.Errorf("host.json = %q, want the source's", got)
	}
	if got := entries["Beta/function.json"].content; got != `{"bindings":[{"type":"timerTrigger"}]}` {
		t.Errorf("Beta/function.json = %q, want the source's", got)
	}
}

type zipEntry struct {
	mode    fs.FileMode
	content string
}

func readZip(t *testing.T, b []byte) map[string]zipEntry {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("reading the zip: %v", err)
	}
	out := map[string]zipEntry{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = zipEntry{f.Mode(), string(content)}
	}
	return out
}

func TestStageRejects(t *testing.T) {
	good := map[string]string{"host.json": testHostJSON, "functions/A/function.json": "{}"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	amd64 := buildBinary(t, "amd64")
	arm64 := buildBinary(t, "arm64")
	notELF := filepath.Join(t.TempDir(), "handler.sh")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		files   map[string]string
		handler string
		want    string
	}{
		{"no host.json", with("host.json", ""), amd64, "host.json"},
		{"no executable path", with("host.json", `{"customHandler":{"description":{}}}`), amd64, "defaultExecutablePath"},
		{"executable outside the app", with("host.json", `{"customHandler":{"description":{"defaultExecutablePath":"../handler"}}}`), amd64, "inside the app root"},
		{"absolute executable", with("host.json", `{"customHandler":{"description":{"defaultExecutablePath":"/usr/bin/handler"}}}`), amd64, "inside the app root"},
		{"no functions", with("functions/A/function.json", ""), amd64, "no such file"},
		{"folder without function.json", with("functions/B/readme.txt", "x"), amd64, "function folder B"},
		{"function folder named like the executable", with("functions/handler/function.json", "{}"), amd64, "collides"},
		{"handler not ELF", good, notELF, "not an ELF binary"},
		{"handler for arm64", good, arm64, "want x86-64"},
		{"handler missing", good, filepath.Join(t.TempDir(), "none"), "not an ELF binary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := writeTree(t, c.files)
			_, err := Stage(App{Root: root, Handler: c.handler}, filepath.Join(t.TempDir(), "app"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Stage = %v, want an error about %q", err, c.want)
			}
		})
	}
	t.Run("destination exists", func(t *testing.T) {
		_, err := Stage(App{Root: writeTree(t, good), Handler: amd64}, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("Stage into an existing folder = %v, want an error", err)
		}
	})
}

func TestZipModesIgnoreTheDisk(t *testing.T) {
	dir := writeTree(t, map[string]string{"handler": "bin", "host.json": "{}"})
	// As on a Windows checkout or a umask that drops bits: the zip must still carry 0755.
	if err := os.Chmod(filepath.Join(dir, "handler"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "host.json"), 0o777); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Zip(&buf, dir, &ZipOptions{Executables: []string{"handler"}}); err != nil {
		t.Fatal(err)
	}
	entries := readZip(t, buf.Bytes())
	if m := entries["handler"].mode; m != 0o755 {
		t.Errorf("handler mode %v, want 0755", m)
	}
	if m := entries["host.json"].mode; m != 0o644 {
		t.Errorf("host.json mode %v, want 0644", m)
	}
}

func TestZipMissingExecutable(t *testing.T) {
	dir := writeTree(t, map[string]string{"host.json": "{}"})
	if err := Zip(io.Discard, dir, &ZipOptions{Executables: []string{"handler"}}); err == nil {
		t.Error("Zip succeeded without the executable it was told to mark")
	}
}

func TestZipIsReproducible(t *testing.T) {
	dir := writeTree(t, map[string]string{"handler": "bin", "host.json": "{}", "A/function.json": "{}"})
	var a, b bytes.Buffer
	if err := Zip(&a, dir, &ZipOptions{Executables: []string{"handler"}}); err != nil {
		t.Fatal(err)
	}
	// A later checkout or build touches the files: the bytes must not change.
	later := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "host.json"), later, later); err != nil {
		t.Fatal(err)
	}
	if err := Zip(&b, dir, &ZipOptions{Executables: []string{"handler"}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("zipping the same files twice gave different bytes")
	}
}

func FuzzExecutablePath(f *testing.F) {
	for _, s := range []string{testHostJSON, `{"customHandler":{"description":{"defaultExecutablePath":"../x"}}}`, `{}`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, hostJSON []byte) {
		exe, err := executablePath(hostJSON)
		if err != nil {
			return
		}
		if !filepath.IsLocal(filepath.FromSlash(exe)) || exe == "host.json" {
			t.Fatalf("accepted executable path %q outside the app root", exe)
		}
	})
}
