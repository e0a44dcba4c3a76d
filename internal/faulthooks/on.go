//go:build faulthooks

package faulthooks

import (
	"context"
	"fmt"
	"os"
	"time"
)

// AfterCommit pauses forever when FAULTHOOK_PAUSE_AFTER_COMMIT is "1", after announcing it on
// stderr (the test waits for that line, then kills the process).
func AfterCommit(_ context.Context, sessionID string) {
	if os.Getenv("FAULTHOOK_PAUSE_AFTER_COMMIT") != "1" {
		return
	}
	fmt.Fprintf(os.Stderr, "FAULTHOOK paused after commit %s\n", sessionID)
	select {}
}

// Timing reads FAULTHOOK_ANNOUNCE_DELAY and FAULTHOOK_EXPIRY_GRACE; one that is unset or not a
// positive duration is zero (the default).
func Timing() Overrides {
	return Overrides{AnnounceDelay: duration("FAULTHOOK_ANNOUNCE_DELAY"), ExpiryGrace: duration("FAULTHOOK_EXPIRY_GRACE")}
}

func duration(name string) time.Duration {
	d, err := time.ParseDuration(os.Getenv(name))
	if err != nil || d < 0 {
		return 0
	}
	return d
}
