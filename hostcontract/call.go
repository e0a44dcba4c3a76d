package hostcontract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Response is the handler's answer, buffered as the host buffers it.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
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
func (h *Host) ForwardRequest(t testing.TB, fn string, client *http.Request) *Response {
	t.Helper()
	f, _ := h.App.Function(fn)
	if !f.Allows(client.Method) {
		t.Fatalf("hostcontract: the host routes no %s to %s (methods %v): use Direct to probe the handler", client.Method, fn, f.Methods())
	}
	if _, ok := h.template(t, fn).Match(client.URL.EscapedPath()); !ok {
		t.Fatalf("hostcontract: the host would not route %s to %s (route %q)", client.URL.EscapedPath(), fn, h.App.RouteTemplate(f))
	}
	u := h.BaseURL + client.URL.EscapedPath()
	if q := collapseQuery(client.URL.Query()); len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	header := client.Header.Clone()
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
	h.addHostHeaders(req)
	return h.send(t, req)
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
	h.addHostHeaders(req)
	return h.send(t, req)
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
	return h.send(t, req)
}

func (h *Host) addHostHeaders(req *http.Request) {
	req.Header.Set("X-Azure-Functions-InvocationId", h.opts.NewID())
	req.Header.Set("X-Azure-Functions-HostVersion", HostVersion)
	ua := strings.TrimSpace(req.Header.Get("User-Agent") + " Azure-Functions-Host/" + HostVersion)
	req.Header.Set("User-Agent", ua)
}

func (h *Host) send(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, err := h.Client.Do(req)
	if err != nil {
		// The host turns this into a failed invocation and a 500 for the client.
		t.Fatalf("hostcontract: %s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("hostcontract: %s %s: read the response: %v", req.Method, req.URL.Path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
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

// CheckInvocationResponse reports why r would fail a default-payload invocation: the host needs a
// 2xx, Content-Type application/json (it cannot read a sniffed text/plain), a non-empty body (an
// empty one hangs the invocation) and an object with Outputs (object), Logs (array) and
// ReturnValue.
func CheckInvocationResponse(r *Response) error {
	var errs []error
	if r.Status < 200 || r.Status > 299 {
		errs = append(errs, fmt.Errorf("status %d, want 2xx", r.Status))
	}
	if mt := r.MediaType(); mt != "application/json" {
		errs = append(errs, fmt.Errorf("Content-Type %q, want application/json", r.Header.Get("Content-Type")))
	}
	if len(bytes.TrimSpace(r.Body)) == 0 {
		return errors.Join(append(errs, errors.New("empty body"))...)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &env); err != nil || env == nil {
		return errors.Join(append(errs, fmt.Errorf("body is not a JSON object: %.200s", r.Body))...)
	}
	for key, want := range map[string]byte{"Outputs": '{', "Logs": '[', "ReturnValue": 0} {
		v, ok := env[key]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("no %q key", key))
		case want != 0 && (len(v) == 0 || v[0] != want):
			errs = append(errs, fmt.Errorf("%q is %s, want a JSON %s", key, v, map[byte]string{'{': "object", '[': "array"}[want]))
		}
	}
	return errors.Join(errs...)
}
