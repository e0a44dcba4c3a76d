package hostcontract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestHandlerHonoursTheHostContract starts the handler as the Functions host does and calls every
// function the way the host would, then checks what the handler wrote.
func TestHandlerHonoursTheHostContract(t *testing.T) {
	h, stand := startHandler(t)

	t.Run("every function is reachable", func(t *testing.T) { checkReachable(t, h) })
	t.Run("sessions behave per design", func(t *testing.T) { checkSessionLifecycle(t, h, stand) })
	t.Run("undeclared methods get no route", func(t *testing.T) { checkUndeclaredMethods(t, h) })
	var callerID, hostID string
	t.Run("the host's invocation id is logged, not the caller's", func(t *testing.T) {
		callerID, hostID = callWithCallersInvocationID(t, h)
	})
	t.Run("a chunked request is answered at once", func(t *testing.T) { checkChunked(t, h) })

	if err := h.Stop(); err != nil { // SIGKILL, as the host stops it
		t.Errorf("stop: %v", err)
	}
	t.Run("stdout lines are JSON objects below ERROR", func(t *testing.T) { checkJSONLines(t, redact(h.Stdout(), stand, h)) })
	t.Run("stderr is empty", func(t *testing.T) {
		// The host logs every stderr line as an Error.
		if s := h.Stderr(); len(s) > 0 {
			t.Errorf("the handler wrote %d bytes to stderr in a clean run:\n%.2000s", len(s), redact(s, stand, h))
		}
	})
	t.Run("no secret in the output", func(t *testing.T) { checkNoSecrets(t, h, stand) })
	t.Run("request lines name the host's invocation id", func(t *testing.T) {
		if hostID == "" {
			t.Skip("the call did not run")
		}
		if !bytes.Contains(h.Stdout(), []byte(`"invocationId":"`+hostID+`"`)) {
			t.Errorf("no log line names the host's invocation id %s", hostID)
		}
		if bytes.Contains(h.Stdout(), []byte(callerID)) {
			t.Errorf("the caller's own invocation id %s reached the log", callerID)
		}
	})

	// Killed, the handler leaves nothing undone that a new one needs: the host just starts another.
	t.Run("a new handler after SIGKILL serves the same sessions", func(t *testing.T) {
		h2 := Start(t, h.App, &h.opts)
		r := h2.Forward(t, "Health", "GET", nil, nil)
		if r.Status != http.StatusOK {
			t.Errorf("Health after a restart: %d %s", r.Status, r.Body)
		}
	})
}

// callWithCallersInvocationID calls Health with a caller's own X-Azure-Functions-InvocationId,
// which the host keeps and appends its own to.
func callWithCallersInvocationID(t *testing.T, h *Host) (caller, host string) {
	caller = "caller-chosen-" + uuid.NewString()
	req, err := http.NewRequestWithContext(t.Context(), "GET", "https://app.example.net/api/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Azure-Functions-InvocationId", caller)
	r := h.ForwardRequest(t, "Health", req)
	if r.Status != http.StatusOK {
		t.Errorf("Health: %d %s", r.Status, r.Body)
	}
	return caller, r.InvocationID
}

