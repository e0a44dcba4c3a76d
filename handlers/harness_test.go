package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/liveness-quicklink/functions/internal/callbackurl"
	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/quicklink"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/standin/quicklinkstub"
	"github.com/liveness-quicklink/functions/internal/store"
	"github.com/liveness-quicklink/functions/internal/testing/facespec"
	"github.com/liveness-quicklink/functions/internal/testing/fakeclock"
	"github.com/liveness-quicklink/functions/internal/testing/logsink"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/tap"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// app is the handler under test with real dependencies: the store on Azurite, and the real Face
// client talking to the Face stand-in through a middleware that holds both to Microsoft's spec.
type app struct {
	t      *testing.T
	api    *contract
	url    string
	client *http.Client

	srv      *Server
	store    *store.Store
	table    *aztables.Client // the store's table, read behind its back
	prefix   string           // the store's table prefix, for a second store on the same table
	stub     *facestub.Server
	quick    *quicklinkstub.Server // the quick link stand-in, over stub's sessions
	quickURL string                // its base URL (QUICKLINK_ENDPOINT)
	face     *face.Client          // the handler's Face client, for looking at Face sessions directly
	clock    *fakeclock.Clock
	logs     *logsink.Buffer
	hooks    *faceHooks
	events   *events.Publisher // the handler's: to o.ServiceBus, or the test binary's shared stand-in

	faceKey     string // the Face API key
	signingKey  []byte // the one CALLBACK_SIGNING_KEYS key
	functionKey string // what the Functions host would check; the handler must never echo it
}

type appOptions struct {
	// FaceTotalTimeout and FaceTryTimeout bound the handler's Face calls; zero means the client's defaults.
	FaceTotalTimeout, FaceTryTimeout time.Duration
	// KeepFaceSessions turns DELETE_FACE_SESSIONS off.
	KeepFaceSessions bool
	// ServiceBus is the stand-in the handler publishes to; nil means the test binary's shared one
	// (testenv.SharedServiceBus), whose counters add up every test's events.
	ServiceBus *services.ServiceBus
	// QuickLinks, when set, serves the handler's quick link calls in front of the stand-in it
	// is given (to fail some, or count them).
	QuickLinks func(stub http.Handler) http.Handler
	// Face, when set, serves the handler's Face calls in front of the stand-in (and the spec
	// check), as QuickLinks does for quick links.
	Face func(stub http.Handler) http.Handler
}

