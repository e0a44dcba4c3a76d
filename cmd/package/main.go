// Command package stages the app for Azure Functions and zips it:
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "-s -w" -o dist/handler ./cmd/handler
//	go run ./cmd/package -root . -handler dist/handler -out dist
//
// writes dist/app/ (host.json, one folder per function, handler) and dist/app.zip, the package
// for `func azure functionapp publish` or `az functionapp deployment source config-zip`. With
// -zip=false it only stages the folder: `make func-app` stages bin/func/app for `func start`.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/liveness-quicklink/functions/internal/pack"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("package", flag.ContinueOnError)
	root := flags.String("root", ".", "app source: host.json and functions/<Name>/")
	handler := flags.String("handler", "dist/handler", "the linux/amd64 handler binary")
	out := flags.String("out", "dist", "output folder: <out>/app/ and <out>/app.zip")
	zip := flags.Bool("zip", true, "also write <out>/app.zip")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}

	appDir := filepath.Join(*out, "app")
	// Only the folder this command owns is replaced: a stale function folder must not linger.
	if err := os.RemoveAll(appDir); err != nil {
		return err
	}
	staged, err := pack.Stage(pack.App{Root: *root, Handler: *handler}, appDir)
	if err != nil {
		return err
	}
	if !*zip {
		fmt.Fprintf(stdout, "staged %s (%d functions: %v)\n", appDir, len(staged.Functions), staged.Functions)
		return nil
	}
	zipPath := filepath.Join(*out, "app.zip")
	size, err := writeZip(zipPath, staged)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "staged %s (%d functions: %v), wrote %s (%d bytes)\n", appDir, len(staged.Functions), staged.Functions, zipPath, size)
	return nil
}

// writeZip writes through a temporary file so a failed run never leaves a truncated package.
func writeZip(path string, staged *pack.Staged) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".app-*.zip")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	if err := pack.Zip(tmp, staged.Dir, &pack.ZipOptions{Executables: []string{staged.Executable}}); err != nil {
		tmp.Close()
		return 0, err
	}
	info, err := tmp.Stat()
	if err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return 0, err
	}
	return info.Size(), os.Rename(tmp.Name(), path)
}
