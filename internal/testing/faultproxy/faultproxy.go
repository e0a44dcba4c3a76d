// Package faultproxy is an HTTP proxy for tests that stands between a client and a real service
// (Azurite) and spoils chosen exchanges the way networks and services do: most importantly it lets
// a write reach the service and commit, and then loses, replaces or holds back its answer, so
// that the client's retry meets its own earlier success.
//
// It listens on 127.0.0.1 on a free port and forwards every request unchanged (the Table
// service's Shared Key signature does not cover the host, so requests signed for Azurite stay
// valid). Requests that match no rule pass through untouched.
package faultproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault is what the proxy does to a matching exchange.
type Fault int

const (
	// Lose forwards the request, lets the service answer (the write commits), then closes the
	// client's connection without a byte of the answer: a connection reset after the commit.
	Lose Fault = iota + 1
	// Fail forwards the request (the write commits), then answers 500 InternalServerError in place
	// of the service's answer, as a front end that failed after the back end committed does.
	Fail
	// Stall forwards the request (the write commits), then holds the answer until the client
	// gives up (its per-try timeout) or Stall's cap passes, and closes the connection unanswered.
	Stall
	// Refuse answers 503 ServerBusy without forwarding, as Table Storage does when it throttles
	// (with the Rule's Header, e.g. a Retry-After hint): the service never sees the request.
	Refuse
)

func (f Fault) String() string {
	switch f {
	case Lose:
		return "answer lost"
	case Fail:
		return "500 after the commit"
	case Stall:
		return "answer held past the client's timeout"
	case Refuse:
		return "refused"
	}
	return "no fault"
}

// stallCap bounds a Stall when the client never gives up, so that a test cannot hang on it.
const stallCap = 30 * time.Second

// Rule picks the exchanges to spoil. Every non-empty field must match.
type Rule struct {
	// Method is the HTTP method, e.g. "POST", "PUT", "MERGE", "DELETE", "GET".
	Method string
	// Path is a substring of the unescaped URL path, e.g. "$batch" or "RowKey='session'".
	Path string
	// Body is a substring of the request body, e.g. `"RowKey":"idempotency"`.
	Body string
	// Fault is what happens to a matching exchange.
	Fault Fault
	// Times is how many matching exchanges are spoiled; zero means one. Later ones pass.
	Times int
	// Header is added to a Refuse answer: a throttling hint (Retry-After, x-ms-retry-after-ms).
	Header http.Header
	// Match, when set, must accept the exchange too: a test's own notion of "this write".
	Match func(method, path string, body []byte) bool
	// Skip lets the first Skip matching exchanges pass untouched, so that a rule can pick the Nth
	// of several alike (the second merge of one row, say).
	Skip int
}

func (r *Rule) matches(req *http.Request, path string, body []byte) bool {
	return (r.Method == "" || strings.EqualFold(r.Method, req.Method)) &&
		(r.Path == "" || strings.Contains(path, r.Path)) &&
		(r.Body == "" || bytes.Contains(body, []byte(r.Body))) &&
		(r.Match == nil || r.Match(req.Method, path, body))
}

// Exchange is a request the proxy received, as it was sent.
type Exchange struct {
	Method, Path string // Path unescaped, as Rule.Path sees it
	Body         []byte
}

// Proxy is a running fault-injecting proxy. It is safe for concurrent use.
type Proxy struct {
	srv    *httptest.Server
	target *url.URL
	client *http.Client

	mu      sync.Mutex
	rules   []*rule
	spoiled int
	seen    []Exchange
	down    bool
}

type rule struct {
	Rule
	left, skip int
}

// New starts a proxy in front of target (scheme, host and port, e.g. "http://127.0.0.1:10002";
// any path is ignored: request paths pass unchanged). Close stops it.
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		target: &url.URL{Scheme: u.Scheme, Host: u.Host},
		// Its own transport: a connection the proxy holds must never be shared with the test's.
		client: &http.Client{Transport: &http.Transport{}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	return p, nil
}

// URL is the proxy's base URL: http://127.0.0.1:<port>.
func (p *Proxy) URL() string { return p.srv.URL }

// Close stops the proxy, dropping any exchange it still holds.
func (p *Proxy) Close() {
	p.srv.CloseClientConnections()
	p.srv.Close()
	p.client.CloseIdleConnections()
}