func newApp(t *testing.T, o *appOptions) *app {
	t.Helper()
	if o == nil {
		o = &appOptions{}
	}
	a := &app{
		t:           t,
		api:         loadContract(t),
		client:      &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		clock:       fakeclock.New(time.Now().UTC().Truncate(time.Millisecond)),
		hooks:       &faceHooks{},
		logs:        &logsink.Buffer{},
		faceKey:     "face-key-" + randomHex(t, 16),
		signingKey:  []byte(randomHex(t, 32)),
		functionKey: "function-key-" + randomHex(t, 16),
	}
	t.Cleanup(func() { a.checkLogs(t) }) // registered first, so it runs after every server has stopped

	az := testenv.StartAzurite(t)
	svc, err := aztables.NewServiceClientFromConnectionString(az.ConnectionString(), nil)
	if err != nil {
		t.Fatalf("tables client: %v", err)
	}
	prefix := "h" + randomHex(t, 8)
	a.store, err = store.New(t.Context(), svc, &store.Options{TablePrefix: prefix, Now: a.clock.Now})
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	a.table, a.prefix = svc.NewClient(prefix+"sessions"), prefix
	t.Cleanup(func() {
		_, err := a.table.Delete(context.Background(), nil)
		if re, ok := errors.AsType[*azcore.ResponseError](err); err != nil && !(ok && re.StatusCode == http.StatusNotFound) {
			t.Logf("deleting table %ssessions: %v", prefix, err)
		}
	})

	a.stub = facestub.New(&facestub.Options{APIKey: a.faceKey})
	// Face traffic is held to Microsoft's spec; a test can act while a request is in flight.
	var faceH http.Handler = facespec.Load(t).Middleware(t, a.hooks.wrap(a.stub))
	if o.Face != nil {
		faceH = o.Face(faceH)
	}
	faceSrv := httptest.NewServer(faceH)
	t.Cleanup(faceSrv.Close)
	t.Cleanup(func() { a.stub.Close() }) // runs first: releases requests held by a Hang fault
	a.face, err = face.NewClient(faceSrv.URL, nil, &face.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			InsecureAllowCredentialWithHTTP: true,
			// Short backoff keeps retries quick; the cap still honours a Retry-After of a second.
			Retry: policy.RetryOptions{RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 2 * time.Second},
		},
		APIKey:       a.faceKey,
		TotalTimeout: o.FaceTotalTimeout,
		TryTimeout:   o.FaceTryTimeout,
	})
	if err != nil {
		t.Fatalf("face.NewClient: %v", err)
	}

	a.quick = quicklinkstub.New(a.stub, nil)
	var quick http.Handler = a.quick
	if o.QuickLinks != nil {
		quick = o.QuickLinks(a.quick)
	}
	quickSrv := httptest.NewServer(quick)
	t.Cleanup(quickSrv.Close)
	a.quickURL = quickSrv.URL
	links, err := quicklink.NewClient(quickSrv.URL, &quicklink.ClientOptions{
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 2 * time.Second}},
	})
	if err != nil {
		t.Fatalf("quicklink.NewClient: %v", err)
	}
	signer, err := callbackurl.NewSigner([][]byte{a.signingKey})
	if err != nil {
		t.Fatalf("callbackurl.NewSigner: %v", err)
	}

	a.events = newPublisher(t, o.ServiceBus)
	a.srv = New(Deps{Face: a.face, QuickLinks: links, Store: a.store, Events: a.events}, Settings{
		PublicBaseURL:        "https://liveness.example.net",
		QuickLinkEndpoint:    quickSrv.URL,
		Callbacks:            signer,
		DefaultMode:          liveness.ModePassiveActive,
		AllowedReturnOrigins: testOrigins(t),
		DeleteFaceSessions:   !o.KeepFaceSessions,
	}, &Options{
		Logger: slog.New(slog.NewJSONHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    a.clock.Now,
	})
	// Every answer of the handler must be one api/openapi.yaml declares, and none may carry a
	// secret (tokens, keys), headers included.
	hs := httptest.NewServer(a.api.Middleware(t, noSecrets(t, a.secrets, a.srv.Handler())))
	t.Cleanup(hs.Close)
	a.url = hs.URL
	return a
}

