package face

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/google/uuid"
)

func TestNewClientRejects(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		withCred bool
		key      string
	}{
		{"no credential and no key", "https://x.cognitiveservices.azure.com", false, ""},
		{"relative endpoint", "x.cognitiveservices.azure.com", true, ""},
		{"other scheme", "ftp://x.cognitiveservices.azure.com", true, ""},
		{"no host", "https://", false, "k"},
		{"query", "https://x.cognitiveservices.azure.com/?a=b", false, "k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cred azcore.TokenCredential
			if tt.withCred {
				cred = &fakeCredential{}
			}
			_, err := NewClient(tt.endpoint, cred, &ClientOptions{APIKey: tt.key})
			if err == nil {
				t.Fatal("NewClient succeeded, want an error")
			}
			if contains(err.Error(), tt.key) {
				t.Errorf("error quotes the API key: %v", err)
			}
		})
	}
}

func TestAuthModes(t *testing.T) {
	rec := newRecorder(ok(sessionJSON))
	tlsSrv := httptest.NewTLSServer(rec)
	defer tlsSrv.Close()

	t.Run("api key", func(t *testing.T) {
		c := keyClient(t, tlsSrv.URL, tlsSrv.Client(), nil)
		if _, err := c.Get(context.Background(), KindLiveness, testSessionID); err != nil {
			t.Fatal(err)
		}
		h := last(rec).Header
		if got := h.Get("Ocp-Apim-Subscription-Key"); got != testAPIKey {
			t.Errorf("Ocp-Apim-Subscription-Key = %q, want the key", got)
		}
		if got := h.Get("Authorization"); got != "" {
			t.Errorf("Authorization = %q, want none in key mode", got)
		}
	})

	t.Run("entra bearer over https", func(t *testing.T) {
		cred := &fakeCredential{}
		o := &ClientOptions{}
		o.Transport = tlsSrv.Client() // trusts the test server's certificate
		c, err := NewClient(tlsSrv.URL, cred, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(context.Background(), KindLiveness, testSessionID); err != nil {
			t.Fatal(err)
		}
		h := last(rec).Header
		if got := h.Get("Authorization"); got != "Bearer "+testEntra {
			t.Errorf("Authorization = %q, want the Entra bearer token", got)
		}
		if got := h.Get("Ocp-Apim-Subscription-Key"); got != "" {
			t.Errorf("Ocp-Apim-Subscription-Key = %q, want none in Entra mode", got)
		}
		want := []string{"https://cognitiveservices.azure.com/.default"}
		if len(cred.scopes) == 0 || !slices.Equal(cred.scopes[0], want) {
			t.Errorf("token scopes = %v, want %v", cred.scopes, want)
		}
	})

	for _, mode := range []string{"key", "bearer"} {
		t.Run(mode+" over http is refused unless allowed", func(t *testing.T) {
			plain := newRecorder(ok(sessionJSON))
			srv := httptest.NewServer(plain)
			defer srv.Close()
			for _, allow := range []bool{false, true} {
				o := &ClientOptions{}
				o.InsecureAllowCredentialWithHTTP = allow
				var cred azcore.TokenCredential
				if mode == "key" {
					o.APIKey = testAPIKey
				} else {
					cred = &fakeCredential{}
				}
				c, err := NewClient(srv.URL, cred, o)
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.Get(context.Background(), KindLiveness, testSessionID)
				if allow && err != nil {
					t.Errorf("allowed: Get over http failed: %v", err)
				}
				if !allow && err == nil {
					t.Error("not allowed: Get over http sent a credential in clear text")
				}
			}
			if n := len(plain.requests()); n != 1 {
				t.Errorf("http server got %d requests, want 1 (only the allowed one)", n)
			}
		})
	}
}

func last(r *recorder) seen {
	reqs := r.requests()
	return reqs[len(reqs)-1]
}

func TestClientRequestIDPerCall(t *testing.T) {
	rec := newRecorder(answer{status: http.StatusInternalServerError}, ok(sessionJSON))
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c := keyClient(t, srv.URL, nil, func(o *ClientOptions) { o.Retry.RetryDelay = time.Millisecond })

	for range 2 {
		if _, err := c.Get(context.Background(), KindLiveness, testSessionID); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rec.requests()
	if len(reqs) != 3 {
		t.Fatalf("server got %d requests, want 3 (a retried call, then one more)", len(reqs))
	}
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		ids[i] = r.Header.Get("client-request-id")
		if _, err := uuid.Parse(ids[i]); err != nil {
			t.Errorf("request %d: client-request-id %q is not a UUID", i, ids[i])
		}
	}
	if ids[0] != ids[1] {
		t.Errorf("retry changed client-request-id: %q then %q", ids[0], ids[1])
	}
	if ids[1] == ids[2] {
		t.Errorf("two calls share client-request-id %q", ids[1])
	}
}

// TestLogsKeepSecrets captures azcore's log with every event on, body logging asked for and the key
// header put in the allow-list, and checks no secret leaks anyway.
func TestLogsKeepSecrets(t *testing.T) {
	var mu sync.Mutex
	var logged strings.Builder
	log.SetListener(func(e log.Event, msg string) {
		mu.Lock()
		defer mu.Unlock()
		logged.WriteString(string(e) + ": " + msg + "\n")
	})
	t.Cleanup(func() { log.SetListener(nil) })

	rec := newRecorder(faceError(http.StatusTooManyRequests, "429", nil), ok(sessionJSON))
	tlsSrv := httptest.NewTLSServer(rec)
	defer tlsSrv.Close()
	loud := func(o *ClientOptions) {
		o.Logging.IncludeBody = true
		o.Logging.AllowedHeaders = []string{"Ocp-Apim-Subscription-Key", "authorization"}
		o.Retry.RetryDelay = time.Millisecond
		o.Transport = tlsSrv.Client()
	}

	key := keyClient(t, tlsSrv.URL, nil, loud)
	s, err := key.Create(context.Background(), KindLiveness, CreateRequest{Mode: "Passive"})
	if err != nil {
		t.Fatal(err)
	}
	o := &ClientOptions{}
	loud(o)
	bearer, err := NewClient(tlsSrv.URL, &fakeCredential{}, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bearer.Get(context.Background(), KindLiveness, testSessionID); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	out := logged.String()
	mu.Unlock()
	if !strings.Contains(out, "/detectLiveness-sessions") || !strings.Contains(out, "Ocp-Apim-Subscription-Key") {
		t.Fatalf("azcore logged nothing useful; the test would prove nothing:\n%s", out)
	}
	if id := last(rec).Header.Get("client-request-id"); !strings.Contains(out, id) {
		t.Errorf("log lacks the client-request-id %q, which should be allowed", id)
	}
	for name, secret := range map[string]string{"API key": testAPIKey, "Entra token": testEntra, "session auth token": s.AuthToken} {
		if strings.Contains(out, secret) {
			t.Errorf("azcore log contains the %s", name)
		}
	}
}