// Inject adds a rule. Rules are tried in the order they were added; the first that matches and
// has spoils left applies.
func (p *Proxy) Inject(r Rule) {
	n := r.Times
	if n <= 0 {
		n = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &rule{Rule: r, left: n, skip: r.Skip})
}

// Exchanges returns every request the proxy has received so far, oldest first.
func (p *Proxy) Exchanges() []Exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

// Clear drops every rule: from now on every exchange passes through.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// SetDown takes the service away (true) or brings it back (false). While it is down, every
// exchange is cut before it reaches the service: the proxy reads the request and closes the
// connection without a byte of answer, as a host that went away mid-connection does. Nothing
// reaches the service and nothing counts as spoiled; the rules wait until it is back.
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

func (p *Proxy) isDown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// Spoiled is how many exchanges the proxy has spoiled so far.
func (p *Proxy) Spoiled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spoiled
}

// Pending is how many more exchanges the rules would spoil: zero once every rule is used up.
func (p *Proxy) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.rules {
		n += r.left
	}
	return n
}

func (p *Proxy) pick(req *http.Request, body []byte) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, Exchange{Method: req.Method, Path: req.URL.Path, Body: body})
	for _, r := range p.rules {
		if r.left > 0 && r.matches(req, req.URL.Path, body) {
			if r.skip > 0 {
				r.skip--
				continue
			}
			r.left--
			p.spoiled++
			return &r.Rule
		}
	}
	return &Rule{}
}

// RefusedBody is in the body of every Refuse answer, as the text of a service's error message
// is: a test can check that it reaches neither a log line nor an answer.
const RefusedBody = "faultproxy: the server is busy (body text)"

// refuse answers as Table Storage does when it throttles: 503, error code ServerBusy in the
// header and in an OData error body, a request id, and r's headers.
func refuse(w http.ResponseWriter, r *Rule) {
	for k, vs := range r.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json;odata=minimalmetadata")
	w.Header().Set("x-ms-error-code", "ServerBusy")
	w.Header().Set("x-ms-request-id", "faultproxy-refused")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, `{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US","value":"`+RefusedBody+`\nRequestId:faultproxy-refused"}}}`)
}

func (p *Proxy) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "faultproxy: reading the request: "+err.Error(), http.StatusBadGateway)
		return
	}
	if p.isDown() {
		panic(http.ErrAbortHandler) // closes the connection with nothing written
	}
	picked := p.pick(req, body)
	fault := picked.Fault
	if fault == Refuse {
		refuse(w, picked)
		return
	}

	out := req.Clone(req.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.target.Scheme, p.target.Host
	out.Host = p.target.Host
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	if fault != 0 {
		// The service must finish the write even though the client will not hear of it.
		out = out.WithContext(context.WithoutCancel(req.Context()))
	}
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, "faultproxy: forwarding: "+err.Error(), http.StatusBadGateway)
		return
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, "faultproxy: reading the answer: "+err.Error(), http.StatusBadGateway)
		return
	}

	switch fault {
	case Lose:
		panic(http.ErrAbortHandler) // closes the connection with nothing written
	case Stall:
		select {
		case <-req.Context().Done():
		case <-time.After(stallCap):
		}
		panic(http.ErrAbortHandler)
	case Fail:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"odata.error":{"code":"InternalError","message":{"lang":"en-US","value":"faultproxy: answer replaced after the commit"}}}`)
		return
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

// InFront starts a proxy in front of the table endpoint of a storage connection string (Azurite's)
// and returns it, with the connection string that reaches the service through it. The proxy
// stops when tb ends.
func InFront(tb testing.TB, connectionString string) (*Proxy, string) {
	tb.Helper()
	p, cs, err := Front(connectionString)
	if err != nil {
		tb.Fatalf("faultproxy: %v", err)
	}
	tb.Cleanup(p.Close)
	return p, cs
}

// Front is InFront for a caller without a testing.TB (a harness that outlives one test): the
// caller closes the proxy.
func Front(connectionString string) (*Proxy, string, error) {
	var endpoint string
	for part := range strings.SplitSeq(connectionString, ";") {
		if v, ok := strings.CutPrefix(part, "TableEndpoint="); ok {
			endpoint = v
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, "", fmt.Errorf("no usable TableEndpoint in the connection string (%v)", err)
	}
	base := u.Scheme + "://" + u.Host
	p, err := New(base)
	if err != nil {
		return nil, "", err
	}
	return p, strings.Replace(connectionString, "TableEndpoint="+base, "TableEndpoint="+p.URL(), 1), nil
}
