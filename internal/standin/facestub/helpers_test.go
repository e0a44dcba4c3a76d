package facestub_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/facespec"
	"github.com/liveness-quicklink/functions/internal/testing/fakeclock"
)

const (
	livenessPath = "/face/v1.2/detectLiveness-sessions"
	verifyPath   = "/face/v1.2/detectLivenessWithVerify-sessions"
	testKey      = "test-key"
)

func newClock() *fakeclock.Clock { return fakeclock.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)) }

// env is a stand-in behind two servers: strict validates every request and response with Microsoft's
// spec, plain lets requests through unchecked so tests can send the malformed ones the spec forbids.
type env struct {
	stub   *facestub.Server
	clock  *fakeclock.Clock
	spec   *facespec.Spec
	strict *httptest.Server
	plain  *httptest.Server
}

func newEnv(t *testing.T, opts *facestub.Options) *env {
	t.Helper()
	spec := facespec.Load(t)
	var o facestub.Options
	if opts != nil {
		o = *opts
	}
	e := &env{clock: newClock(), spec: spec}
	if o.Now == nil {
		o.Now = e.clock.Now
	}
	e.stub = facestub.New(&o)
	mux := http.NewServeMux()
	mux.Handle("/face/", spec.Middleware(t, e.stub))
	mux.Handle("/", e.stub)
	e.strict = httptest.NewServer(mux)
	e.plain = httptest.NewServer(e.stub)
	t.Cleanup(func() {
		e.stub.Close()
		e.strict.Close()
		e.plain.Close()
	})
	return e
}

// response is what a client received.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode response %d %s: %v", r.status, r.body, err)
	}
}

// faceErr is the FaceErrorResponse a response holds.
func (r response) faceErr(t *testing.T) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	r.json(t, &e)
	if h := r.header.Get("x-ms-error-code"); h != e.Error.Code {
		t.Errorf("x-ms-error-code = %q, body code = %q, want them equal", h, e.Error.Code)
	}
	return e.Error.Code, e.Error.Message
}

func (r response) wantError(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d (%s), want %d", r.status, r.body, status)
	}
	if got, _ := r.faceErr(t); got != code {
		t.Errorf("error code = %q, want %q", got, code)
	}
}

type call struct {
	method, path, contentType string
	body                      []byte
	header                    http.Header // nil: the test key
}

// do sends c through the validating server.
func (e *env) do(t *testing.T, c call) response {
	t.Helper()
	return e.send(t, e.strict, c)
}

// doUnchecked sends c as it is, then checks only the response against the spec.
func (e *env) doUnchecked(t *testing.T, c call) response {
	t.Helper()
	resp := e.send(t, e.plain, c)
	req := httptest.NewRequest(c.method, c.path, nil)
	if err := e.spec.ValidateResponse(req, c.body, resp.status, resp.header, resp.body); err != nil {
		t.Errorf("response violates the Face spec: %v", err)
	}
	return resp
}

func (e *env) send(t *testing.T, srv *httptest.Server, c call) response {
	t.Helper()
	req, err := http.NewRequest(c.method, srv.URL+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	h := c.header
	if h == nil {
		h = http.Header{"Ocp-Apim-Subscription-Key": {testKey}}
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

// session is a LivenessSession or LivenessWithVerifySession as a client reads it.
type session struct {
	SessionID    string
	AuthToken    string
	Status       string
	ModelVersion string
	Results      struct {
		Attempts         []attempt
		VerifyReferences []json.RawMessage
	}
}

type attempt struct {
	AttemptID     int
	AttemptStatus string
	Result        *struct {
		LivenessDecision string
		Digest           string
		SessionImageID   string
		VerifyResult     *struct {
			MatchConfidence float64
			IsIdentical     bool
		}
		VerifyImageHash string
	}
	Error *struct{ Code, Message string }
}

func createJSON(body string) call {
	return call{method: http.MethodPost, path: livenessPath, contentType: "application/json", body: []byte(body)}
}

const validCreate = `{"livenessOperationMode":"PassiveActive","deviceCorrelationId":"device-1"}`

// create makes a liveness session through the validating server.
func (e *env) create(t *testing.T, body string) session {
	t.Helper()
	r := e.do(t, createJSON(body))
	if r.status != http.StatusOK {
		t.Fatalf("create: status %d (%s), want 200", r.status, r.body)
	}
	var s session
	r.json(t, &s)
	return s
}

// form is a multipart create-with-verify body.
type form struct {
	fields    [][2]string
	imagePart string // part name; "" for none
	filename  string
	image     []byte
	twice     bool // send the image part twice
}

func verifyForm(image []byte) form {
	return form{
		fields:    [][2]string{{"livenessOperationMode", "Passive"}, {"deviceCorrelationId", "device-1"}},
		imagePart: "verifyImage", filename: "face.jpg", image: image,
	}
}

func (f form) call(t *testing.T) call {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, kv := range f.fields {
		if err := mw.WriteField(kv[0], kv[1]); err != nil {
			t.Fatalf("write field: %v", err)
		}
	}
	for i := 0; f.imagePart != "" && (i == 0 || i == 1 && f.twice); i++ {
		h := make(map[string][]string)
		cd := `form-data; name="` + f.imagePart + `"`
		if f.filename != "" {
			cd += `; filename="` + f.filename + `"`
		}
		h["Content-Disposition"] = []string{cd}
		h["Content-Type"] = []string{"application/octet-stream"}
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatalf("create part: %v", err)
		}
		pw.Write(f.image)
	}
	mw.Close()
	return call{method: http.MethodPost, path: verifyPath, contentType: mw.FormDataContentType(), body: buf.Bytes()}
}

// createVerify makes a verify session through the validating server.
func (e *env) createVerify(t *testing.T, f form) session {
	t.Helper()
	r := e.do(t, f.call(t))
	if r.status != http.StatusOK {
		t.Fatalf("create with verify: status %d (%s), want 200", r.status, r.body)
	}
	var s session
	r.json(t, &s)
	return s
}

func (e *env) getSession(t *testing.T, path, id string) (session, response) {
	t.Helper()
	r := e.do(t, call{method: http.MethodGet, path: path + "/" + id})
	var s session
	if r.status == http.StatusOK {
		r.json(t, &s)
	}
	return s, r
}

// image returns n bytes that start with the magic of a format; the rest is filler.
func imageBytes(magic string, n int) []byte {
	b := make([]byte, n)
	copy(b, magic)
	return b
}

const jpegMagic = "\xFF\xD8\xFF\xE0"

func jpeg(n int) []byte { return imageBytes(jpegMagic, n) }
