package store

import (
	"net/http"
	"testing"

	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

func TestPing(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.store.Ping(t.Context()); err != nil {
		t.Fatalf("Ping on a reachable table: %v", err)
	}
	if _, err := f.raw.Delete(t.Context(), nil); err != nil {
		t.Fatalf("delete table: %v", err)
	}
	if err := f.store.Ping(t.Context()); err == nil {
		t.Fatal("Ping reported healthy although the table is gone")
	}
}

// Ping makes one try: a throttled table comes back at once as the throttled answer (which Health
// tells from a table that does not answer), whatever its hint, never as a timeout after retries.
func TestPingMakesOneTry(t *testing.T) {
	p := newProxied(t, nil)
	for _, hint := range []string{"", "1", "2"} {
		p.proxy.Clear()
		p.proxy.Inject(faultproxy.Rule{Method: "GET", Fault: faultproxy.Refuse, Times: 100, Header: http.Header{"Retry-After": {hint}}})
		before := p.proxy.Spoiled()
		err := p.faulty.Ping(t.Context())
		if got := p.proxy.Spoiled() - before; got != 1 {
			t.Errorf("Retry-After %q: Ping sent %d requests, want 1", hint, got)
		}
		if re := upstream.Of(err); re == nil || re.StatusCode() != http.StatusServiceUnavailable || re.ErrorCode() != "ServerBusy" {
			t.Errorf("Retry-After %q: Ping = %v, want the table's 503 ServerBusy", hint, err)
		}
	}
}
