package handlers

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// lostAnswer is a quick link service whose first answer is lost: the service swaps the token,
// and the handler hears 502 instead of the link; so do the next lost-1 calls. It counts the calls.
type lostAnswer struct {
	lost  int64 // 0 means 1
	calls atomic.Int64
}

func (l *lostAnswer) wrap(stub http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/quicklink" {
			stub.ServeHTTP(w, r)
			return
		}
		n := l.calls.Add(1)
		if n == 1 {
			stub.ServeHTTP(discardWriter{h: http.Header{}}, r)
		}
		if n <= max(l.lost, 1) {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		stub.ServeHTTP(w, r)
	})
}

// discardWriter is a ResponseWriter that drops the answer.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

// checkTokenDropped fails t unless the stored row of id is still created and holds no Face token.
func (a *app) checkTokenDropped(t *testing.T, id string) {
	t.Helper()
	a.checkTokenless(t, id, liveness.StatusCreated)
}

// checkTokenless fails t unless the stored row of id has status and no AuthToken column, and a
// LinkIssuedAt exactly when status is linkIssued.
func (a *app) checkTokenless(t *testing.T, id string, status liveness.Status) {
	t.Helper()
	row := a.rawSession(id)
	if row == nil {
		t.Fatalf("no row for session %s", id)
	}
	if tok, ok := row["AuthToken"]; ok {
		t.Errorf("the row still has an AuthToken column (%d characters)", len(tok.(string)))
	}
	if row["Status"] != string(status) {
		t.Errorf("row Status = %v, want %s", row["Status"], status)
	}
	if _, ok := row["LinkIssuedAt"]; ok != (status == liveness.StatusLinkIssued) {
		t.Errorf("the row has a LinkIssuedAt: %v, want %v", ok, status == liveness.StatusLinkIssued)
	}
}

// The service swapped the token but its answer was lost: the retry within the call hears the
// refusal of a used token. The session can never get a link, so the answer is 409
// link_unavailable at once, the spent token leaves the row, and every later IssueLink answers the
// same without calling the service again (it used to answer 503 forever, keeping the token).
func TestIssueLinkLostAnswer(t *testing.T) {
	l := &lostAnswer{}
	a := newApp(t, &appOptions{QuickLinks: l.wrap})
	sess := a.start(`{}`)
	a.link(sess.SessionID, nil).wantProblem(t, http.StatusConflict, "link_unavailable")
	if n := l.calls.Load(); n != 2 {
		t.Errorf("%d quick link calls, want 2 (the lost one and the refused retry)", n)
	}
	a.checkTokenDropped(t, sess.SessionID)

	calls := l.calls.Load()
	for _, body := range [][]byte{nil, []byte(`{"qr":"svg"}`)} {
		a.link(sess.SessionID, body).wantProblem(t, http.StatusConflict, "link_unavailable")
	}
	if n := l.calls.Load() - calls; n != 0 {
		t.Errorf("%d quick link calls after the token was dropped, want none", n)
	}
	if got := a.do("GET", "/api/sessions/"+sess.SessionID, nil, nil).session(t); got.Status != liveness.StatusCreated {
		t.Errorf("GetSession status = %s, want created", got.Status)
	}
	// The way out the answer names: cancel the session.
	if r := a.do("DELETE", "/api/sessions/"+sess.SessionID, nil, nil); r.status != http.StatusOK {
		t.Errorf("CancelSession = %d %s, want 200", r.status, r.body)
	}
}

// The answer is lost and so are those of every retry within the call: the handler cannot tell a
// swap from an outage, so it answers 503 and keeps the token; the client's retry then hears the
// refusal, and from then on the answer is 409 link_unavailable.
func TestIssueLinkLostAnswerThenOutage(t *testing.T) {
	l := &lostAnswer{lost: 4} // the first try and the client's 3 retries
	a := newApp(t, &appOptions{QuickLinks: l.wrap})
	sess := a.start(`{}`)
	before := a.rows()
	r := a.link(sess.SessionID, nil)
	r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("a 503 without Retry-After")
	}
	if n := l.calls.Load(); n != 4 {
		t.Fatalf("%d quick link calls, want 4 (a try and 3 retries)", n)
	}
	if after := a.rows(); !mapsEqual(before, after) {
		t.Errorf("the table changed on a transient failure: %v → %v", before, after)
	}
	a.link(sess.SessionID, nil).wantProblem(t, http.StatusConflict, "link_unavailable")
	a.checkTokenDropped(t, sess.SessionID)
	calls := l.calls.Load()
	a.link(sess.SessionID, nil).wantProblem(t, http.StatusConflict, "link_unavailable")
	if n := l.calls.Load() - calls; n != 0 {
		t.Errorf("%d quick link calls after the token was dropped, want none", n)
	}
}

