package handlers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// Between a session's expiry and expiry plus the grace period, a user who started at the last
// moment may still finish: Reconcile must not expire the session yet, and an expiry entry it
// meets in that window (filed at the bare expiry, as an older version or a hand did) is filed
// again for expiry plus grace, when it then expires the session.
func TestReconcileInsideTheGraceWindowExpiresNothing(t *testing.T) {
	for _, filedAt := range []string{"expiry plus grace", "the bare expiry"} {
		t.Run("entry filed at "+filedAt, func(t *testing.T) {
			a := newApp(t, nil)
			v := a.start(`{"ttlSeconds":120}`)
			expires, err := time.Parse(time.RFC3339Nano, v.ExpiresAt)
			if err != nil {
				t.Fatalf("expiresAt %q: %v", v.ExpiresAt, err)
			}
			grace := a.srv.opts.ExpiryGrace
			if grace < 2*time.Second {
				t.Fatalf("grace period %v leaves no window to test", grace)
			}
			due := expires.Add(grace)
			if filedAt == "the bare expiry" {
				for _, d := range a.dueFor(v.SessionID) {
					if err := a.store.DeleteDue(t.Context(), d); err != nil {
						t.Fatalf("DeleteDue: %v", err)
					}
				}
				a.addDue(v.SessionID, liveness.DueExpire, expires)
			}

			for _, at := range []time.Time{expires.Add(time.Second), due.Add(-time.Second)} {
				a.clock.Set(at)
				a.reconcile()
				if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusCreated {
					t.Fatalf("status at expiry + %v (grace %v) = %s, want created", at.Sub(expires), grace, g.Status)
				}
				want := []liveness.DueItem{{SessionID: v.SessionID, Reason: liveness.DueExpire, Due: due}}
				if diff := cmp.Diff(want, a.dueFor(v.SessionID), ignoreETag); diff != "" {
					t.Errorf("due entries at expiry + %v (-want +got):\n%s", at.Sub(expires), diff)
				}
			}

			a.clock.Set(due)
			a.reconcile()
			if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusExpired {
				t.Errorf("status at expiry plus grace = %s, want expired", g.Status)
			}
		})
	}
}
