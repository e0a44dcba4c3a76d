package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

func TestIdempotencyKey(t *testing.T) {
	a := newApp(t, nil)
	key := "order-42/" + randomHex(t, 8)
	withKey := map[string]string{"Idempotency-Key": key}
	body := `{"externalReference":"order-42","ttlSeconds":900}`

	first := a.do("POST", "/api/sessions", []byte(body), withKey)
	if first.status != http.StatusCreated {
		t.Fatalf("first POST = %d %s, want 201", first.status, first.body)
	}
	v := first.session(t)

	a.clock.Advance(time.Hour)
	respelled := `{ "ttlSeconds": 900, "externalReference": "order-42" }`
	second := a.do("POST", "/api/sessions", []byte(respelled), withKey)
	if second.status != http.StatusOK {
		t.Fatalf("replay = %d %s, want 200", second.status, second.body)
	}
	if diff := cmp.Diff(v, second.session(t)); diff != "" {
		t.Errorf("replay answered another session (-want first +got):\n%s", diff)
	}
	if loc := second.header.Get("Location"); loc != "/api/sessions/"+v.SessionID {
		t.Errorf("replay Location = %q, want /api/sessions/%s", loc, v.SessionID)
	}
	if got := a.stub.Stats().Create; got != 1 {
		t.Errorf("Face creates = %d, want exactly 1 for two requests with one key", got)
	}

	before := a.rows()
	other := a.do("POST", "/api/sessions", []byte(`{"externalReference":"order-43","ttlSeconds":900}`), withKey)
	other.wantProblem(t, http.StatusConflict, "idempotency_key_reused")
	if got := a.stub.Stats().Create; got != 1 {
		t.Errorf("Face creates after a reused key = %d, want still 1", got)
	}
	if after := a.rows(); !mapsEqual(before, after) {
		t.Errorf("a reused key changed the table")
	}

	if r := a.do("POST", "/api/sessions", []byte(body), map[string]string{"Idempotency-Key": key + "-2"}); r.status != http.StatusCreated || r.session(t).SessionID == v.SessionID {
		t.Errorf("another key = %d %s, want 201 and a new session", r.status, r.body)
	}

	a.clock.Advance(24 * time.Hour)
	if r := a.do("POST", "/api/sessions", []byte(body), withKey); r.status != http.StatusCreated || r.session(t).SessionID == v.SessionID {
		t.Errorf("the key after its 24 h window = %d %s, want 201 and a new session", r.status, r.body)
	}

	for _, e := range a.rawEntities() {
		if strings.Contains(e, key) {
			t.Errorf("the raw Idempotency-Key is stored: %s", e)
		}
	}
}

func TestWithoutIdempotencyKeyEveryRequestCreates(t *testing.T) {
	a := newApp(t, nil)
	x, y := a.start(`{"externalReference":"same"}`), a.start(`{"externalReference":"same"}`)
	if x.SessionID == y.SessionID || a.stub.Stats().Create != 2 {
		t.Errorf("two requests without a key gave sessions %s and %s with %d Face creates, want two of each",
			x.SessionID, y.SessionID, a.stub.Stats().Create)
	}
}

// While the first request with a key is still creating its session, a retry must neither create a
// second one nor wait: it is told to come back.
func TestIdempotencyKeyInFlight(t *testing.T) {
	a := newApp(t, nil)
	withKey := map[string]string{"Idempotency-Key": "in-flight-" + randomHex(t, 8)}
	body := []byte(`{"externalReference":"slow"}`)

	arrived := make(chan struct{}, 1)
	a.hooks.set(func(*http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
	})
	a.stub.SetFaults(facestub.Faults{Hang: true})
	type result struct {
		resp *http.Response
		body []byte
		err  error
	}
	done := make(chan result, 1)
	firstReq := a.request("POST", "/api/sessions", body, withKey)
	go func() {
		resp, body, err := roundTrip(a.client, firstReq)
		done <- result{resp, body, err}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	select {
	case <-arrived:
	case <-ctx.Done():
		t.Fatalf("the first request never reached Face")
	}
	a.hooks.set(nil)

	retry := a.do("POST", "/api/sessions", body, withKey)
	retry.wantProblem(t, http.StatusConflict, "request_in_progress")
	if retry.header.Get("Retry-After") == "" {
		t.Errorf("request_in_progress without Retry-After")
	}

	// Drop the held Face request: the Face client retries it, now without the fault.
	a.stub.SetFaults(facestub.Faults{})
	a.stub.Close()
	res := <-done
	if res.err != nil {
		t.Fatalf("first request: %v", res.err)
	}
	first := &reply{status: res.resp.StatusCode, header: res.resp.Header, body: res.body}
	if first.status != http.StatusCreated {
		t.Fatalf("first request = %d %s, want 201 after the Face client retried", first.status, first.body)
	}
	replay := a.do("POST", "/api/sessions", body, withKey)
	if replay.status != http.StatusOK || replay.session(t).SessionID != first.session(t).SessionID {
		t.Errorf("replay after completion = %d %s, want 200 with the first session", replay.status, replay.body)
	}
	if n := len(a.stub.IssuedTokens()); n != 1 {
		t.Errorf("Face sessions created = %d, want 1", n)
	}
}
