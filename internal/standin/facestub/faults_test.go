package facestub_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

func TestThrottleAndServerErrors(t *testing.T) {
	tests := []struct {
		name   string
		faults facestub.Faults
		// want is the status of each of the following creates.
		want           []int
		wantRetryAfter string
	}{
		{name: "throttle", faults: facestub.Faults{Throttle: 2}, want: []int{429, 429, 200}},
		{name: "throttle with Retry-After", faults: facestub.Faults{Throttle: 1, RetryAfterSeconds: 3}, want: []int{429, 200}, wantRetryAfter: "3"},
		{name: "server errors", faults: facestub.Faults{ServerErrors: 2}, want: []int{500, 500, 200}},
		{name: "throttle, then server errors", faults: facestub.Faults{Throttle: 1, ServerErrors: 1}, want: []int{429, 500, 200}},
		{name: "none", faults: facestub.Faults{}, want: []int{200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.stub.SetFaults(tt.faults)
			for i, want := range tt.want {
				r := e.do(t, createJSON(validCreate))
				switch want {
				case 429:
					r.wantError(t, http.StatusTooManyRequests, "429")
					if got := r.header.Get("Retry-After"); got != tt.wantRetryAfter {
						t.Errorf("request %d: Retry-After = %q, want %q", i, got, tt.wantRetryAfter)
					}
				case 500:
					r.wantError(t, http.StatusInternalServerError, "InternalServerError")
				default:
					if r.status != want {
						t.Errorf("request %d: status %d (%s), want %d", i, r.status, r.body, want)
					}
				}
			}
			if got := e.stub.Stats().Create; got != len(tt.want) {
				t.Errorf("Stats().Create = %d, want %d: faulted requests count too", got, len(tt.want))
			}
		})
	}
}

func TestFaultsOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	put := func(body string) response {
		return e.do(t, call{method: http.MethodPut, path: "/_stub/faults", contentType: "application/json", body: []byte(body), header: http.Header{}})
	}
	if r := put(`{"Throttle":1,"RetryAfterSeconds":2}`); r.status != http.StatusNoContent {
		t.Fatalf("PUT /_stub/faults: status %d (%s), want 204", r.status, r.body)
	}
	// Controls are not Face routes: faults leave them alone.
	if r := e.do(t, call{method: http.MethodGet, path: "/_stub/stats", header: http.Header{}}); r.status != http.StatusOK {
		t.Errorf("GET /_stub/stats while throttling: status %d, want 200", r.status)
	}
	r := e.do(t, createJSON(validCreate))
	r.wantError(t, http.StatusTooManyRequests, "429")
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2", got)
	}
	if r := e.do(t, createJSON(validCreate)); r.status != http.StatusOK {
		t.Errorf("after the throttled request: status %d, want 200", r.status)
	}

	put(`{"ServerErrors":1}`)
	e.do(t, createJSON(validCreate)).wantError(t, http.StatusInternalServerError, "InternalServerError")

	put(`{"Throttel":1}`).wantError(t, http.StatusBadRequest, "InvalidRequestBody")
	put(`{"Latency":"soon"}`).wantError(t, http.StatusBadRequest, "InvalidRequestBody")
}

func TestFaultsJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    facestub.Faults
		wantErr bool
	}{
		{in: `{"Latency":"250ms","Hang":true}`, want: facestub.Faults{Latency: 250 * time.Millisecond, Hang: true}},
		{in: `{"latency":1500}`, want: facestub.Faults{Latency: 1500 * time.Millisecond}},
		{in: `{"Throttle":2,"RetryAfterSeconds":5,"ServerErrors":1}`, want: facestub.Faults{Throttle: 2, RetryAfterSeconds: 5, ServerErrors: 1}},
		{in: `{"Latency":null}`, want: facestub.Faults{}},
		{in: `{"Latency":"1 minute"}`, wantErr: true},
		{in: `{"Latency":true}`, wantErr: true},
		{in: `{"Hang":"yes"}`, wantErr: true},
		{in: `{"Slow":true}`, wantErr: true},
	}
	for _, tt := range tests {
		var got facestub.Faults
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%s): error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("Unmarshal(%s) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// Latency only ever delays, so asserting its lower bound cannot flake.
func TestLatency(t *testing.T) {
	e := newEnv(t, nil)
	const latency = 50 * time.Millisecond
	e.stub.SetFaults(facestub.Faults{Latency: latency})
	start := time.Now()
	r := e.do(t, createJSON(validCreate))
	if elapsed := time.Since(start); elapsed < latency {
		t.Errorf("request took %v, want at least the %v latency", elapsed, latency)
	}
	if r.status != http.StatusOK {
		t.Errorf("status %d, want 200 after the delay", r.status)
	}
	if r := e.do(t, call{method: http.MethodGet, path: "/_stub/stats", header: http.Header{}}); r.status != http.StatusOK {
		t.Errorf("control route under latency: status %d, want 200", r.status)
	}
}

func TestHang(t *testing.T) {
	tests := []struct {
		name    string
		release func(e *env, cancel context.CancelFunc)
	}{
		{name: "client gives up", release: func(_ *env, cancel context.CancelFunc) { cancel() }},
		{name: "server closes", release: func(e *env, _ context.CancelFunc) { e.stub.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.stub.SetFaults(facestub.Faults{Hang: true, Throttle: 1})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.strict.URL+livenessPath+"/x", nil)
			req.Header.Set("Ocp-Apim-Subscription-Key", testKey)
			done := make(chan error, 1)
			go func() {
				resp, err := e.strict.Client().Do(req)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()

			for e.stub.Stats().Get == 0 { // the request has reached the stand-in
				time.Sleep(time.Millisecond)
			}
			select {
			case err := <-done:
				t.Fatalf("hung request returned before release: %v", err)
			default:
			}
			tt.release(e, cancel)
			if err := <-done; err == nil {
				t.Error("hung request got a response, want none")
			} else if tt.name == "server closes" && errors.Is(err, context.Canceled) {
				t.Errorf("request ended by %v, want the server to drop it", err)
			}
		})
	}
}
