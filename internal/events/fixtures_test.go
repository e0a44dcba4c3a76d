package events

import (
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

const fixtureSource = "https://func-liveness.azurewebsites.net"

// emitted is one event as the app emits it: a session taken to its final state by
// liveness.Session.Finish (so only states the domain allows appear) and encoded by Marshal.
type emitted struct {
	name       string
	sess       liveness.Session // final, as Marshal saw it
	body       []byte
	wantType   string
	wantPassed bool
	// doc marks the example docs/events.md shows for this event type.
	doc bool
}

// emittedEvents covers every final status, both kinds, every decision, passed both ways and the
// optional members present and absent.
func emittedEvents(t testing.TB) []emitted {
	t.Helper()
	created := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	done := created.Add(3*time.Minute + 27*time.Second + 512*time.Millisecond)
	outcome := func(decision string, v *liveness.VerifyResult) *liveness.Outcome {
		return &liveness.Outcome{Decision: decision, AttemptCount: 1, ModelVersion: "2024-11-15", Verify: v,
			Digest: "B0A803BB7B26F3C8F29CD36030F8E63ED3FAF955FEF30A08A9B2E67C2DDD3A59", SessionImageID: "3847ffd3-4657-4e6c-870c-8e20de52f567"}
	}
	failure := &liveness.Outcome{AttemptCount: 2, ModelVersion: "2024-11-15",
		Failure: &liveness.Failure{Code: "FaceWithMaskDetected", Message: "Mask detected on the face image."}}
	cases := []struct {
		name       string
		id         string
		kind       liveness.Kind
		ref        string
		returned   bool
		status     liveness.Status
		o          *liveness.Outcome
		wantPassed bool
		doc        bool
	}{
		{"completed realface", "6f1c2a4e-8d3b-4c7a-9e21-5b0d7f3a1c88", liveness.KindLiveness, "order-42", false,
			liveness.StatusCompleted, outcome("realface", nil), true, true},
		{"completed spoofface", "0b4e2a3c-1111-4222-8333-444455556666", liveness.KindLiveness, "order-43", false,
			liveness.StatusCompleted, outcome("spoofface", nil), false, false},
		{"completed uncertain without reference", "1d2e3f40-5a6b-4c7d-8e9f-a0b1c2d3e4f5", liveness.KindLiveness, "", false,
			liveness.StatusCompleted, outcome("uncertain", nil), false, false},
		{"completed verify identical", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", liveness.KindLivenessWithVerify, "customer-7", false,
			liveness.StatusCompleted, outcome("realface", &liveness.VerifyResult{IsIdentical: true, MatchConfidence: 0.9312}), true, true},
		{"completed verify other person", "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091", liveness.KindLivenessWithVerify, "customer-8", false,
			liveness.StatusCompleted, outcome("realface", &liveness.VerifyResult{IsIdentical: false, MatchConfidence: 0.0841}), false, false},
		{"completed verify spoof", "3c4d5e6f-7081-4923-8b4c-5d6e7f809102", liveness.KindLivenessWithVerify, "", false,
			liveness.StatusCompleted, outcome("spoofface", &liveness.VerifyResult{IsIdentical: true, MatchConfidence: 0.7}), false, false},
		{"failed", "4d5e6f70-8192-4a34-9c5d-6e7f80910213", liveness.KindLiveness, "order-44", false,
			liveness.StatusFailed, failure, false, true},
		{"failed verify", "5e6f7081-92a3-4b45-8d6e-7f8091021324", liveness.KindLivenessWithVerify, "", false,
			liveness.StatusFailed, failure, false, false},
		{"abandoned", "6f708192-a3b4-4c56-9e7f-809102132435", liveness.KindLiveness, "order-45", true,
			liveness.StatusAbandoned, nil, false, true},
		{"expired", "708192a3-b4c5-4d67-8f80-910213243546", liveness.KindLiveness, "order-46", false,
			liveness.StatusExpired, nil, false, true},
		{"expired verify", "8192a3b4-c5d6-4e78-9091-021324354657", liveness.KindLivenessWithVerify, "", false,
			liveness.StatusExpired, nil, false, false},
		{"canceled", "92a3b4c5-d6e7-4f89-8102-132435465768", liveness.KindLiveness, "order-47", false,
			liveness.StatusCanceled, nil, false, true},
		{"canceled verify", "a3b4c5d6-e7f8-4091-9213-243546576879", liveness.KindLivenessWithVerify, "", false,
			liveness.StatusCanceled, nil, false, false},
	}
	out := make([]emitted, 0, len(cases))
	for _, c := range cases {
		s := liveness.Session{
			ID: c.id, Kind: c.kind, Mode: liveness.ModePassiveActive, Status: liveness.StatusLinkIssued,
			ExternalReference: c.ref, ReturnURL: "https://app.example.com/checkout/done?order=42",
			TTLSeconds: 600, CreatedAt: created, ExpiresAt: created.Add(10 * time.Minute), LinkIssuedAt: created,
			AuthToken: "eyJhbGciOi.secret-token",
		}
		if c.returned {
			s.ReturnedAt = done.Add(-2 * time.Minute)
		}
		if err := s.Finish(c.status, c.o, done); err != nil {
			t.Fatalf("fixture %q: Finish: %v", c.name, err)
		}
		body, err := Marshal(&s, fixtureSource)
		if err != nil {
			t.Fatalf("fixture %q: Marshal: %v", c.name, err)
		}
		out = append(out, emitted{name: c.name, sess: s, body: body, wantType: typeByStatus[c.status],
			wantPassed: c.wantPassed, doc: c.doc})
	}
	return out
}
