package facestub

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
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
		id := createDirect(t, s, "k", `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","enableSessionImage":true}`)
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

// BenchmarkCreate is one create through the stand-in's handler (no sockets) with 0, 1,000 and
// 10,000 sessions live: the figures should be flat, so that local load figures measure the app
// and not the stand-in (issue 11, item 8).
func BenchmarkCreate(b *testing.B) {
	const body = `{"livenessOperationMode":"PassiveActive","deviceCorrelationId":"device-1"}`
	for _, live := range []int{0, 1_000, 10_000} {
		b.Run(strconv.Itoa(live)+"-live", func(b *testing.B) {
			s := New(&Options{APIKey: "bench-key"})
			b.Cleanup(s.Close)
			for range live {
				createDirect(b, s, "bench-key", body)
			}
			b.ReportAllocs()
			for b.Loop() {
				createDirect(b, s, "bench-key", body)
			}
		})
	}
}

// createDirect creates a liveness session through s's handler and returns its id.
func createDirect(tb testing.TB, s *Server, key, body string) string {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, "/face/v1.2/detectLiveness-sessions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ocp-Apim-Subscription-Key", key)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(rec.Body.String(), `{"sessionId":"`), `"`)
	return id
}
