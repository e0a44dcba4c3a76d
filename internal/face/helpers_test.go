package face

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const (
	testSessionID = "b12e033e-bda7-4b83-a211-e721c661f30e"
	testAuthToken = "eyJhbGciOiJFUzI1NiIs.session-token-secret"
	testAPIKey    = "test-api-key-0123456789"
	testEntra     = "entra-access-token-secret"
)

// sessionJSON is a minimal valid LivenessSession body.
const sessionJSON = `{"sessionId":"` + testSessionID + `","authToken":"` + testAuthToken +
	`","status":"NotStarted","modelVersion":"2024-11-15","results":{"attempts":[]}}`

// seen is one request as a test server received it.
type seen struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	At     time.Time // on the fake clock inside a synctest bubble
}

// recorder answers with a scripted sequence of responses (the last one repeats) and records every
// request it gets.
type recorder struct {
	mu      sync.Mutex
	reqs    []seen
	answers []answer
}

type answer struct {
	status int
	header map[string]string
	body   string
	hang   bool // block until the request is canceled
}

func newRecorder(answers ...answer) *recorder { return &recorder{answers: answers} }

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, seen{req.Method, req.URL.EscapedPath(), req.Header.Clone(), body, time.Now()})
	a := r.answers[min(len(r.reqs), len(r.answers))-1]
	r.mu.Unlock()
	if a.hang {
		<-req.Context().Done()
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	if a.body != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (r *recorder) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

func ok(body string) answer { return answer{status: http.StatusOK, body: body} }

func faceError(status int, code string, header map[string]string) answer {
	return answer{status: status, header: header,
		body: `{"error":{"code":"` + code + `","message":"test error"}}`}
}

// inMemory is a transport that calls a handler directly, without sockets, so that retry tests can
// run inside a synctest bubble on its fake clock.
type inMemory struct{ h http.Handler }

func (t inMemory) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		req.Body = http.NoBody // as a server would see it
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// fakeCredential hands out a fixed Entra token and records the scopes asked for.
type fakeCredential struct {
	mu     sync.Mutex
	scopes [][]string
}

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes)
	return azcore.AccessToken{Token: testEntra, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// keyClient returns a client using an API key against an http server.
func keyClient(t *testing.T, endpoint string, transport policy.Transporter, tweak func(*ClientOptions)) *Client {
	t.Helper()
	o := &ClientOptions{APIKey: testAPIKey}
	o.InsecureAllowCredentialWithHTTP = true
	o.Transport = transport
	if tweak != nil {
		tweak(o)
	}
	c, err := NewClient(endpoint, nil, o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// specsDir finds the shared specs folder the way internal/facespec does: beside $FACE_OPENAPI_SPEC
// (the Swagger file), else ../shared/specs relative to the repository root.
func specsDir(t *testing.T) string {
	t.Helper()
	spec := os.Getenv("FACE_OPENAPI_SPEC")
	if spec == "" {
		spec = filepath.Join("..", "..", "..", "shared", "specs", "face-v1.2.openapi.json")
	}
	if _, err := os.Stat(spec); err != nil {
		t.Skipf("Face v1.2 spec not found at %s (set FACE_OPENAPI_SPEC to face-v1.2.openapi.json, with face-examples-v1.2/ beside it): %v", spec, err)
	}
	return filepath.Dir(spec)
}

// jpeg is the smallest byte string http.DetectContentType calls image/jpeg.
var jpeg = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{0x42}, 60)...)

func contains(hay, needle string) bool { return needle != "" && strings.Contains(hay, needle) }
