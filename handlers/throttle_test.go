package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// wantRetryAfter fails t unless r is 503 upstream_unavailable with Retry-After want.
func (r *reply) wantRetryAfter(t *testing.T, want string) {
	t.Helper()
	r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	if got := r.header.Get("Retry-After"); got != want {
		t.Errorf("Retry-After = %q, want %q (the upstream's hint)", got, want)
	}
}

// Face throttles with a hint longer than the client's retry policy waits: the client returns at
// once, and the app tells its own client the hint, not its one-second default.
func TestFaceThrottlingHintReachesTheClient(t *testing.T) {
	tests := []struct {
		name string
		hint int
		key  bool
		want string
	}{
		{"30s", 30, false, "30"},
		{"30s with an Idempotency-Key", 30, true, "30"},
		{"beyond the bound", 3600, false, fmt.Sprint(int(maxRetryAfter / time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, nil)
			before := a.rows()
			a.stub.SetFaults(facestub.Faults{Throttle: 100, RetryAfterSeconds: tt.hint})
			var h map[string]string
			if tt.key {
				h = map[string]string{"Idempotency-Key": "throttled-" + randomHex(t, 8)}
			}
			r := a.do("POST", "/api/sessions", []byte(`{"externalReference":"order-42"}`), h)
			r.wantRetryAfter(t, tt.want)
			if got := a.stub.Stats().Create; got != 1 {
				t.Errorf("Face creates = %d, want 1 (a hint beyond MaxRetryDelay is not waited for)", got)
			}
			if after := a.rows(); !mapsEqual(before, after) {
				t.Errorf("a throttled start left rows behind: %v → %v", before, after)
			}
		})
	}
}

// A session already canceled whose Face session could not be revoked: the repeated DELETE meets
// a throttled Face and passes its hint on.
func TestFaceThrottlingHintOnRevoke(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"revoke"}`)
	a.stub.SetFaults(facestub.Faults{Throttle: 100, RetryAfterSeconds: 45})
	a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil).wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil).wantRetryAfter(t, "45")
}

// Face reads the session fine but throttles its deletion: the first DELETE, which recorded the
// cancellation but could not revoke, passes the revocation's hint on.
func TestFaceThrottlingHintOnTheFirstRevoke(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"revoke once"}`)
	a.hooks.set(func(r *http.Request) {
		if r.Method == http.MethodDelete {
			a.stub.SetFaults(facestub.Faults{Throttle: 1, RetryAfterSeconds: 40})
		}
	})
	got := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil)
	got.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	got.wantRetryAfter(t, "40")
	s, err := a.store.GetSession(t.Context(), v.SessionID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if s.Status != liveness.StatusCanceled || s.FaceDeleted {
		t.Errorf("after a throttled revoke the session is %s (Face deleted: %v), want canceled and not revoked", s.Status, s.FaceDeleted)
	}
}

// Table Storage throttles (503 ServerBusy with a hint): every endpoint that reads or writes the
// table passes the hint on, in each form the Azure SDKs read.
func TestTablesThrottlingHintReachesTheClient(t *testing.T) {
	hints := []struct {
		name   string
		header func() http.Header
		want   string
	}{
		{"Retry-After seconds", func() http.Header { return http.Header{"Retry-After": {"30"}} }, "30"},
		{"x-ms-retry-after-ms", func() http.Header { return http.Header{"X-Ms-Retry-After-Ms": {"44500"}} }, "45"},
		{"Retry-After date", func() http.Header {
			now := time.Now().UTC().Truncate(time.Second)
			return http.Header{"Date": {now.Format(http.TimeFormat)}, "Retry-After": {now.Add(50 * time.Second).Format(http.TimeFormat)}}
		}, "50"},
		{"no hint", func() http.Header { return nil }, "1"},
	}
	a := newApp(t, nil)
	p := a.throughProxy(t) // the store's production retry policy, in front of Azurite
	v := a.start(`{"externalReference":"before the storm"}`)
	for _, h := range hints {
		p.Clear()
		p.Inject(faultproxy.Rule{Fault: faultproxy.Refuse, Header: h.header(), Times: 1 << 20})
		for _, c := range []struct{ name, method, path, body, key string }{
			{"POST", "POST", "/api/sessions", `{"externalReference":"order-42"}`, ""},
			{"POST with an Idempotency-Key", "POST", "/api/sessions", `{"externalReference":"order-42"}`, "busy-" + randomHex(t, 8)},
			{"GET", "GET", "/api/sessions/" + v.SessionID, "", ""},
			{"DELETE", "DELETE", "/api/sessions/" + v.SessionID, "", ""},
		} {
			t.Run(h.name+"/"+c.name, func(t *testing.T) {
				var body []byte
				if c.body != "" {
					body = []byte(c.body)
				}
				a.on(t).do(c.method, c.path, body, map[string]string{"Idempotency-Key": c.key}).wantRetryAfter(t, h.want)
			})
		}
	}
	if p.Spoiled() == 0 {
		t.Fatal("no table request was throttled: the test proves nothing")
	}
	if strings.Contains(string(a.logs.Bytes()), faultproxy.RefusedBody) {
		t.Errorf("the log holds the body of a table answer")
	}
	if !strings.Contains(string(a.logs.Bytes()), "503 ServerBusy") {
		t.Errorf("the log does not name the table's answer (status and code)")
	}
}

// Reconcile files an entry whose Face call was throttled again no sooner than Face asked.
func TestReconcileHonoursTheThrottlingHint(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"ttlSeconds":60}`)
	a.passDue(v)
	a.stub.SetFaults(facestub.Faults{Throttle: 100, RetryAfterSeconds: 600})
	a.reconcile()
	due := a.dueFor(v.SessionID)
	if want := a.clock.Now().Add(10 * time.Minute); len(due) != 1 || !due[0].Due.Equal(want) {
		t.Errorf("due entries after a throttled run = %+v, want one at %v (Face's 10 minutes, not retryDelay's 1)", due, want)
	}
}

func TestRetryAfterFor(t *testing.T) {
	hinted := func(h string) error {
		resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After-Ms": {h}},
			Request: &http.Request{Method: "GET", URL: &url.URL{Path: "/x"}}}
		return upstream.Redact(runtime.NewResponseError(resp))
	}
	unavailable := func(err error) error { return fmt.Errorf("face: %w: %w", liveness.ErrUpstreamUnavailable, err) }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"no hint keeps the table's second", fmt.Errorf("x: %w", liveness.ErrUpstreamUnavailable), 1},
		{"a shorter hint keeps the table's", fmt.Errorf("%w: %w", ErrStarting, hinted("3000")), 5},
		{"milliseconds round up", unavailable(hinted("1500")), 2},
		{"a longer hint wins", unavailable(hinted("30000")), 30},
		{"bounded", unavailable(hinted("86400000")), int(maxRetryAfter / time.Second)},
		{"a row without Retry-After stays without", fmt.Errorf("%w: %w", liveness.ErrInvalidRequest, hinted("30000")), 0},
		{"the SDK's error alone carries no hint", fmt.Errorf("%w: %w", liveness.ErrUpstreamUnavailable, &azcore.ResponseError{StatusCode: 429}), 1},
	}
	for _, tt := range tests {
		if k, _ := problemFor(tt.err); k.retryAfter != tt.want {
			t.Errorf("%s: Retry-After = %d, want %d", tt.name, k.retryAfter, tt.want)
		}
	}
}
