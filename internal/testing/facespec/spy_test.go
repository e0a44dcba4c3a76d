package facespec

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
)

// spyTB records what code under test reports instead of failing the real test. Skip and Fatal end the
// calling goroutine, as the real ones do.
type spyTB struct {
	testing.TB
	mu      sync.Mutex
	errs    []string
	skipped bool
	fatal   bool
}

func (s *spyTB) Helper() {}

func (s *spyTB) Errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

func (s *spyTB) Skipf(string, ...any) {
	s.mu.Lock()
	s.skipped = true
	s.mu.Unlock()
	runtime.Goexit()
}

func (s *spyTB) Fatalf(format string, args ...any) {
	s.mu.Lock()
	s.fatal = true
	s.mu.Unlock()
	runtime.Goexit()
}

func (s *spyTB) errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errs...)
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