// Every 4xx but 408 and 429 is a refusal for good: the token is dropped on the first answer, and
// later calls are 409 link_unavailable without reaching the service.
func TestIssueLinkTokenRefused(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusGone} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			a, g := newLinkApp(t)
			sess := a.start(`{}`)
			g.refuse.Store(int64(status))
			r := a.link(sess.SessionID, nil)
			r.wantProblem(t, http.StatusConflict, "link_unavailable")
			if ra := r.header.Get("Retry-After"); ra != "" {
				t.Errorf("Retry-After = %q on a refusal that no retry can change", ra)
			}
			if n := g.calls.Load(); n != 1 {
				t.Errorf("%d quick link calls, want 1 (a refusal is not retried)", n)
			}
			a.checkTokenDropped(t, sess.SessionID)
			g.refuse.Store(0) // even a service that would now accept it is not asked
			a.link(sess.SessionID, nil).wantProblem(t, http.StatusConflict, "link_unavailable")
			if n := g.calls.Load(); n != 1 {
				t.Errorf("%d quick link calls, want still 1", n)
			}
			if got := len(a.quick.IssuedLinkIDs()); got != 0 {
				t.Errorf("the quick link service made %d links, want none", got)
			}
		})
	}
}

// A 4xx that cannot be about the token (the request has no body and the token is its only
// credential) is this app's setup going wrong, say a QUICKLINK_ENDPOINT naming the wrong service:
// the token is kept, the answer is 503, and once the setup is right the link is issued.
func TestIssueLinkSetupErrorKeepsTheToken(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			a, g := newLinkApp(t)
			sess := a.start(`{}`)
			g.refuse.Store(int64(status))
			a.link(sess.SessionID, nil).wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
			if tok := a.storedSession(sess.SessionID).AuthToken; tok == "" {
				t.Fatalf("a %d dropped the session's token", status)
			}
			g.refuse.Store(0) // the setup is fixed
			if r := a.link(sess.SessionID, nil); r.status != http.StatusCreated {
				t.Errorf("after the setup was fixed IssueLink = %d %s, want 201", r.status, r.body)
			}
		})
	}
}

// Another instance's request dropped the token (its swap was refused because this one had just
// spent it) while this one's link was on its way to the table: this one still records its link,
// which is the session's, and answers it.
func TestIssueLinkRecordedAfterAnotherDroppedTheToken(t *testing.T) {
	a, gate := newLinkApp(t)
	sess := a.start(`{}`)
	gate.onNextCall(func(*http.Request) {
		other := a.storedSession(sess.SessionID)
		if err := other.TokenSpent(); err != nil {
			t.Errorf("the other instance's TokenSpent: %v", err)
		}
		if err := a.store.UpdateSession(t.Context(), other); err != nil {
			t.Errorf("the other instance's write: %v", err)
		}
	})
	r := a.link(sess.SessionID, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("IssueLink = %d %s, want 201", r.status, r.body)
	}
	a.checkLink(t, sess, r.linkOf(t))
	a.checkNoToken(t, sess.SessionID)
	a.link(sess.SessionID, nil).wantProblem(t, http.StatusConflict, "link_already_issued")
}

// A quick link call whose connection drops is transient: 503, the token kept, and the link issued
// once the service answers again.
func TestIssueLinkConnectionDropped(t *testing.T) {
	var drop atomic.Bool
	a := newApp(t, &appOptions{QuickLinks: func(stub http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/quicklink" && drop.Load() {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				conn.Close()
				return
			}
			stub.ServeHTTP(w, r)
		})
	}})
	sess := a.start(`{}`)
	before := a.rows()
	drop.Store(true)
	a.link(sess.SessionID, nil).wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	if after := a.rows(); !mapsEqual(before, after) {
		t.Errorf("the table changed on a dropped connection: %v → %v", before, after)
	}
	drop.Store(false)
	r := a.link(sess.SessionID, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("IssueLink once the service answers = %d %s, want 201", r.status, r.body)
	}
	a.checkLink(t, sess, r.linkOf(t))
	a.checkNoToken(t, sess.SessionID)
}