// checkChunked sends StartSession as the host forwards a chunked request (the header, no body):
// the handler must answer it at once with a problem, not wait for a body that never comes.
func checkChunked(t *testing.T, h *Host) {
	const prompt = 5 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), prompt)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", "https://app.example.net/api/sessions", strings.NewReader(`{"externalReference":"chunked"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	r := h.ForwardRequest(t, "StartSession", req)
	if r.Status < 400 || r.Status > 499 || r.MediaType() != "application/problem+json" || problemCode(r) == "" {
		t.Errorf("chunked StartSession: %d %s %.300s, want a 4xx problem", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
}

// checkReachable calls each function as the host would. A forwarded function must not fall to
// the handler's catch-all and must answer JSON; a default-payload function must answer the
// envelope. Route values are random GUIDs, so the calls touch no real session.
func checkReachable(t *testing.T, h *Host) {
	for _, f := range h.App.Functions {
		if _, forwarded := f.HTTPTrigger(); !forwarded {
			t.Run(f.Name, func(t *testing.T) {
				r := h.Invoke(t, f.Name, h.DefaultPayload(t, f.Name))
				if err := CheckInvocationResponse(r); err != nil {
					t.Errorf("POST /%s: the host would fail the invocation: %v\nbody: %.500s", f.Name, err, r.Body)
				}
			})
			continue
		}
		methods := f.Methods()
		if len(methods) == 0 {
			methods = []string{http.MethodGet}
		}
		for _, m := range methods {
			t.Run(f.Name+"/"+m, func(t *testing.T) {
				if m == http.MethodHead {
					t.Skip("a HEAD answer has no body to tell a function from the catch-all")
				}
				tmpl, err := ParseTemplate(h.App.RouteTemplate(f))
				if err != nil {
					t.Fatal(err)
				}
				vars := map[string]string{}
				for _, p := range tmpl.Params() {
					vars[p] = uuid.NewString()
				}
				var body []byte
				if m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch {
					body = []byte(`{}`)
				}
				r := h.Forward(t, f.Name, m, vars, body)
				assertRouted(t, f.Name, m, r)
				if r.Status >= 500 {
					t.Errorf("%s %s: status %d, body %.300s", m, f.Name, r.Status, r.Body)
				}
			})
		}
	}
}

// assertRouted fails when r is the handler's generic route-not-found or not JSON.
func assertRouted(t *testing.T, fn, method string, r *Response) {
	t.Helper()
	var p struct {
		Code string `json:"code"`
	}
	if r.Status == http.StatusNotFound && json.Unmarshal(r.Body, &p) == nil && p.Code == "not_found" {
		t.Errorf("%s %s reached the handler's catch-all (no route for it)", method, fn)
	}
	if mt := r.MediaType(); mt != "application/json" && mt != "application/problem+json" {
		t.Errorf("%s %s: Content-Type %q, want application/json or application/problem+json", method, fn, r.Header.Get("Content-Type"))
	}
}

// sessionView is the part of a session answer the checks read.
type sessionView struct {
	SessionID string `json:"sessionId"`
	Status    string `json:"status"`
}

func checkSessionLifecycle(t *testing.T, h *Host, stand *StandIns) {
	for _, fn := range []string{"Health", "StartSession", "GetSession", "CancelSession"} {
		if _, ok := h.App.Function(fn); !ok {
			t.Fatalf("design §3 names function %s; the app has no %s/function.json", fn, fn)
		}
	}

	r := h.Forward(t, "Health", "GET", nil, nil)
	var health map[string]string
	if r.Status != http.StatusOK || r.DecodeJSON(&health) != nil || !maps.Equal(health, map[string]string{"status": "ok"}) {
		t.Errorf("Health: %d %s, want 200 {\"status\":\"ok\"}", r.Status, r.Body)
	}

	r = h.Forward(t, "StartSession", "POST", nil, []byte(`{"externalReference":"hostcontract"}`))
	if r.Status != http.StatusCreated {
		t.Fatalf("StartSession: status %d, want 201; body %.500s", r.Status, r.Body)
	}
	var started sessionView
	if err := r.DecodeJSON(&started); err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	if want := "/api/sessions/" + started.SessionID; started.SessionID == "" || r.Header.Get("Location") != want {
		t.Errorf("StartSession: Location %q, want %q", r.Header.Get("Location"), want)
	}
	if hasKey(r.Body, "authToken") {
		t.Error("StartSession: the body has an authToken")
	}
	if tokens := stand.IssuedTokens(); len(tokens) == 0 {
		t.Error("StartSession answered 201 but the Face stand-in issued no session")
	} else if containsAny(r.Body, tokens) {
		t.Error("StartSession: the body holds the Face session's auth token")
	}
	id := started.SessionID
	vars := map[string]string{"sessionId": id}

	t.Run("GetSession", func(t *testing.T) {
		r := h.Forward(t, "GetSession", "GET", vars, nil)
		var got sessionView
		if r.Status != http.StatusOK || r.DecodeJSON(&got) != nil || got.SessionID != id || got.Status != "created" {
			t.Errorf("GetSession: %d %.300s, want 200 with sessionId %s and status created", r.Status, r.Body, id)
		}
		if containsAny(r.Body, stand.IssuedTokens()) {
			t.Error("GetSession: the body holds the Face session's auth token")
		}
	})
	t.Run("GetSession of an unknown id", func(t *testing.T) {
		r := h.Forward(t, "GetSession", "GET", map[string]string{"sessionId": uuid.NewString()}, nil)
		if code := problemCode(r); r.Status != http.StatusNotFound || code != "session_not_found" {
			t.Errorf("GetSession of a random GUID: %d code %q, want 404 session_not_found", r.Status, code)
		}
	})
	t.Run("mixed-case path", func(t *testing.T) {
		// The host matches routes ignoring case and forwards the client's casing.
		req, err := http.NewRequestWithContext(t.Context(), "GET", "https://app.example.net/API/Sessions/"+strings.ToUpper(id), nil)
		if err != nil {
			t.Fatal(err)
		}
		r := h.ForwardRequest(t, "GetSession", req)
		var got sessionView
		if r.Status != http.StatusOK || r.DecodeJSON(&got) != nil || got.SessionID != id {
			t.Errorf("GET /API/Sessions/<ID>: %d %.300s, want 200 with sessionId %s", r.Status, r.Body, id)
		}
	})
	t.Run("CancelSession", func(t *testing.T) {
		r := h.Forward(t, "CancelSession", "DELETE", vars, nil)
		var got sessionView
		if r.Status != http.StatusOK || r.DecodeJSON(&got) != nil || got.Status != "canceled" {
			t.Errorf("CancelSession: %d %.300s, want 200 with status canceled", r.Status, r.Body)
		}
		r = h.Forward(t, "GetSession", "GET", vars, nil)
		if r.DecodeJSON(&got) != nil || got.Status != "canceled" {
			t.Errorf("GetSession after CancelSession: %d %.300s, want status canceled", r.Status, r.Body)
		}
	})
}

// checkUndeclaredMethods calls, past the host, each forwarded route with methods no function
// declares on it: the host would 404 them, and the handler must not serve them either.
func checkUndeclaredMethods(t *testing.T, h *Host) {
	type route struct {
		path      string // the template expanded with random GUIDs
		methods   map[string]bool
		anyMethod bool
	}
	routes := map[string]*route{} // by lower-cased template: functions may share one
	for _, f := range h.App.Functions {
		if _, forwarded := f.HTTPTrigger(); !forwarded {
			continue
		}
		tmpl, err := ParseTemplate(h.App.RouteTemplate(f))
		if err != nil {
			t.Fatal(err)
		}
		key := strings.ToLower(tmpl.String())
		if routes[key] == nil {
			vars := map[string]string{}
			for _, p := range tmpl.Params() {
				vars[p] = uuid.NewString()
			}
			path, err := tmpl.Expand(vars)
			if err != nil {
				t.Fatal(err)
			}
			routes[key] = &route{path: path, methods: map[string]bool{}}
		}
		for _, m := range f.Methods() {
			routes[key].methods[m] = true
		}
		routes[key].anyMethod = routes[key].anyMethod || len(f.Methods()) == 0
	}
	for key, r := range routes {
		if r.anyMethod {
			continue
		}
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if r.methods[m] {
				continue
			}
			resp := h.Direct(t, m, r.path, nil)
			if resp.Status != http.StatusNotFound && resp.Status != http.StatusMethodNotAllowed {
				t.Errorf("%s %s (route %s declares %v): status %d, want 404 or 405", m, r.path, key, slices.Sorted(maps.Keys(r.methods)), resp.Status)
			}
		}
	}
}

