package store

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// testAccount is Azurite's well-known development account, for a client of a table service
// stand-in that never checks the signature.
const testAccount = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
	"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint="

// boundedStore is a Store on a table service at url, whose client has the given bounds.
func boundedStore(t *testing.T, url string, b bounds) *Store {
	t.Helper()
	svc, err := aztables.NewServiceClientFromConnectionString(testAccount+url+"/devstoreaccount1;", clientOptions(b))
	if err != nil {
		t.Fatal(err)
	}
	return &Store{table: svc.NewClient("sessions"), now: time.Now, newWriteID: func() string { return "w" }}
}

// TestTableCallsAreBounded proves the table client's cells of the failure model: each try has its
// own timeout, 429/5xx and transport errors are retried with backoff, a Retry-After within the
// largest delay is waited for and a longer one is passed on at once, and one call never outlasts
// its total bound, whatever the service does.
func TestTableCallsAreBounded(t *testing.T) {
	const id = "0c4e7a4e-6bb5-4ae2-9d1a-5a0e4c2b1f10"
	short := bounds{call: 1500 * time.Millisecond, try: 300 * time.Millisecond, delay: 50 * time.Millisecond, maxDelay: 1200 * time.Millisecond}
	tests := []struct {
		name string
		// answer answers try n (1-based); nil hangs until the client gives up.
		answer    func(w http.ResponseWriter, r *http.Request, n int) bool
		wantTries [2]int32 // inclusive range
		minTook   time.Duration
		maxTook   time.Duration
		wantHint  time.Duration
	}{
		{"hanging service: per-try timeout, then the total bound", func(http.ResponseWriter, *http.Request, int) bool { return false },
			[2]int32{3, 4}, 1500 * time.Millisecond, 2500 * time.Millisecond, 0},
		{"503 three times, then the answer", func(w http.ResponseWriter, _ *http.Request, n int) bool {
			if n <= 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			w.WriteHeader(http.StatusNotFound) // the session is not there: a definite answer
			return true
		}, [2]int32{4, 4}, 0, 1200 * time.Millisecond, 0},
		{"429 with Retry-After: 1 waited for", func(w http.ResponseWriter, _ *http.Request, n int) bool {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			w.WriteHeader(http.StatusNotFound)
			return true
		}, [2]int32{2, 2}, time.Second, 1400 * time.Millisecond, 0},
		{"Retry-After beyond the largest delay passed on at once", func(w http.ResponseWriter, _ *http.Request, _ int) bool {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}, [2]int32{1, 1}, 0, 500 * time.Millisecond, 30 * time.Second},
		{"connection reset, then the answer", func(w http.ResponseWriter, _ *http.Request, n int) bool {
			if n == 1 {
				if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
					c.Close()
				}
				return true
			}
			w.WriteHeader(http.StatusNotFound)
			return true
		}, [2]int32{2, 2}, 0, 800 * time.Millisecond, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tries atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tt.answer(w, r, int(tries.Add(1))) {
					<-r.Context().Done()
				}
			}))
			defer srv.Close()
			s := boundedStore(t, srv.URL, short)

			start := time.Now()
			_, err := s.GetSession(context.Background(), id)
			took := time.Since(start)

			definite := tt.wantHint == 0 && !strings.HasPrefix(tt.name, "hanging")
			switch {
			case definite && !errors.Is(err, liveness.ErrNotFound):
				t.Errorf("GetSession = %v, want the definite answer (not found) after the retries", err)
			case !definite && !errors.Is(err, liveness.ErrUpstreamUnavailable):
				t.Errorf("GetSession = %v, want ErrUpstreamUnavailable", err)
			}
			if n := tries.Load(); n < tt.wantTries[0] || n > tt.wantTries[1] {
				t.Errorf("tries = %d, want within %v", n, tt.wantTries)
			}
			if took < tt.minTook || took > tt.maxTook {
				t.Errorf("the call took %v, want within [%v, %v]", took, tt.minTook, tt.maxTook)
			}
			if hint := upstream.RetryAfter(err); hint != tt.wantHint {
				t.Errorf("Retry-After hint in the error = %v, want %v", hint, tt.wantHint)
			}
		})
	}
}

// TestProductionTableBounds: the bounds the handler's clients are built with, which
// handlers.Server.Budgets adds up: a call is bounded in total, below what its tries could take.
func TestProductionTableBounds(t *testing.T) {
	b := defaultBounds()
	o := clientOptions(b)
	// The total bound, and takeRow (which bounds nothing).
	if o.Retry.TryTimeout != TryTimeout || b.call != CallTimeout || len(o.PerCallPolicies) != 2 {
		t.Errorf("production options: try %v, call %v, %d per-call policies; want %v, %v, the total bound and takeRow",
			o.Retry.TryTimeout, b.call, len(o.PerCallPolicies), TryTimeout, CallTimeout)
	}
	if tries := time.Duration(o.Retry.MaxRetries+1) * TryTimeout; CallTimeout >= tries {
		t.Errorf("CallTimeout %v does not bound the %v the tries could take", CallTimeout, tries)
	}
}
