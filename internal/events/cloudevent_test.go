package events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

func TestMarshalFinalSessions(t *testing.T) {
	created := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	done := created.Add(3 * time.Minute)
	cases := []struct {
		name       string
		sess       liveness.Session
		wantType   string
		wantPassed bool
	}{
		{"completed realface", liveness.Session{Kind: liveness.KindLiveness, Status: liveness.StatusCompleted,
			Outcome: &liveness.Outcome{Decision: "realface", AttemptCount: 1, ModelVersion: "2024-11-15"}}, "Liveness.Session.Completed", true},
		{"completed spoof", liveness.Session{Kind: liveness.KindLiveness, Status: liveness.StatusCompleted,
			Outcome: &liveness.Outcome{Decision: "spoofface", AttemptCount: 2}}, "Liveness.Session.Completed", false},
		{"verify not identical", liveness.Session{Kind: liveness.KindLivenessWithVerify, Status: liveness.StatusCompleted,
			Outcome: &liveness.Outcome{Decision: "realface", Verify: &liveness.VerifyResult{IsIdentical: false, MatchConfidence: 0.2}}}, "Liveness.Session.Completed", false},
		{"verify identical", liveness.Session{Kind: liveness.KindLivenessWithVerify, Status: liveness.StatusCompleted,
			Outcome: &liveness.Outcome{Decision: "realface", Verify: &liveness.VerifyResult{IsIdentical: true, MatchConfidence: 0.9}}}, "Liveness.Session.Completed", true},
		{"failed", liveness.Session{Kind: liveness.KindLiveness, Status: liveness.StatusFailed,
			Outcome: &liveness.Outcome{AttemptCount: 1, Failure: &liveness.Failure{Code: "FaceWithMaskDetected"}}}, "Liveness.Session.Failed", false},
		{"abandoned", liveness.Session{Kind: liveness.KindLiveness, Status: liveness.StatusAbandoned}, "Liveness.Session.Abandoned", false},
		{"expired", liveness.Session{Kind: liveness.KindLiveness, Status: liveness.StatusExpired}, "Liveness.Session.Expired", false},
		{"canceled", liveness.Session{Kind: liveness.KindLiveness, Status: liveness.StatusCanceled}, "Liveness.Session.Canceled", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.sess
			s.ID = "0b4e2a3c-1111-4222-8333-444455556666"
			s.CreatedAt, s.CompletedAt = created, done
			s.AuthToken = "eyJ-secret-token"
			s.ReturnURL = "https://app.example.com/back"
			body, err := Marshal(&s, "https://func.example.com")
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if strings.Contains(string(body), "eyJ-secret-token") || strings.Contains(string(body), "app.example.com/back") {
				t.Fatalf("event carries the token or the return URL: %s", body)
			}
			var ev CloudEvent
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Fatalf("event is not JSON: %v", err)
			}
			if ev.Type != c.wantType {
				t.Errorf("type = %q, want %q", ev.Type, c.wantType)
			}
			if want := s.ID + "/" + string(s.Status); ev.ID != want {
				t.Errorf("id = %q, want %q", ev.ID, want)
			}
			if ev.Subject != s.ID || ev.SpecVersion != "1.0" || ev.Source != "https://func.example.com" {
				t.Errorf("envelope = %+v", ev)
			}
			if ev.Time != "2026-11-25T10:03:00Z" {
				t.Errorf("time = %q, want the completion time", ev.Time)
			}
			if ev.Data.Passed != c.wantPassed {
				t.Errorf("passed = %v, want %v", ev.Data.Passed, c.wantPassed)
			}
		})
	}
}

func TestMarshalRejectsOpenSession(t *testing.T) {
	for _, st := range []liveness.Status{liveness.StatusCreated, liveness.StatusLinkIssued} {
		if _, err := Marshal(&liveness.Session{Status: st}, "https://x"); err == nil {
			t.Errorf("Marshal accepted a session in state %s", st)
		}
	}
}

// TestMarshalRefusesUnsendableID: an event whose id Service Bus would refuse is never built, so it
// never reaches the outbox.
func TestMarshalRefusesUnsendableID(t *testing.T) {
	s := liveness.Session{ID: strings.Repeat("a", 128-len("/canceled")+1), Kind: liveness.KindLiveness, Status: liveness.StatusCanceled}
	if _, err := Marshal(&s, "https://x"); !errors.Is(err, ErrMessageIDTooLong) {
		t.Errorf("Marshal of a %d-character id = %v, want ErrMessageIDTooLong", len(MessageID(s.ID, s.Status)), err)
	}
	s.ID = strings.Repeat("a", 128-len("/canceled")) // exactly the limit
	if _, err := Marshal(&s, "https://x"); err != nil {
		t.Errorf("Marshal of a %d-character id: %v", len(MessageID(s.ID, s.Status)), err)
	}
}
