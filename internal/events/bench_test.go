package events

import (
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// BenchmarkMarshal builds a session's CloudEvent and encodes it (what a final state commits to
// the outbox); BenchmarkNewMessage turns that body into the Service Bus message the publisher
// sends (checks included).
func BenchmarkMarshal(b *testing.B) {
	s := finishedSession(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(s, fixtureSource); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewMessage(b *testing.B) {
	body, err := Marshal(finishedSession(b), fixtureSource)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewMessage(body); err != nil {
			b.Fatal(err)
		}
	}
}

// finishedSession is a completed verify session with its outcome, the largest event there is.
func finishedSession(b *testing.B) *liveness.Session {
	b.Helper()
	created := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := &liveness.Session{
		ID: "b12e033e-bda7-4b83-a211-e721c661f30e", Kind: liveness.KindLivenessWithVerify, Mode: liveness.ModePassiveActive,
		Status: liveness.StatusLinkIssued, ExternalReference: "order-42", ReturnURL: "https://app.example.com/checkout/done?order=42",
		TTLSeconds: 600, CreatedAt: created, ExpiresAt: created.Add(10 * time.Minute), LinkIssuedAt: created,
	}
	o := &liveness.Outcome{Decision: "realface", AttemptCount: 1, ModelVersion: "2024-11-15",
		Verify: &liveness.VerifyResult{IsIdentical: true, MatchConfidence: 0.93}}
	if err := s.Finish(liveness.StatusCompleted, o, created.Add(3*time.Minute)); err != nil {
		b.Fatal(err)
	}
	return s
}