// newPublisher is a publisher to sb's topic (nil: the shared stand-in's), closed when t ends. Its
// retries are quick, so that a stand-in that is down fails a send in well under a second.
func newPublisher(t *testing.T, sb *services.ServiceBus) *events.Publisher {
	t.Helper()
	cs := testenv.SharedServiceBus(t)
	if sb != nil {
		cs = sb.ConnectionString()
	}
	p, err := events.NewPublisher("liveness-events", events.ConnectionString(cs), &events.PublisherOptions{
		Client: &azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{
			MaxRetries: 2, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond,
		}},
	})
	if err != nil {
		t.Fatalf("events.NewPublisher: %v", err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// reply is a response of the handler, read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to the handler; see request.
func (a *app) do(method, path string, body []byte, header map[string]string) *reply {
	a.t.Helper()
	return a.send(a.request(method, path, body, header))
}

// request builds a request to the handler with the function key. path is sent as written (already
// escaped). A body gets Content-Type application/json unless header names another; a header value of
// "" leaves that header out.
func (a *app) request(method, path string, body []byte, header map[string]string) *http.Request {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("x-functions-key", a.functionKey)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return req
}

// send sends req as it is.
func (a *app) send(req *http.Request) *reply {
	a.t.Helper()
	resp, body, err := roundTrip(a.client, req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL.EscapedPath(), err)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: body}
}

// roundTrip sends req and reads the whole answer. It is safe to call from any goroutine.
func roundTrip(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// secrets are the values that must never leave the handler: every Face auth token issued so
// far, the Face API key, the function key and the callback signing key (in its two spellings).
// Quick link ids are not among them: IssueLink answers with its link; checkLogs adds them.
func (a *app) secrets() []string {
	return append(a.stub.IssuedTokens(), a.faceKey, a.functionKey, string(a.signingKey),
		base64.StdEncoding.EncodeToString(a.signingKey))
}

// checkLogs fails t if a secret reached the handler's log.
func (a *app) checkLogs(t *testing.T) {
	logs := a.logs.Bytes()
	if len(logs) == 0 {
		t.Errorf("the handler logged nothing: the secrets check would prove nothing")
	}
	for _, s := range append(a.secrets(), a.quick.IssuedLinkIDs()...) {
		if bytes.Contains(logs, []byte(s)) {
			t.Errorf("the handler's log contains a secret (%.12s…)", s)
		}
	}
}

// on returns a view of a that reports to t, for subtests sharing one app.
func (a *app) on(t *testing.T) *app {
	b := *a
	b.t = t
	return &b
}

// start starts a session with body and returns it; it fails the test unless the answer is 201.
func (a *app) start(body string) sessionView {
	a.t.Helper()
	r := a.do("POST", "/api/sessions", []byte(body), nil)
	if r.status != http.StatusCreated {
		a.t.Fatalf("POST /api/sessions %.200s = %d %s, want 201", body, r.status, r.body)
	}
	return r.session(a.t)
}

// session decodes a session body, rejecting fields sessionView does not have.
func (r *reply) session(t *testing.T) sessionView {
	t.Helper()
	var v sessionView
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding session %s: %v", r.body, err)
	}
	return v
}

// wantProblem fails t unless r is an application/problem+json answer with status and code.
func (r *reply) wantProblem(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %.300s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Errorf("problem body %s: %v", r.body, err)
		return
	}
	if p.Code != code || p.Status != status {
		t.Errorf("problem code %q status %d, want %q %d (detail %q)", p.Code, p.Status, code, status, p.Detail)
	}
}

// rows returns every row of the store's table, keyed "PartitionKey/RowKey", with its ETag: two
// snapshots are equal only if nothing was added, changed or removed.
func (a *app) rows() map[string]string {
	a.t.Helper()
	out := map[string]string{}
	for _, raw := range a.rawEntities() {
		var e struct {
			PartitionKey, RowKey string
			ETag                 string `json:"odata.etag"`
		}
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			a.t.Fatalf("decoding a row: %v", err)
		}
		out[e.PartitionKey+"/"+e.RowKey] = e.ETag
	}
	return out
}

// rawEntities returns every row of the store's table as the service sends it.
func (a *app) rawEntities() []string {
	a.t.Helper()
	var out []string
	pager := a.table.NewListEntitiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(a.t.Context())
		if err != nil {
			a.t.Fatalf("listing the table: %v", err)
		}
		for _, e := range page.Entities {
			out = append(out, string(e))
		}
	}
	return out
}

// faceSession reads a session from the stand-in through the Face client.
func (a *app) faceSession(kind liveness.Kind, id string) (*face.Session, error) {
	return a.face.Get(a.t.Context(), face.Kind(kind), id)
}

// noSecrets reports, with tb.Errorf, every answer of next whose headers or body carry one of the
// values secrets returns at that moment.
func noSecrets(tb testing.TB, secrets func() []string, next http.Handler) http.Handler {
	return tap.Handler(next, func(x tap.Exchange) {
		var raw bytes.Buffer
		x.Header.Write(&raw)
		raw.Write(x.Body)
		for _, s := range secrets() {
			if bytes.Contains(raw.Bytes(), []byte(s)) {
				tb.Errorf("%s %s: the answer contains a secret (%.12s…)", x.Request.Method, x.Request.URL.EscapedPath(), s)
			}
		}
	})
}
