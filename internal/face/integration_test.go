package face

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/facespec"
)

// The client against the Face stand-in, with every request and response checked against Microsoft's
// Swagger file by facespec's middleware: a violation on either side fails the test.

// bigJPEG passes the stand-in's 1 KB minimum image size.
var bigJPEG = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{7}, 2044)...)

type stack struct {
	stub   *facestub.Server
	client *Client
	url    string       // the stand-in's endpoint
	http   *http.Client // trusts its certificate, for raw requests
}

// newStack serves the stand-in over TLS, so both auth modes run without InsecureAllowCredentialWithHTTP.
// tb receives the validator's complaints.
func newStack(t *testing.T, tb testing.TB, mode string, tweak func(*ClientOptions)) stack {
	t.Helper()
	spec := facespec.Load(t)
	stub := facestub.New(&facestub.Options{APIKey: testAPIKey, BearerToken: testEntra})
	srv := httptest.NewTLSServer(spec.Middleware(tb, stub))
	t.Cleanup(func() {
		stub.Close() // releases requests held by a Hang fault
		srv.Close()
	})

	o := &ClientOptions{}
	o.Transport = srv.Client()
	o.Retry.RetryDelay = time.Millisecond
	if tweak != nil {
		tweak(o)
	}
	var c *Client
	var err error
	if mode == "key" {
		o.APIKey = testAPIKey
		c, err = NewClient(srv.URL, nil, o)
	} else {
		c, err = NewClient(srv.URL, &fakeCredential{}, o)
	}
	if err != nil {
		t.Fatal(err)
	}
	return stack{stub, c, srv.URL, srv.Client()}
}

func TestIntegrationLifecycle(t *testing.T) {
	for _, mode := range []string{"key", "bearer"} {
		for _, kind := range []Kind{KindLiveness, KindLivenessWithVerify} {
			t.Run(fmt.Sprintf("%s/%s", mode, kind), func(t *testing.T) {
				st := newStack(t, t, mode, nil)
				ctx := context.Background()
				req := CreateRequest{Mode: "PassiveActive", DeviceCorrelationID: "device-1", AuthTokenTTLSeconds: 120, EnableSessionImage: true}
				if kind == KindLivenessWithVerify {
					req.VerifyImage = bigJPEG
				}

				s, err := st.client.Create(ctx, kind, req)
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				if !liveness.ValidSessionID(s.ID) || s.AuthToken == "" || s.Status != "NotStarted" || len(s.Attempts) != 0 {
					t.Fatalf("created session = %v (token set: %v), want a GUID id, a token, NotStarted, no attempts", s, s.AuthToken != "")
				}
				if _, gotKind, ok := st.stub.SessionByToken(s.AuthToken); !ok || gotKind != string(kind) {
					t.Errorf("stand-in knows the token as kind %q (live %v), want %q", gotKind, ok, kind)
				}

				if err := st.stub.AddAttempt(s.ID, facestub.Attempt{Status: "Failed"}); err != nil {
					t.Fatal(err)
				}
				no := false
				if err := st.stub.AddAttempt(s.ID, facestub.Attempt{Decision: "spoofface", IsIdentical: &no}); err != nil {
					t.Fatal(err)
				}

				got, err := st.client.Get(ctx, kind, s.ID)
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if !got.Finished() || len(got.Attempts) != 2 {
					t.Fatalf("session = %v, want finished with 2 attempts", got)
				}
				latest := got.LatestAttempt()
				if latest.ID != 2 || latest.Status != "Succeeded" || latest.Result == nil || latest.Result.Decision != "spoofface" {
					t.Errorf("latest attempt = %+v, want attempt 2, Succeeded, spoofface", latest)
				}
				if latest.Result != nil && latest.Result.SessionImageID == "" {
					t.Error("latest attempt has no sessionImageId though enableSessionImage was sent")
				}
				if wantVerify := kind == KindLivenessWithVerify; latest.Result != nil && (latest.Result.Verify != nil) != wantVerify {
					t.Errorf("verify result = %+v, want one: %v", latest.Result.Verify, wantVerify)
				} else if wantVerify && latest.Result.Verify.IsIdentical {
					t.Error("verify result says identical, want not")
				}
				for _, a := range got.Attempts {
					if a.ID == 1 && (a.Status != "Failed" || a.Error == nil || a.Error.Code == "") {
						t.Errorf("attempt 1 = %+v, want Failed with an error code", a)
					}
				}

				if err := st.client.Delete(ctx, kind, s.ID); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				if _, err := st.client.Get(ctx, kind, s.ID); !IsNotFound(err) {
					t.Errorf("Get after Delete: error = %v, want not found", err)
				}
				if _, _, ok := st.stub.SessionByToken(s.AuthToken); ok {
					t.Error("the auth token still works after Delete")
				}
			})
		}
	}
}

