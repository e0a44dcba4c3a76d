package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"testing"
)

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
