package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// TestReconcileReachesEntriesBehindOnesLeftInPlace: entries a run leaves where they are (announce
// entries skipped while sends pause, entries whose refiling failed) never hide the index behind
// them. Each run reads on past the last entry it read, so a session past its expiry behind a full
// page of such entries is expired in the first run, whatever the page size.
func TestReconcileReachesEntriesBehindOnesLeftInPlace(t *testing.T) {
	tests := []struct {
		name string
		// prepare leaves entries due ahead of the expiry; before runs ahead of the run.
		prepare func(a *app, sb *services.ServiceBus)
		before  func(a *app)
	}{
		{
			name: "announce entries while sends pause",
			prepare: func(a *app, _ *services.ServiceBus) {
				a.srv.sends.record(t.Context(), a.clock.Now(), a.clock.Now(), events.ErrSendFailed) // the cancels' sends skipped
				for range 4 {
					a.cancel(a.start(``))
				}
			},
			before: func(a *app) { a.srv.sends.record(t.Context(), a.clock.Now(), a.clock.Now(), events.ErrSendFailed) },
		},
		{
			name: "announce entries with Service Bus down",
			prepare: func(a *app, sb *services.ServiceBus) {
				if err := sb.Stop(); err != nil {
					t.Fatalf("stopping the Service Bus stand-in: %v", err)
				}
				a.srv.sends.record(t.Context(), a.clock.Now(), a.clock.Now(), events.ErrSendFailed)
				for range 6 {
					a.cancel(a.start(``))
				}
			},
			before: func(a *app) { a.clock.Advance(sendPauseFor + 1) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
			a := newApp(t, &appOptions{ServiceBus: sb}).variant(t, func(_ *Settings, o *Options) { o.ReconcileBatch = 2 })
			tt.prepare(a, sb)
			z := a.start(``)
			a.passDue(z)
			tt.before(a)
			logs := a.reconcile()
			if st := a.storedSession(z.SessionID).Status; st != liveness.StatusExpired {
				t.Errorf("after one run (%q) the session past its expiry is %q, want expired", logs, st)
			}
		})
	}
}

// TestForgetKeyFailureIsFiledAgainForLater: a forget-key entry whose deletion fails is filed
// again, one attempt more, under its Idempotency-Key record (not left where it was, failing
// every run), and once the table takes deletes again the record goes.
func TestForgetKeyFailureIsFiledAgainForLater(t *testing.T) {
	a := newApp(t, nil)
	key := "k-" + randomHex(t, 8)
	if r := a.do("POST", "/api/sessions", []byte(`{}`), map[string]string{"Idempotency-Key": key}); r.status != http.StatusCreated {
		t.Fatalf("start = %d %s, want 201", r.status, r.body)
	}
	a.clock.Advance(a.srv.opts.IdempotencyWindow + 1)
	p := a.throughProxy(t)
	p.Inject(faultproxy.Rule{Method: "DELETE", Path: "RowKey='idempotency'", Fault: faultproxy.Refuse, Times: 1000})
	a.reconcile()
	due := a.keyDue(key)
	if len(due) != 1 || due[0].Attempts != 1 || !due[0].Due.After(a.clock.Now()) {
		t.Fatalf("forget-key entries after a failed deletion = %+v, want one filed for later with 1 attempt", due)
	}
	if strings.Contains(a.logs.String(), "not filed again") {
		t.Errorf("a log line says an entry was not filed again:\n%s", a.logs.String())
	}
	p.Clear()
	a.clock.Advance(waitForever)
	a.reconcile()
	if due := a.keyDue(key); len(due) != 0 {
		t.Errorf("forget-key entries once deletes go through = %+v, want none", due)
	}
	if _, err := a.store.GetIdempotencyKey(t.Context(), keyHashOf(key)); err == nil {
		t.Errorf("the Idempotency-Key record is still there")
	}
}
