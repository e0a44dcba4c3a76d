package face

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// The tests here run in synctest bubbles: time is fake, so delays and timeouts are exact and cost
// nothing, and a goroutine left blocked at the end fails the test.

const bubbleEndpoint = "https://face.test"

func bubbleClient(t *testing.T, h http.Handler, tweak func(*ClientOptions)) *Client {
	return keyClient(t, bubbleEndpoint, inMemory{h}, tweak)
}

func get(c *Client) error {
	_, err := c.Get(context.Background(), KindLiveness, testSessionID)
	return err
}

func TestRetryByStatus(t *testing.T) {
	tests := []struct {
		status    int
		wantTries int
	}{
		{http.StatusRequestTimeout, 4},
		{http.StatusTooManyRequests, 4},
		{http.StatusInternalServerError, 4},
		{http.StatusBadGateway, 4},
		{http.StatusServiceUnavailable, 4},
		{http.StatusGatewayTimeout, 4},
		{http.StatusBadRequest, 1},
		{http.StatusUnauthorized, 1},
		{http.StatusForbidden, 1},
		{http.StatusNotFound, 1},
		{http.StatusConflict, 1},
		{http.StatusNotImplemented, 1},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := newRecorder(faceError(tt.status, "X", nil))
				err := get(bubbleClient(t, rec, nil))

				if n := len(rec.requests()); n != tt.wantTries {
					t.Errorf("tries = %d, want %d", n, tt.wantTries)
				}
				if re, ok := errors.AsType[*azcore.ResponseError](err); !ok || re.StatusCode != tt.status {
					t.Errorf("error = %v, want a ResponseError with status %d", err, tt.status)
				}
			})
		})
	}
}

func TestRetryThenSuccess(t *testing.T) {
	for _, first := range []answer{faceError(http.StatusInternalServerError, "InternalServerError", nil), faceError(http.StatusTooManyRequests, "429", nil)} {
		t.Run(http.StatusText(first.status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := newRecorder(first, first, ok(sessionJSON))
				c := bubbleClient(t, rec, nil)
				s, err := c.Get(context.Background(), KindLiveness, testSessionID)
				if err != nil {
					t.Fatalf("Get after two %d answers: %v", first.status, err)
				}
				if s.ID != testSessionID {
					t.Errorf("session id = %q, want %q", s.ID, testSessionID)
				}
				if n := len(rec.requests()); n != 3 {
					t.Errorf("tries = %d, want 3", n)
				}
			})
		})
	}
}

// TestRetryAfterHonoured: the default backoff would wait about 0.5s; the server asks for longer.
func TestRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		name    string
		header  func(now time.Time) map[string]string
		wantGap time.Duration
	}{
		{"seconds", func(time.Time) map[string]string { return map[string]string{"Retry-After": "3"} }, 3 * time.Second},
		{"http date", func(now time.Time) map[string]string {
			return map[string]string{"Retry-After": now.Add(4 * time.Second).UTC().Format(http.TimeFormat)}
		}, 4 * time.Second},
		{"retry-after-ms", func(time.Time) map[string]string { return map[string]string{"retry-after-ms": "1500"} }, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := newRecorder(faceError(http.StatusTooManyRequests, "429", tt.header(time.Now())), ok(sessionJSON))
				if err := get(bubbleClient(t, rec, nil)); err != nil {
					t.Fatalf("Get: %v", err)
				}
				reqs := rec.requests()
				if len(reqs) != 2 {
					t.Fatalf("tries = %d, want 2", len(reqs))
				}
				if gap := reqs[1].At.Sub(reqs[0].At); gap != tt.wantGap {
					t.Errorf("waited %v before the retry, want the server's %v", gap, tt.wantGap)
				}
			})
		})
	}
}

// TestRetryAfterBeyondCap: an HTTP function should not sleep for a minute; the 429 comes back.
func TestRetryAfterBeyondCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(faceError(http.StatusTooManyRequests, "429", map[string]string{"Retry-After": "60"}), ok(sessionJSON))
		start := time.Now()
		err := get(bubbleClient(t, rec, nil))

		if re, ok := errors.AsType[*azcore.ResponseError](err); !ok || re.StatusCode != http.StatusTooManyRequests {
			t.Errorf("error = %v, want the 429 ResponseError", err)
		}
		if n := len(rec.requests()); n != 1 {
			t.Errorf("tries = %d, want 1", n)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("waited %v, want no wait", d)
		}
	})
}

