package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/store"
	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// throughProxy points a's requests at a second server, built like a.srv, whose store reaches the
// same table through a fault proxy with the production client (retries and all).
func (a *app) throughProxy(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	p, connStr := faultproxy.InFront(t, testenv.StartAzurite(t).ConnectionString())
	svc, err := store.NewServiceClientFromConnectionString(connStr)
	if err != nil {
		t.Fatalf("tables client through the proxy: %v", err)
	}
	st, err := store.New(t.Context(), svc, &store.Options{TablePrefix: a.prefix, Now: a.clock.Now})
	if err != nil {
		t.Fatalf("store.New through the proxy: %v", err)
	}
	a.serveWith(t, st, a.srv.events)
	return p
}

// serveWith switches a's handler to one on st and events, with the same Face and quick link
// clients and settings.
func (a *app) serveWith(t *testing.T, st *store.Store, events EventPublisher) {
	t.Helper()
	opts := a.srv.opts
	srv := New(Deps{Face: a.face, QuickLinks: a.srv.quickLinks, Store: st, Events: events}, a.srv.settings, &opts)
	hs := httptest.NewServer(a.api.Middleware(t, noSecrets(t, a.secrets, srv.Handler())))
	t.Cleanup(hs.Close)
	a.url = hs.URL
}

// A start whose table write committed but whose answer was lost meets its own row when the SDK
// retries. Whatever row it was, the client gets 201 and exactly one Face session, which the table
// knows; with an Idempotency-Key a replay answers that same session.
func TestStartSessionMeetsItsOwnEarlierWrite(t *testing.T) {
	rows := []struct {
		name    string
		rule    faultproxy.Rule
		keyOnly bool
	}{
		{"idempotency reservation", faultproxy.Rule{Method: "POST", Body: `"RowKey":"idempotency"`}, true},
		{"idempotency completion", faultproxy.Rule{Method: "PUT", Path: "RowKey='idempotency'"}, true},
		{"expiry index", faultproxy.Rule{Method: "PUT", Path: "_expire'"}, false},
		{"session row", faultproxy.Rule{Method: "POST", Body: `"RowKey":"session"`}, false},
	}
	faults := []struct {
		name  string
		fault faultproxy.Fault
	}{
		{"answer lost", faultproxy.Lose},
		{"500 after the commit", faultproxy.Fail},
	}
	for _, row := range rows {
		for _, fl := range faults {
			for _, withKey := range []bool{true, false} {
				if row.keyOnly && !withKey {
					continue
				}
				name := row.name + "/" + fl.name + "/without Idempotency-Key"
				if withKey {
					name = row.name + "/" + fl.name + "/with Idempotency-Key"
				}
				t.Run(name, func(t *testing.T) {
					a := newApp(t, nil)
					p := a.throughProxy(t)
					rule := row.rule
					rule.Fault = fl.fault
					p.Inject(rule)

					header := map[string]string{}
					if withKey {
						header["Idempotency-Key"] = "k1-" + randomHex(t, 8)
					}
					body := []byte(`{"externalReference":"order-42"}`)
					r := a.do("POST", "/api/sessions", body, header)
					if p.Pending() != 0 {
						t.Fatalf("the fault was not injected: the test proves nothing")
					}
					if r.status != http.StatusCreated {
						t.Fatalf("POST /api/sessions = %d %s, want 201", r.status, r.body)
					}
					v := r.session(t)
					if got := a.stub.Stats().Create; got != 1 {
						t.Errorf("Face creates = %d, want exactly 1", got)
					}
					if _, err := a.faceSession(v.Kind, v.SessionID); err != nil {
						t.Errorf("the answered session's Face session is gone: %v", err)
					}
					if _, err := a.store.GetSession(t.Context(), v.SessionID); err != nil {
						t.Errorf("the answered session is not recorded: %v", err)
					}
					if !withKey {
						return
					}
					replay := a.do("POST", "/api/sessions", body, header)
					if replay.status != http.StatusOK || replay.session(t).SessionID != v.SessionID {
						t.Errorf("replay = %d %s, want 200 and session %s", replay.status, replay.body, v.SessionID)
					}
					if got := a.stub.Stats().Create; got != 1 {
						t.Errorf("Face creates after the replay = %d, want still 1", got)
					}
				})
			}
		}
	}
}

