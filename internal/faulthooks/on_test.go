//go:build faulthooks

package faulthooks

import (
	"testing"
	"time"
)

func TestTimingReadsTheSuitesSettings(t *testing.T) {
	t.Setenv("FAULTHOOK_ANNOUNCE_DELAY", "1s")
	t.Setenv("FAULTHOOK_EXPIRY_GRACE", "-3s") // not a delay: the default
	if got, want := Timing(), (Overrides{AnnounceDelay: time.Second}); got != want {
		t.Errorf("Timing() = %+v, want %+v", got, want)
	}
}
