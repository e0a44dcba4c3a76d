package liveness

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTransitions plays every event on every state of design §4 and compares the session after
// it, field by field, with what the design says.
func TestTransitions(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	now := t0.Add(5 * time.Minute)
	returned := t0.Add(time.Minute)
	decided := &Outcome{Decision: "realface", AttemptCount: 1, ModelVersion: "2024-11-15"}
	failure := &Outcome{AttemptCount: 1, Failure: &Failure{Code: "FaceWithMaskDetected"}}

	// The states, each a session as the store would return it.
	states := map[string]Session{
		"created":             {Status: StatusCreated, AuthToken: "token"},
		"linkIssued":          {Status: StatusLinkIssued, LinkIssuedAt: t0},
		"linkIssued+returned": {Status: StatusLinkIssued, LinkIssuedAt: t0, ReturnedAt: returned},
		"created+returned":    {Status: StatusCreated, AuthToken: "token", ReturnedAt: returned},
		"created+tokenSpent":  {Status: StatusCreated},
	}
	for _, st := range []Status{StatusCompleted, StatusFailed, StatusAbandoned, StatusExpired, StatusCanceled} {
		states[string(st)] = Session{Status: st, CompletedAt: t0}
	}

	type event struct {
		name string
		do   func(s *Session) (token string, err error)
	}
	finish := func(st Status, o *Outcome) event {
		return event{"Finish(" + string(st) + ")", func(s *Session) (string, error) { return "", s.Finish(st, o, now) }}
	}
	events := []event{
		{"IssueLink", func(s *Session) (string, error) { return s.IssueLink(now) }},
		{"Returned", func(s *Session) (string, error) { return "", s.Returned(now) }},
		{"TokenSpent", func(s *Session) (string, error) { return "", s.TokenSpent() }},
		{"LinkSwapped", func(s *Session) (string, error) { return "", s.LinkSwapped(now) }},
		finish(StatusCompleted, decided),
		finish(StatusFailed, failure),
		finish(StatusAbandoned, nil),
		finish(StatusExpired, nil),
		finish(StatusCanceled, nil),
	}

	// want is the outcome of one (state, event) pair: the session after it (nil: unchanged), the
	// token handed over, and the error kind (errBug: a plain error, a caller's bug).
	type want struct {
		after *Session
		token string
		err   error
	}
	finished := func(from Session, st Status, o *Outcome) *Session {
		from.Status, from.Outcome, from.CompletedAt, from.AuthToken = st, o, now, ""
		return &from
	}
	withReturn := func(from Session, at time.Time) *Session { from.ReturnedAt = at; return &from }
	open := func(from Session) map[string]want {
		w := map[string]want{
			"Returned":          {after: withReturn(from, returned)},
			"Finish(completed)": {after: finished(from, StatusCompleted, decided)},
			"Finish(failed)":    {after: finished(from, StatusFailed, failure)},
			"Finish(abandoned)": {after: finished(from, StatusAbandoned, nil)},
			"Finish(expired)":   {after: finished(from, StatusExpired, nil)},
			"Finish(canceled)":  {after: finished(from, StatusCanceled, nil)},
			"IssueLink":         {err: ErrLinkAlreadyIssued},
			"TokenSpent":        {err: ErrLinkAlreadyIssued},
			"LinkSwapped":       {err: ErrLinkAlreadyIssued},
		}
		if from.ReturnedAt.IsZero() {
			w["Returned"] = want{after: withReturn(from, now)}
			w["Finish(abandoned)"] = want{err: errBug}
		}
		if from.Status == StatusCreated {
			issued := from
			issued.Status, issued.LinkIssuedAt, issued.AuthToken = StatusLinkIssued, now, ""
			w["IssueLink"] = want{after: &issued, token: "token"}
			w["LinkSwapped"] = want{after: &issued}
			spent := from
			spent.AuthToken = ""
			w["TokenSpent"] = want{after: &spent}
			if from.AuthToken == "" {
				// The token was dropped as spent: no link can be swapped for it any more.
				w["IssueLink"] = want{err: ErrLinkUnavailable}
			}
		}
		return w
	}
	table := map[string]map[string]want{}
	for name, s := range states {
		if s.Status.Final() {
			table[name] = map[string]want{}
			for _, e := range events {
				table[name][e.name] = want{err: ErrSessionFinalized}
			}
			continue
		}
		table[name] = open(s)
	}

	for stateName, from := range states {
		for _, e := range events {
			t.Run(stateName+"/"+e.name, func(t *testing.T) {
				w, ok := table[stateName][e.name]
				if !ok {
					t.Fatalf("the table has no row for this pair")
				}
				s := from
				token, err := e.do(&s)
				switch {
				case w.err == errBug:
					if err == nil || errors.Is(err, ErrSessionFinalized) || errors.Is(err, ErrLinkAlreadyIssued) {
						t.Fatalf("error = %v, want a plain error (a caller's bug)", err)
					}
				case !errors.Is(err, w.err):
					t.Fatalf("error = %v, want %v", err, w.err)
				}
				if token != w.token {
					t.Errorf("token handed over = %q, want %q", token, w.token)
				}
				after := w.after
				if after == nil {
					after = &from // a refused event changes nothing
				}
				if diff := cmp.Diff(*after, s); diff != "" {
					t.Errorf("session after %s (-want +got):\n%s", e.name, diff)
				}
			})
		}
	}
}

var errBug = errors.New("a plain error")

func TestFinishRefusesOutcomesThatDoNotFitTheStatus(t *testing.T) {
	decided := &Outcome{Decision: "realface", AttemptCount: 1}
	failure := &Outcome{AttemptCount: 1, Failure: &Failure{Code: "x"}}
	tests := []struct {
		name   string
		status Status
		o      *Outcome
	}{
		{"completed without an outcome", StatusCompleted, nil},
		{"completed without a decision", StatusCompleted, &Outcome{AttemptCount: 1}},
		{"completed with a failure", StatusCompleted, &Outcome{Decision: "realface", Failure: &Failure{Code: "x"}}},
		{"failed without an outcome", StatusFailed, nil},
		{"failed with a decision", StatusFailed, &Outcome{Decision: "realface", Failure: &Failure{Code: "x"}}},
		{"failed without a failure", StatusFailed, decided},
		{"expired with an outcome", StatusExpired, decided},
		{"canceled with an outcome", StatusCanceled, failure},
		{"abandoned with an outcome", StatusAbandoned, decided},
		{"to created", StatusCreated, nil},
		{"to linkIssued", StatusLinkIssued, nil},
		{"to an unknown status", Status("done"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Session{Status: StatusLinkIssued, AuthToken: "token", ReturnedAt: time.Unix(1, 0)}
			before := s
			if err := s.Finish(tt.status, tt.o, time.Unix(2, 0)); err == nil {
				t.Fatalf("Finish(%s, %+v) succeeded", tt.status, tt.o)
			}
			if diff := cmp.Diff(before, s); diff != "" {
				t.Errorf("a refused Finish changed the session (-want +got):\n%s", diff)
			}
		})
	}
}
