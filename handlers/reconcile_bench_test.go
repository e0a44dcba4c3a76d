package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/fakeclock"
)

// BenchmarkReconcile measures one Reconcile run over a backlog of due sessions (half of them
// with a finished attempt, half to expire) against Azurite and the Face stand-in, with no and
// with 20 ms added to every Face call. It reports sessions finalized per second of the run; the
// target (issue 10) is at least 50 on a 2-core machine in both cases. No Service Bus: events
// stay in the outbox, which the run's resends do not touch (their announce entries come due
// later). It also reports the table operations each finalized session cost and their rate, to
// set beside BenchmarkTableOperations (internal/store): Azurite's capacity on the same machine.
func BenchmarkReconcile(b *testing.B) {
	for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("faceLatency=%v", latency), func(b *testing.B) {
			const backlog = 100
			clock := fakeclock.New(time.Now().UTC())
			srv, stub, tableCalls := benchServer(b, clock.Now)
			finalized, elapsed, calls := 0, time.Duration(0), int64(0)
			for b.Loop() {
				b.StopTimer()
				stub.SetFaults(facestub.Faults{})
				h := srv.Handler()
				for i := range backlog {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodPost, "/api/sessions", bytes.NewReader([]byte(`{"ttlSeconds":60}`)))
					req.Header.Set("Content-Type", "application/json")
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusCreated {
						b.Fatalf("StartSession = %d %s", rec.Code, rec.Body)
					}
					if i%2 == 0 {
						if err := stub.AddAttempt(sessionIDOf(b, rec.Body.Bytes()), facestub.Attempt{Decision: "realface"}); err != nil {
							b.Fatal(err)
						}
					}
				}
				clock.Advance(time.Minute + srv.opts.ExpiryGrace + time.Second)
				stub.SetFaults(facestub.Faults{Latency: latency})
				b.StartTimer()
				start, before := time.Now(), tableCalls.Load()
				res, err := srv.Reconcile(b.Context())
				elapsed += time.Since(start)
				calls += tableCalls.Load() - before
				if err != nil {
					b.Fatal(err)
				}
				if res.Finalized != backlog {
					b.Fatalf("Reconcile = %+v, want %d finalized", res, backlog)
				}
				finalized += res.Finalized
			}
			b.ReportMetric(float64(finalized)/elapsed.Seconds(), "sessions/s")
			b.ReportMetric(float64(calls)/float64(finalized), "tableops/session")
			b.ReportMetric(float64(calls)/elapsed.Seconds(), "tableops/s")
		})
	}
}

func sessionIDOf(b *testing.B, body []byte) string {
	b.Helper()
	var v sessionView
	if err := json.Unmarshal(body, &v); err != nil {
		b.Fatal(err)
	}
	return v.SessionID
}
