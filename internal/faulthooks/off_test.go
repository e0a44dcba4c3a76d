//go:build !faulthooks

package faulthooks

import (
	"context"
	"testing"
	"time"
)

// TestHooksDoNothingWithoutTheTag: the production build ignores the suite's settings, even when
// they are set.
func TestHooksDoNothingWithoutTheTag(t *testing.T) {
	t.Setenv("FAULTHOOK_PAUSE_AFTER_COMMIT", "1")
	t.Setenv("FAULTHOOK_ANNOUNCE_DELAY", "1s")
	t.Setenv("FAULTHOOK_EXPIRY_GRACE", "1s")
	done := make(chan struct{})
	go func() {
		AfterCommit(context.Background(), "s")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("AfterCommit paused in a build without the faulthooks tag")
	}
	if got := Timing(); got != (Overrides{}) {
		t.Errorf("Timing() = %+v, want the zero Overrides (the defaults)", got)
	}
}
