package pack

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// ZipOptions configures Zip.
type ZipOptions struct {
	// Executables are slash paths, relative to the folder, stored with mode 0755. Every other file
	// is stored 0644, whatever its mode on disk (which a checkout on Windows would not keep).
	Executables []string
	// Modified is the time of every entry; zero means 1980-01-01 (the zip epoch), so the same
	// input gives the same bytes.
	Modified time.Time
}

// Zip writes the folder dir to w as a zip archive, entries in lexical order with Unix modes.
func Zip(w io.Writer, dir string, opts *ZipOptions) error {
	if opts == nil {
		opts = &ZipOptions{}
	}
	modified := opts.Modified
	if modified.IsZero() {
		modified = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	zw := zip.NewWriter(w)
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		h := &zip.FileHeader{Name: name, Modified: modified}
		switch {
		case e.IsDir():
			h.Name += "/"
			h.SetMode(fs.ModeDir | 0o755)
			_, err := zw.CreateHeader(h)
			return err
		case !e.Type().IsRegular():
			return fmt.Errorf("pack: %s is not a regular file", name)
		case slices.Contains(opts.Executables, name):
			seen[name] = true
			h.SetMode(0o755)
		default:
			h.SetMode(0o644)
		}
		h.Method = zip.Deflate
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(fw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("pack: zipping %s: %w", dir, err)
	}
	for _, exe := range opts.Executables {
		if !seen[exe] {
			return fmt.Errorf("pack: executable %s is not in %s", exe, dir)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	return nil
}
