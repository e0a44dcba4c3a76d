package handlers

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/tap"
)

// clock is a settable clock shared by the handler and the store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// tokenTap remembers every auth token the stand-in hands out, so tests can look for them where
// they must never be.
type tokenTap struct {
	mu  sync.Mutex
	set []string
}

func (tt *tokenTap) wrap(next http.Handler) http.Handler {
	return tap.Handler(next, func(x tap.Exchange) {
		var s struct{ AuthToken string }
		if json.Unmarshal(x.Body, &s) == nil && s.AuthToken != "" {
			tt.mu.Lock()
			tt.set = append(tt.set, s.AuthToken)
			tt.mu.Unlock()
		}
	})
}

func (tt *tokenTap) tokens() []string {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return append([]string(nil), tt.set...)
}

// faceHooks lets a test learn that a Face request has arrived, to act while it is in flight.
type faceHooks struct {
	mu sync.Mutex
	fn func(*http.Request)
}

func (h *faceHooks) set(fn func(*http.Request)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fn = fn
}

// wrap calls the hook set at the time a request arrives, then next.
func (h *faceHooks) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		fn := h.fn
		h.mu.Unlock()
		if fn != nil {
			fn(r)
		}
		next.ServeHTTP(w, r)
	})
}

// syncBuffer is a log sink that concurrent requests can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

// contains reports whether s has sub, for messages that should not quote large bodies.
func contains(s []byte, sub string) bool { return strings.Contains(string(s), sub) }
