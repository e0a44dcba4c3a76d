package facestub

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/testing/fakeclock"
)

// The indexes create and delete keep (byAge, each session's images) follow the sessions: a
// deleted session leaves them at once, an expired one at the next create, with its token and
// images, and the sessions still live keep theirs.
func TestIndexesFollowSessions(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	s := New(&Options{APIKey: "k", Now: clock.Now})
	t.Cleanup(s.Close)
	create := func() string {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/face/v1.2/detectLiveness-sessions",
			strings.NewReader(`{"livenessOperationMode":"Passive","deviceCorrelationId":"d","enableSessionImage":true}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Ocp-Apim-Subscription-Key", "k")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(rec.Body.String(), `{"sessionId":"`), `"`)
		for range 2 {
			if err := s.AddAttempt(id, Attempt{}); err != nil {
				t.Fatalf("AddAttempt: %v", err)
			}
		}
		return id
	}
	check := func(step string, want ...string) {
		t.Helper()
		s.mu.Lock()
		defer s.mu.Unlock()
		var aged, images []string
		for e := s.byAge.Front(); e != nil; e = e.Next() {
			sess := e.Value.(*session)
			aged = append(aged, sess.id)
			images = append(images, sess.images...)
		}
		if diff := cmp.Diff(want, aged); diff != "" {
			t.Errorf("%s: sessions by age (-want +got):\n%s", step, diff)
		}
		if got := slices.Sorted(maps.Keys(s.sessions)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("%s: sessions %v, want %v", step, got, want)
		}
		if got := slices.Sorted(maps.Keys(s.images)); !slices.Equal(got, slices.Sorted(slices.Values(images))) {
			t.Errorf("%s: images %v, want those of the live sessions %v", step, got, images)
		}
		if len(s.tokens) != len(want) {
			t.Errorf("%s: %d tokens, want one for each of %d sessions", step, len(s.tokens), len(want))
		}
	}

	a := create()
	clock.Advance(time.Hour)
	b := create()
	clock.Advance(time.Hour)
	c := create()
	check("three created", a, b, c)

	req := httptest.NewRequest(http.MethodDelete, "/face/v1.2/detectLiveness-sessions/"+b, nil)
	req.Header.Set("Ocp-Apim-Subscription-Key", "k")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	check("the second deleted", a, c)

	clock.Advance(SessionLifetime - 90*time.Minute) // a expired, c not yet
	d := create()
	check("a create after the first expired", c, d)

	clock.Advance(SessionLifetime)
	e := create()
	check("a create after all expired", e)
}