// When the session row cannot be written after Face created the session, the start answers 503
// and deletes the Face session it created: no Face session (token, link) outlives a failed start.
// The key is released, so that the same request goes through once the table is back.
func TestStartDeletesTheFaceSessionWhenTheSessionRowFails(t *testing.T) {
	for _, withKey := range []bool{true, false} {
		name := "without Idempotency-Key"
		if withKey {
			name = "with Idempotency-Key"
		}
		t.Run(name, func(t *testing.T) {
			a := newApp(t, nil)
			p := a.throughProxy(t)
			p.Inject(faultproxy.Rule{Method: "POST", Body: `"RowKey":"session"`, Fault: faultproxy.Refuse, Times: 100})

			header := map[string]string{}
			if withKey {
				header["Idempotency-Key"] = "row-fails-" + randomHex(t, 8)
			}
			body := []byte(`{"externalReference":"row-fails"}`)
			r := a.do("POST", "/api/sessions", body, header)
			r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")

			// The rule matches only the session insert, which comes after the index write.
			if p.Spoiled() == 0 {
				t.Fatalf("no session insert was refused: the start failed before it, the test proves nothing")
			}
			for k := range a.rows() {
				if strings.HasSuffix(k, "_expire") || strings.HasSuffix(k, "/session") {
					t.Errorf("row %s outlived the failed start", k)
				}
			}
			a.wantTheFaceSessionGone(t)

			p.Clear()
			if r := a.do("POST", "/api/sessions", body, header); r.status != http.StatusCreated {
				t.Errorf("the same request once the table is back = %d %s, want 201", r.status, r.body)
			}
		})
	}
}

// A session insert that may have committed unseen (every try's answer lost, the row unreadable)
// answers 503 and leaves nothing behind: no Face session, no session row, no expiry entry for
// Reconcile to finish and announce a session its client was never told about.
func TestStartThatCannotTellLeavesNoSession(t *testing.T) {
	a := newApp(t, nil)
	p := a.throughProxy(t)
	p.Inject(faultproxy.Rule{Method: "POST", Body: `"RowKey":"session"`, Fault: faultproxy.Lose, Times: 100})
	p.Inject(faultproxy.Rule{Method: "GET", Path: "RowKey='session'", Fault: faultproxy.Refuse, Times: 100})

	a.do("POST", "/api/sessions", []byte(`{"externalReference":"unseen"}`), nil).
		wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	if p.Spoiled() == 0 {
		t.Fatal("no session insert was spoiled: the test proves nothing")
	}
	for k := range a.rows() {
		if strings.HasSuffix(k, "/session") || strings.HasSuffix(k, "_expire") {
			t.Errorf("row %s outlived a start that answered 503", k)
		}
	}
	a.wantTheFaceSessionGone(t)
}

