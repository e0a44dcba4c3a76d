// Package faulthooks holds the handler's test-only fault hooks, for the process-level fault
// suite (internal/testing/faults). They exist only in a binary built with the build tag
// `faulthooks` (go build -tags faulthooks ./cmd/handler, which internal/testing/stack does when
// asked); in every other build, the production binary included, each hook is an empty function
// and no environment variable below is read.
//
// With the tag, the hooks obey these environment variables of the handler process:
//
//   - FAULTHOOK_PAUSE_AFTER_COMMIT=1: AfterCommit writes the line
//     "FAULTHOOK paused after commit <sessionId>" to stderr and blocks forever, so that a test can
//     SIGKILL the process between a final state's commit and its Service Bus send.
//   - FAULTHOOK_ANNOUNCE_DELAY, FAULTHOOK_EXPIRY_GRACE (Go durations, e.g. "1s"): Timing returns
//     them, shortening the announce entry's delay (store.Options.AnnounceDelay, one minute by
//     default) and the grace before expiry (handlers.Options.ExpiryGrace, two minutes), which
//     would otherwise hold a bounded test for minutes.
package faulthooks

import "time"

// Overrides are durations a test build may shorten; zero means the default.
type Overrides struct {
	AnnounceDelay time.Duration
	ExpiryGrace   time.Duration
}