// TestBackoffIsExponential checks each gap against azcore's formula with the client defaults:
// (2^n - 1) * 500ms, jittered by 0.8..1.3, capped at 5s.
func TestBackoffIsExponential(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(faceError(http.StatusServiceUnavailable, "ServiceUnavailable", nil))
		_ = get(bubbleClient(t, rec, nil))
		reqs := rec.requests()
		if len(reqs) != 4 {
			t.Fatalf("tries = %d, want 4", len(reqs))
		}
		for n := 1; n < len(reqs); n++ {
			base := time.Duration(1<<n-1) * defaultRetryDelay
			lo, hi := base*8/10, min(base*13/10, defaultMaxRetryDelay)
			if gap := reqs[n].At.Sub(reqs[n-1].At); gap < lo || gap > hi {
				t.Errorf("gap before try %d = %v, want within [%v, %v]", n+1, gap, lo, hi)
			}
		}
	})
}

func TestNegativeRetryDelayMeansNoDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(faceError(http.StatusServiceUnavailable, "ServiceUnavailable", nil), ok(sessionJSON))
		start := time.Now()
		if err := get(bubbleClient(t, rec, func(o *ClientOptions) { o.Retry.RetryDelay = -1 })); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Millisecond {
			t.Errorf("retry waited %v, want no delay", d)
		}
	})
}

// TestTimeouts uses a server that never answers. Each row gives the options and the fake time the
// call must end at.
func TestTimeouts(t *testing.T) {
	hang := answer{hang: true}
	tests := []struct {
		name      string
		answers   []answer
		tweak     func(*ClientOptions)
		ctxLimit  time.Duration
		wantErr   error
		wantTries int
		wantEnd   [2]time.Duration // inclusive range on the fake clock
	}{
		{"total timeout default 30s", []answer{hang}, nil, 0,
			context.DeadlineExceeded, 3, [2]time.Duration{30 * time.Second, 30 * time.Second}},
		{"total timeout option", []answer{hang}, func(o *ClientOptions) { o.TotalTimeout = 15 * time.Second }, 0,
			context.DeadlineExceeded, 2, [2]time.Duration{15 * time.Second, 15 * time.Second}},
		{"caller deadline first", []answer{hang}, nil, 4 * time.Second,
			context.DeadlineExceeded, 1, [2]time.Duration{4 * time.Second, 4 * time.Second}},
		{"try timeout default 10s, then success", []answer{hang, ok(sessionJSON)}, nil, 0,
			nil, 2, [2]time.Duration{10*time.Second + 400*time.Millisecond, 10*time.Second + 650*time.Millisecond}},
		{"try timeout option", []answer{hang, ok(sessionJSON)}, func(o *ClientOptions) { o.TryTimeout = 2 * time.Second }, 0,
			nil, 2, [2]time.Duration{2*time.Second + 400*time.Millisecond, 2*time.Second + 650*time.Millisecond}},
	}
	for _, tt := range tests {
		for _, mode := range []string{"key", "bearer"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					rec := newRecorder(tt.answers...)
					var c *Client
					if mode == "key" {
						c = bubbleClient(t, rec, tt.tweak)
					} else {
						o := &ClientOptions{}
						o.Transport = inMemory{rec}
						if tt.tweak != nil {
							tt.tweak(o)
						}
						var err error
						if c, err = NewClient(bubbleEndpoint, &fakeCredential{}, o); err != nil {
							t.Fatal(err)
						}
					}
					ctx := context.Background()
					if tt.ctxLimit > 0 {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, tt.ctxLimit)
						defer cancel()
					}
					start := time.Now()
					_, err := c.Get(ctx, KindLiveness, testSessionID)
					end := time.Since(start)

					if !errors.Is(err, tt.wantErr) {
						t.Errorf("error = %v, want %v", err, tt.wantErr)
					}
					if n := len(rec.requests()); n != tt.wantTries {
						t.Errorf("tries = %d, want %d", n, tt.wantTries)
					}
					if end < tt.wantEnd[0] || end > tt.wantEnd[1] {
						t.Errorf("call ended after %v, want within [%v, %v]", end, tt.wantEnd[0], tt.wantEnd[1])
					}
				})
			})
		}
	}
}

// TestHangingServerOverTheNetwork: the total timeout reaches the real transport, which hangs up, so
// the server sees the request canceled.
func TestHangingServerOverTheNetwork(t *testing.T) {
	canceled := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		canceled <- struct{}{}
	}))
	defer srv.Close()
	c := keyClient(t, srv.URL, nil, func(o *ClientOptions) { o.TotalTimeout = 200 * time.Millisecond })

	err := get(c)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-canceled:
	case <-time.After(10 * time.Second): // a guard against hanging, not a measurement
		t.Fatal("the server never saw the request canceled: the client left the connection open")
	}
}
