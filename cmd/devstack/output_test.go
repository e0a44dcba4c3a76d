package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// captureStdout runs f and returns what it printed.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = orig }()
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	f()
	w.Close()
	return <-done
}

func TestPrefixedPrintsEveryLineWhole(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	out := captureStdout(t, func() {
		w := prefixed("child")
		io.WriteString(w, "first\nsec")
		io.WriteString(w, "ond\n"+long+"\nafter the long one\nlast, without a newline")
		w.Close()
	})
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var texts []string
	for _, l := range lines {
		text, ok := strings.CutPrefix(l, "child   | ")
		if !ok {
			t.Fatalf("line %.40q lacks the prefix", l)
		}
		texts = append(texts, text)
	}
	if got := strings.Join(texts, ""); got != "firstsecond"+long+"after the long onelast, without a newline" {
		t.Errorf("printed text differs from what was written (%d bytes printed)", len(got))
	}
	if texts[len(texts)-1] != "last, without a newline" {
		t.Errorf("last printed line = %.60q, want the unterminated last line", texts[len(texts)-1])
	}
}

func TestLocalSettingsAreTheOwnersOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "local.settings.json")
	if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeLocalSettings(dir, map[string]string{"FACE_API_KEY": "k"}, 7071); err != nil {
		t.Fatalf("writeLocalSettings: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v over an earlier 0644 file, want 0600", info.Mode().Perm())
	}
}
