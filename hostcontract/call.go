package hostcontract

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Response is the handler's answer, buffered as the host buffers it.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// InvocationID is the host's own X-Azure-Functions-InvocationId of the call: what the
	// handler's log lines for it should name.
	InvocationID string
}

// MediaType is the response's media type without parameters ("" when absent or malformed).
func (r *Response) MediaType() string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// DecodeJSON decodes the body into v.
func (r *Response) DecodeJSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("body is not the expected JSON (%w): %.300s", err, r.Body)
	}
	return nil
}

// Forward sends what the host sends when a client calls the forwarded function fn with method:
// the route template expanded with vars, body as application/json when non-empty.
func (h *Host) Forward(t testing.TB, fn, method string, vars map[string]string, body []byte) *Response {
	t.Helper()
	tmpl := h.template(t, fn)
	path, err := tmpl.Expand(vars)
	if err != nil {
		t.Fatalf("hostcontract: %s: %v", fn, err)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "https://app.example.net"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("hostcontract: %s: %v", fn, err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	return h.ForwardRequest(t, fn, req)
}

// ForwardRequest forwards a client's request to function fn as the host does with
// enableForwardingHttpRequest: it fails the test when the host would not route the request to fn
// (method not listed, path not matching the route ignoring case); otherwise it keeps path (with
// the client's casing), method and headers, collapses repeated query keys into one comma-joined
// value, sends the body only when Content-Length > 0 (Content-Type only with it), and adds the
// host's headers.
//
// Like the host, it passes the function key on: the client's ?code= and x-functions-key as sent,
// and where the client sent none, a random one (the host checked it and forwards it anyway). A
// request with a chunked body (no Content-Length) arrives as the host sends it: the
// Transfer-Encoding: chunked header and no body at all.
func (h *Host) ForwardRequest(t testing.TB, fn string, client *http.Request) *Response {
	t.Helper()
	f, _ := h.App.Function(fn)
	if !f.Allows(client.Method) {
		t.Fatalf("hostcontract: the host routes no %s to %s (methods %v): use Direct to probe the handler", client.Method, fn, f.Methods())
	}
	if _, ok := h.template(t, fn).Match(client.URL.EscapedPath()); !ok {
		t.Fatalf("hostcontract: the host would not route %s to %s (route %q)", client.URL.EscapedPath(), fn, h.App.RouteTemplate(f))
	}
	q := collapseQuery(client.URL.Query())
	header := client.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if !q.Has("code") {
		q.Set("code", randomKey(t))
	}
	if header.Get("X-Functions-Key") == "" {
		header.Set("X-Functions-Key", randomKey(t))
	}
	h.addKeys(q.Get("code"), header.Get("X-Functions-Key"))
	u := h.BaseURL + client.URL.EscapedPath() + "?" + q.Encode()
	chunked := client.ContentLength < 0 || slices.Contains(client.TransferEncoding, "chunked")
	var body io.Reader
	if client.ContentLength > 0 && client.Body != nil {
		b, err := io.ReadAll(client.Body)
		if err != nil {
			t.Fatalf("hostcontract: read the client body: %v", err)
		}
		body = bytes.NewReader(b)
	} else {
		header.Del("Content-Type")
		header.Del("Content-Length")
	}
	req, err := http.NewRequestWithContext(client.Context(), client.Method, u, body)
	if err != nil {
		t.Fatalf("hostcontract: %v", err)
	}
	req.Header = header
	inv := h.addHostHeaders(req)
	if chunked {
		return h.sendHeadOnly(t, req, inv)
	}
	return h.send(t, req, inv)
}

// collapseQuery joins repeated keys with commas, as the host rebuilds the query.
func collapseQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, vs := range q {
		out.Set(k, strings.Join(vs, ","))
	}
	return out
}

// Invoke sends the default-payload request for the non-HTTP function fn: POST /<fn>, no route
// prefix, the payload as JSON.
func (h *Host) Invoke(t testing.TB, fn string, payload any) *Response {
	t.Helper()
	f, ok := h.App.Function(fn)
	if !ok {
		t.Fatalf("hostcontract: no function %q in %s", fn, h.App.Root)
	}
	if _, forwarded := f.HTTPTrigger(); forwarded {
		t.Fatalf("hostcontract: the host forwards HTTP calls to %s; it never posts it a default payload", fn)
	}
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatalf("hostcontract: encode the payload: %v", err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.BaseURL+"/"+fn, bytes.NewReader(b))
	if err != nil {
		t.Fatalf("hostcontract: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	return h.send(t, req, h.addHostHeaders(req))
}

// Direct sends a request to the handler as is, past the host's routing: for probing what the
// handler exposes on its own (the host would answer such calls itself).
func (h *Host) Direct(t testing.TB, method, path string, body []byte) *Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("hostcontract: %v", err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	return h.send(t, req, "")
}

// addHostHeaders adds the host's headers and returns the invocation id. The host appends its id
// to the header's values, so a caller's own id arrives first: "<caller>, <host>".
func (h *Host) addHostHeaders(req *http.Request) string {
	id := h.opts.NewID()
	const name = "X-Azure-Functions-InvocationId"
	req.Header.Set(name, strings.Join(append(req.Header.Values(name), id), ", "))
	req.Header.Set("X-Azure-Functions-HostVersion", HostVersion)
	ua := strings.TrimSpace(req.Header.Get("User-Agent") + " Azure-Functions-Host/" + HostVersion)
	req.Header.Set("User-Agent", ua)
	return id
}

func (h *Host) send(t testing.TB, req *http.Request, inv string) *Response {
	t.Helper()
	resp, err := h.Client.Do(req)
	if err != nil {
		// The host turns this into a failed invocation and a 500 for the client.
		t.Fatalf("hostcontract: %s %s: %v", req.Method, req.URL.Path, err)
	}
	return h.read(t, req, resp, inv)
}

// sendHeadOnly sends req's head with Transfer-Encoding: chunked and then nothing, as the host
// forwards a chunked request, and waits for the answer (until req's context ends, else the
// client's timeout). net/http cannot send this, as it would end the body it declared.
func (h *Host) sendHeadOnly(t testing.TB, req *http.Request, inv string) *Response {
	t.Helper()
	deadline, ok := req.Context().Deadline()
	if !ok {
		deadline = time.Now().Add(cmp.Or(h.Client.Timeout, 2*time.Minute))
	}
	conn, err := net.DialTimeout("tcp", req.URL.Host, time.Until(deadline))
	if err != nil {
		t.Fatalf("hostcontract: %s %s: %v", req.Method, req.URL.Path, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	head := req.Header.Clone()
	head.Set("Transfer-Encoding", "chunked")
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, req.URL.RequestURI(), req.URL.Host)
	_ = head.Write(&b)
	b.WriteString("\r\n")
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatalf("hostcontract: %s %s: %v", req.Method, req.URL.Path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("hostcontract: %s %s with a chunked body the host did not send: no answer (%v)", req.Method, req.URL.Path, err)
	}
	return h.read(t, req, resp, inv)
}

// read buffers resp and fails the test when it carries a function key (body or headers).
func (h *Host) read(t testing.TB, req *http.Request, resp *http.Response, inv string) *Response {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("hostcontract: %s %s: read the response: %v", req.Method, req.URL.Path, err)
	}
	var headers bytes.Buffer
	_ = resp.Header.Write(&headers)
	for _, k := range h.FunctionKeys() {
		if bytes.Contains(body, []byte(k)) || bytes.Contains(headers.Bytes(), []byte(k)) {
			t.Errorf("hostcontract: %s %s: the answer holds a function key", req.Method, req.URL.Path)
		}
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body, InvocationID: inv}
}

// FunctionKeys are the function keys sent so far (in ?code= and x-functions-key): secrets that
// must reach no log line and no answer.
func (h *Host) FunctionKeys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.keys)
}

func (h *Host) addKeys(keys ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range keys {
		if k != "" && !slices.Contains(h.keys, k) {
			h.keys = append(h.keys, k)
		}
	}
}

// randomKey is a function key as the host issues them: 40-odd URL-safe characters.
func randomKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("hostcontract: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *Host) template(t testing.TB, fn string) *Template {
	t.Helper()
	f, ok := h.App.Function(fn)
	if !ok {
		t.Fatalf("hostcontract: no function %q in %s", fn, h.App.Root)
	}
	if _, forwarded := f.HTTPTrigger(); !forwarded {
		t.Fatalf("hostcontract: %s is not a forwarded HTTP function (one httpTrigger in, one http out)", fn)
	}
	tmpl, err := ParseTemplate(h.App.RouteTemplate(f))
	if err != nil {
		t.Fatalf("hostcontract: %s: %v", fn, err)
	}
	return tmpl
}

// Payload is the host's default-payload request body.
type Payload struct {
	Data     map[string]any `json:"Data"`
	Metadata map[string]any `json:"Metadata"`
}

// DefaultPayload builds the request the host posts for a run of non-HTTP function fn: one Data
// entry per input binding (a timer's value as the host serializes it; other binding types as
// null) and the sys metadata.
func (h *Host) DefaultPayload(t testing.TB, fn string) Payload {
	t.Helper()
	f, ok := h.App.Function(fn)
	if !ok {
		t.Fatalf("hostcontract: no function %q in %s", fn, h.App.Root)
	}
	now := h.opts.Now().UTC()
	p := Payload{Data: map[string]any{}, Metadata: map[string]any{
		"sys": map[string]any{
			"MethodName": fn,
			"UtcNow":     now.Format("2006-01-02T15:04:05.0000000Z"),
			"RandGuid":   h.opts.NewID(),
		},
	}}
	for _, b := range f.Bindings {
		if !strings.EqualFold(b.Direction, "in") {
			continue
		}
		p.Data[b.Name] = nil
		if strings.EqualFold(b.Type, "timerTrigger") {
			p.Data[b.Name] = TimerValue(now)
		}
	}
	return p
}

// TimerValue is a timer trigger's value as the host sends it. Last and LastUpdated carry the
// offset-less zero time the host sends before a first run (azure-functions-host#7391).
func TimerValue(now time.Time) map[string]any {
	next := now.UTC().Truncate(time.Minute).Add(time.Minute)
	return map[string]any{
		"Schedule": map[string]any{"AdjustForDST": true},
		"ScheduleStatus": map[string]any{
			"Last":        "0001-01-01T00:00:00",
			"Next":        next.Format("2006-01-02T15:04:05+00:00"),
			"LastUpdated": "0001-01-01T00:00:00",
		},
		"IsPastDue": false,
	}
}

// CheckInvocationResponse reports why r would fail a default-payload invocation, exactly as the
// host reads it: a 2xx; a JSON body (Content-Type application/json or text/json, the media types
// its formatter reads); not empty and not null (either leaves the invocation hanging); an object
// whose Logs, when present, are strings and whose Outputs, when present, is an object (the
// host's Json.NET model cannot take anything else). ReturnValue may be anything or absent.
func CheckInvocationResponse(r *Response) error {
	var errs []error
	if r.Status < 200 || r.Status > 299 {
		errs = append(errs, fmt.Errorf("status %d, want 2xx", r.Status))
	}
	if mt := r.MediaType(); mt != "application/json" && mt != "text/json" {
		errs = append(errs, fmt.Errorf("Content-Type %q, want application/json", r.Header.Get("Content-Type")))
	}
	if b := bytes.TrimSpace(r.Body); len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return errors.Join(append(errs, fmt.Errorf("body %q: the invocation would hang", b))...)
	}
	var env struct {
		Outputs json.RawMessage `json:"Outputs"`
		Logs    json.RawMessage `json:"Logs"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		return errors.Join(append(errs, fmt.Errorf("body is not a JSON object: %.200s", r.Body))...)
	}
	if len(env.Outputs) > 0 && !bytes.Equal(env.Outputs, []byte("null")) {
		var outputs map[string]json.RawMessage
		if json.Unmarshal(env.Outputs, &outputs) != nil {
			errs = append(errs, fmt.Errorf("Outputs is %.100s, want an object", env.Outputs))
		}
	}
	if len(env.Logs) > 0 && !bytes.Equal(env.Logs, []byte("null")) {
		var logs []json.RawMessage
		if json.Unmarshal(env.Logs, &logs) != nil || slices.ContainsFunc(logs, func(l json.RawMessage) bool { return l[0] != '"' }) {
			errs = append(errs, fmt.Errorf("Logs is %.100s, want an array of strings", env.Logs))
		}
	}
	return errors.Join(errs...)
}