func TestIntegrationWrongKindIsNotFound(t *testing.T) {
	st := newStack(t, t, "key", nil)
	s, err := st.client.Create(context.Background(), KindLiveness, CreateRequest{Mode: "Passive", DeviceCorrelationID: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.client.Get(context.Background(), KindLivenessWithVerify, s.ID); !IsNotFound(err) {
		t.Errorf("Get under the other kind: error = %v, want not found", err)
	}
}

func TestIntegrationFaults(t *testing.T) {
	tests := []struct {
		name      string
		faults    facestub.Faults
		tweak     func(*ClientOptions)
		wantErr   func(error) bool
		wantTries int
	}{
		{"throttled once", facestub.Faults{Throttle: 1}, nil, nil, 2},
		{"server errors twice", facestub.Faults{ServerErrors: 2}, nil, nil, 3},
		{"throttled beyond the retries", facestub.Faults{Throttle: 10}, nil,
			func(err error) bool { return strings.Contains(err.Error(), "429") }, 4},
		{"hang", facestub.Faults{Hang: true}, func(o *ClientOptions) { o.TotalTimeout = 300 * time.Millisecond },
			func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStack(t, t, "bearer", tt.tweak)
			s, err := st.client.Create(context.Background(), KindLiveness, CreateRequest{Mode: "Passive", DeviceCorrelationID: "d"})
			if err != nil {
				t.Fatal(err)
			}
			st.stub.SetFaults(tt.faults)
			before := st.stub.Stats().Get

			_, err = st.client.Get(context.Background(), KindLiveness, s.ID)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("Get: %v, want success after retries", err)
			case tt.wantErr != nil && (err == nil || !tt.wantErr(err)):
				t.Errorf("Get: error = %v, want the %s failure", err, tt.name)
			}
			if tries := st.stub.Stats().Get - before; tt.wantTries > 0 && tries != tt.wantTries {
				t.Errorf("tries = %d, want %d", tries, tt.wantTries)
			}
		})
	}
}

// TestIntegrationRetryAfter: the stand-in's Retry-After reaches azcore, which waits before retrying.
func TestIntegrationRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	st := newStack(t, t, "key", func(o *ClientOptions) {
		o.PerRetryPolicies = append(o.PerRetryPolicies, stamp(func() { mu.Lock(); at = append(at, time.Now()); mu.Unlock() }))
	})
	s, err := st.client.Create(context.Background(), KindLiveness, CreateRequest{Mode: "Passive", DeviceCorrelationID: "d"})
	if err != nil {
		t.Fatal(err)
	}
	st.stub.SetFaults(facestub.Faults{Throttle: 1, RetryAfterSeconds: 1})
	mu.Lock()
	at = nil
	mu.Unlock()

	if _, err := st.client.Get(context.Background(), KindLiveness, s.ID); err != nil {
		t.Fatalf("Get: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(at) != 2 {
		t.Fatalf("tries = %d, want 2", len(at))
	}
	// A lower bound only: the retry must not come before the second the server asked for. The
	// client's own backoff here is about a millisecond.
	if gap := at[1].Sub(at[0]); gap < time.Second {
		t.Errorf("retried after %v, before the server's Retry-After of 1s", gap)
	}
}

type stamp func()

func (s stamp) Do(req *policy.Request) (*http.Response, error) { s(); return req.Next() }

// TestValidatorCatchesBadRequests shows the middleware above is not a rubber stamp: raw requests that
// break the contract are reported, both by ValidateRequest and through the middleware.
func TestValidatorCatchesBadRequests(t *testing.T) {
	spec := facespec.Load(t)
	const create = "/face/v1.2/detectLiveness-sessions"
	tests := []struct {
		name, path, contentType, body string
	}{
		{"ttl of the wrong type", create, "application/json", `{"livenessOperationMode":"Passive","authTokenTimeToLiveInSeconds":"600"}`},
		{"ttl below the minimum", create, "application/json", `{"livenessOperationMode":"Passive","authTokenTimeToLiveInSeconds":5}`},
		{"mode missing", create, "application/json", `{"deviceCorrelationId":"d"}`},
		{"bool as a string", create, "application/json", `{"livenessOperationMode":"Passive","enableSessionImage":"true"}`},
		{"verify create as JSON", "/face/v1.2/detectLivenessWithVerify-sessions", "application/json", `{"livenessOperationMode":"Passive"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "https://face.test"+tt.path, strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.contentType)
			r.Header.Set("Ocp-Apim-Subscription-Key", testAPIKey)
			err := spec.ValidateRequest(r, []byte(tt.body))
			if err == nil {
				t.Fatal("ValidateRequest accepted the request")
			}
			if strings.Contains(err.Error(), testAPIKey) {
				t.Errorf("validation error quotes the API key: %v", err)
			}
		})
	}

	t.Run("through the middleware", func(t *testing.T) {
		spy := &spyTB{TB: t}
		st := newStack(t, spy, "key", nil)
		req, _ := http.NewRequest(http.MethodPost, st.url+create, strings.NewReader(tests[0].body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Ocp-Apim-Subscription-Key", testAPIKey)
		resp, err := st.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(spy.errors()) == 0 {
			t.Error("the middleware let a request with a string TTL through without complaint")
		}
	})
}

// spyTB collects what the middleware reports instead of failing the test.
type spyTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (s *spyTB) Helper() {}

func (s *spyTB) Errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

func (s *spyTB) errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errs...)
}
