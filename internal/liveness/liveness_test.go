package liveness

import (
	"strings"
	"testing"
)

func TestValidSessionID(t *testing.T) {
	cases := map[string]bool{
		"0b4e2a3c-1111-4222-8333-444455556666":     true,
		"0B4E2A3C-1111-4222-8333-444455556666":     true,
		"":                                         false,
		"0b4e2a3c11114222833344445555666":          false,
		"0b4e2a3c-1111-4222-8333-4444555566667":    false,
		"{0b4e2a3c-1111-4222-8333-444455556666}":   false,
		"0b4e2a3c-1111-4222-8333-44445555666'":     false,
		"x' or PartitionKey ne 'y":                 false,
		"../0b4e2a3c-1111-4222-8333-444455556666":  false,
		"0b4e2a3c-1111-4222-8333-444455556666\n":   false,
		"0b4e2a3c-1111-4222-8333-444455556666/../": false,
	}
	for id, want := range cases {
		if got := ValidSessionID(id); got != want {
			t.Errorf("ValidSessionID(%q) = %v, want %v", id, got, want)
		}
	}
}

func FuzzValidSessionID(f *testing.F) {
	f.Add("0b4e2a3c-1111-4222-8333-444455556666")
	f.Add("x' or 1 eq 1")
	f.Fuzz(func(t *testing.T, id string) {
		if !ValidSessionID(id) {
			return
		}
		// Whatever passes is safe in a table key and an OData literal.
		if len(id) != 36 || strings.ContainsAny(id, "'\"/\\#?% \t\r\n") {
			t.Fatalf("accepted %q", id)
		}
	})
}

func TestFinalStates(t *testing.T) {
	final := map[Status]bool{
		StatusCreated: false, StatusLinkIssued: false,
		StatusCompleted: true, StatusFailed: true, StatusAbandoned: true, StatusExpired: true, StatusCanceled: true,
	}
	for s, want := range final {
		if s.Final() != want {
			t.Errorf("%s.Final() = %v, want %v", s, !want, want)
		}
	}
}

func TestPassed(t *testing.T) {
	cases := []struct {
		name string
		s    Session
		want bool
	}{
		{"no outcome", Session{Kind: KindLiveness}, false},
		{"realface", Session{Kind: KindLiveness, Outcome: &Outcome{Decision: "realface"}}, true},
		{"realFace spelling", Session{Kind: KindLiveness, Outcome: &Outcome{Decision: "realFace"}}, true},
		{"spoof", Session{Kind: KindLiveness, Outcome: &Outcome{Decision: "spoofface"}}, false},
		{"uncertain", Session{Kind: KindLiveness, Outcome: &Outcome{Decision: "uncertain"}}, false},
		{"verify without result", Session{Kind: KindLivenessWithVerify, Outcome: &Outcome{Decision: "realface"}}, false},
		{"verify other person", Session{Kind: KindLivenessWithVerify, Outcome: &Outcome{Decision: "realface", Verify: &VerifyResult{IsIdentical: false}}}, false},
		{"verify same person", Session{Kind: KindLivenessWithVerify, Outcome: &Outcome{Decision: "realface", Verify: &VerifyResult{IsIdentical: true}}}, true},
	}
	for _, c := range cases {
		if got := c.s.Passed(); got != c.want {
			t.Errorf("%s: Passed() = %v, want %v", c.name, got, c.want)
		}
	}
}