// What a failed start cannot delete, nothing acts on: the session row comes before its expiry
// entry, so a row left behind has none, and Reconcile never finishes or announces it — even past
// its expiry. A start whose expiry entry fails deletes the row (and the Face session) instead.
func TestAFailedStartLeavesNothingReconcileActsOn(t *testing.T) {
	t.Run("row undecided and its deletion refused", func(t *testing.T) {
		a := newApp(t, nil)
		p := a.throughProxy(t)
		p.Inject(faultproxy.Rule{Method: "POST", Body: `"RowKey":"session"`, Fault: faultproxy.Lose, Times: 100})
		p.Inject(faultproxy.Rule{Method: "GET", Path: "RowKey='session'", Fault: faultproxy.Refuse, Times: 100})
		p.Inject(faultproxy.Rule{Method: "DELETE", Fault: faultproxy.Refuse, Times: 100})
		a.do("POST", "/api/sessions", []byte(`{"externalReference":"left behind","ttlSeconds":60}`), nil).
			wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
		p.Clear()

		var left string
		for k := range a.rows() {
			if strings.HasSuffix(k, "_expire") {
				t.Errorf("expiry entry %s filed for a start that answered 503", k)
			}
			if id, ok := strings.CutSuffix(k, "/session"); ok {
				left = id
			}
		}
		if left == "" {
			t.Fatal("no session row was left behind: the test proves nothing")
		}
		a.clock.Advance(24 * time.Hour)
		a.reconcile()
		sess, err := a.store.GetSession(t.Context(), left)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		if sess.Status != liveness.StatusCreated {
			t.Errorf("Reconcile finished the row a failed start left (%s), want it untouched", sess.Status)
		}
	})
	t.Run("expiry entry undecided and its deletion refused", func(t *testing.T) {
		a := newApp(t, nil)
		p := a.throughProxy(t)
		p.Inject(faultproxy.Rule{Method: "PUT", Path: "_expire'", Fault: faultproxy.Lose, Times: 100})
		p.Inject(faultproxy.Rule{Method: "DELETE", Path: "_expire'", Fault: faultproxy.Refuse, Times: 100})
		a.do("POST", "/api/sessions", []byte(`{"externalReference":"entry left","ttlSeconds":60}`), nil).
			wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
		p.Clear()
		entry := false
		for k := range a.rows() {
			entry = entry || strings.HasSuffix(k, "_expire")
			if strings.HasSuffix(k, "/session") {
				t.Errorf("session row %s outlived a start that answered 503", k)
			}
		}
		if !entry {
			t.Fatal("no expiry entry was left behind: the test proves nothing")
		}
		a.clock.Advance(24 * time.Hour)
		a.reconcile()
		for k := range a.rows() {
			if strings.HasSuffix(k, "/event") || strings.HasSuffix(k, "_announce") || strings.HasSuffix(k, "/session") {
				t.Errorf("Reconcile acted on a start that answered 503: row %s", k)
			}
		}
	})
	t.Run("expiry entry refused", func(t *testing.T) {
		a := newApp(t, nil)
		p := a.throughProxy(t)
		p.Inject(faultproxy.Rule{Method: "PUT", Path: "_expire'", Fault: faultproxy.Refuse, Times: 100})
		a.do("POST", "/api/sessions", []byte(`{"externalReference":"no entry"}`), nil).
			wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
		if p.Spoiled() == 0 {
			t.Fatal("no expiry entry was refused: the test proves nothing")
		}
		for k := range a.rows() {
			t.Errorf("row %s outlived a start that answered 503", k)
		}
		a.wantTheFaceSessionGone(t)
	})
}

// Reconcile's expiry commit (the Finalize transaction) whose answer is lost, or its revocation's
// merge, meets its own write on the retry: the item is finished, not failed and filed again.
func TestReconcileMeetsItsOwnEarlierWrite(t *testing.T) {
	rules := []struct {
		name string
		rule faultproxy.Rule
	}{
		{"finalize transaction", faultproxy.Rule{Method: "POST", Path: "$batch"}},
		{"face deleted merge", faultproxy.Rule{Method: "PATCH", Path: "RowKey='session'"}},
	}
	for _, rl := range rules {
		for _, fault := range []faultproxy.Fault{faultproxy.Lose, faultproxy.Fail} {
			t.Run(rl.name+"/"+fault.String(), func(t *testing.T) {
				a := newApp(t, nil)
				v := a.start(`{"externalReference":"expire-lost"}`)
				p := a.throughProxy(t)
				rule := rl.rule
				rule.Fault = fault
				p.Inject(rule)
				a.passDue(v)

				logs := strings.Join(a.reconcile(), "\n")
				if p.Pending() != 0 {
					t.Fatalf("the fault was not injected: the test proves nothing")
				}
				if !strings.Contains(logs, "1 finalized, 0 events sent, 0 failed") {
					t.Errorf("Reconcile logs %q, want the session finalized and nothing failed", logs)
				}
				sess, err := a.store.GetSession(t.Context(), v.SessionID)
				if err != nil || sess.Status != liveness.StatusExpired || !sess.FaceDeleted {
					t.Errorf("session after Reconcile = %+v, %v; want expired with its Face session deleted", sess, err)
				}
			})
		}
	}
}

// wantTheFaceSessionGone fails t unless the one Face session the test's start created is gone.
func (a *app) wantTheFaceSessionGone(t *testing.T) {
	t.Helper()
	tokens := a.stub.IssuedTokens()
	if len(tokens) != 1 {
		t.Fatalf("Face sessions created = %d, want 1", len(tokens))
	}
	if id, _, ok := a.stub.SessionByToken(tokens[0]); ok {
		t.Errorf("Face session %s outlived the failed start", id)
	}
}