// checkJSONLines: every stdout line is one JSON object, and none is at ERROR (the host records
// stdout as Information; an ERROR line belongs on stderr).
func checkJSONLines(t *testing.T, stdout []byte) {
	lines := bytes.Split(stdout, []byte("\n"))
	n := 0
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		var obj map[string]any
		if err := json.Unmarshal(line, &obj); err != nil || obj == nil {
			t.Errorf("stdout line %d is not a JSON object: %.200s", i+1, line)
		}
		if obj["level"] == "ERROR" {
			t.Errorf("stdout line %d is at ERROR, which the host would record as Information: %.200s", i+1, line)
		}
	}
	if n == 0 {
		t.Error("the handler wrote nothing to stdout: no request or start-up log")
	}
}

func checkNoSecrets(t *testing.T, h *Host, stand *StandIns) {
	if len(stand.IssuedTokens()) == 0 {
		t.Error("the Face stand-in issued no auth token: the token check below proves nothing")
	}
	if len(h.FunctionKeys()) == 0 {
		t.Error("no function key was sent: the key check below proves nothing")
	}
	out := append(h.Stdout(), h.Stderr()...)
	for name, secret := range secretsOf(stand, h) {
		if bytes.Contains(out, []byte(secret)) {
			t.Errorf("the handler's output contains %s", name) // never the value itself
		}
	}
}

// secretsOf are the stand-ins' secrets and the function keys the host sent, by name.
func secretsOf(stand *StandIns, h *Host) map[string]string {
	out := stand.Secrets()
	for i, k := range h.FunctionKeys() {
		out[fmt.Sprintf("function key #%d", i+1)] = k
	}
	return out
}

// redact hides the secrets from what a failing check prints.
func redact(b []byte, stand *StandIns, h *Host) []byte {
	for name, secret := range secretsOf(stand, h) {
		b = bytes.ReplaceAll(b, []byte(secret), []byte("["+name+"]"))
	}
	return b
}

func problemCode(r *Response) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Body, &p)
	return p.Code
}

// hasKey reports whether a JSON document has key at any depth.
func hasKey(doc []byte, key string) bool {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return false
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				if strings.EqualFold(k, key) || walk(sub) {
					return true
				}
			}
		case []any:
			for _, sub := range v {
				if walk(sub) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

func containsAny(body []byte, secrets []string) bool {
	for _, s := range secrets {
		if s != "" && bytes.Contains(body, []byte(s)) {
			return true
		}
	}
	return false
}
