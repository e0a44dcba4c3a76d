// Package pack lays out an Azure Functions custom-handler app the way the host reads it and zips
// it for deployment: host.json and one folder per function at the root, and the handler binary
// with its exec bit, which the host needs to start it (functions-custom-handler.md §10).
package pack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// App is the source of a package.
type App struct {
	// Root holds host.json and functions/<Name>/function.json.
	Root string
	// Handler is the linux/amd64 handler binary, installed under host.json's
	// customHandler.description.defaultExecutablePath.
	Handler string
}

// Staged describes a staged app folder.
type Staged struct {
	Dir        string
	Executable string   // slash path of the handler inside Dir
	Functions  []string // function names, sorted
}

// Stage copies app into dir, which must not exist: host.json, each functions/<Name>/ folder as
// <Name>/ (the host looks for function.json one level below the app root), and the handler.
func Stage(app App, dir string) (*Staged, error) {
	hostJSON, err := os.ReadFile(filepath.Join(app.Root, "host.json"))
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	exe, err := executablePath(hostJSON)
	if err != nil {
		return nil, err
	}
	if err := CheckHandler(app.Handler); err != nil {
		return nil, err
	}
	functions, err := functionNames(filepath.Join(app.Root, "functions"))
	if err != nil {
		return nil, err
	}
	for _, name := range functions {
		if name == "host.json" || name == filepath.ToSlash(exe) || filepath.Dir(filepath.FromSlash(exe)) == name {
			return nil, fmt.Errorf("pack: function folder %q collides with %s at the app root", name, exe)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("pack: %s already exists", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "host.json"), hostJSON, 0o644); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	for _, name := range functions {
		if err := os.CopyFS(filepath.Join(dir, name), os.DirFS(filepath.Join(app.Root, "functions", name))); err != nil {
			return nil, fmt.Errorf("pack: function %s: %w", name, err)
		}
	}
	target := filepath.Join(dir, filepath.FromSlash(exe))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	if err := copyFile(app.Handler, target, 0o755); err != nil {
		return nil, err
	}
	return &Staged{Dir: dir, Executable: exe, Functions: functions}, nil
}

// executablePath reads customHandler.description.defaultExecutablePath. The host resolves a
// relative path against the app root; anything else would not be in the package.
func executablePath(hostJSON []byte) (string, error) {
	var h struct {
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
		} `json:"customHandler"`
	}
	if err := json.Unmarshal(hostJSON, &h); err != nil {
		return "", fmt.Errorf("pack: host.json: %w", err)
	}
	exe := h.CustomHandler.Description.DefaultExecutablePath
	if exe == "" {
		return "", errors.New("pack: host.json has no customHandler.description.defaultExecutablePath")
	}
	if !filepath.IsLocal(filepath.FromSlash(exe)) || exe == "host.json" {
		return "", fmt.Errorf("pack: defaultExecutablePath %q must be a path inside the app root", exe)
	}
	return filepath.ToSlash(filepath.Clean(filepath.FromSlash(exe))), nil
}

func functionNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "function.json")); err != nil {
			return nil, fmt.Errorf("pack: function folder %s: %w", e.Name(), err)
		}
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("pack: no function folders in %s", dir)
	}
	slices.Sort(names)
	return names, nil
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("pack: copying %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	// The umask may have taken bits away; the host needs them.
	return os.Chmod(dst, mode)
}
