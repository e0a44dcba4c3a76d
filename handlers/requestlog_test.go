package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
)

// logLine is one JSON line of the handler's log.
type logLine map[string]any

// linesOf are the log lines that carry invocation id inv, whatever their message.
func (a *app) linesOf(t *testing.T, inv string) []logLine {
	t.Helper()
	var out []logLine
	for raw := range bytes.Lines(a.logs.Bytes()) {
		var l logLine
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("log line is not a JSON object: %s", raw)
		}
		if l["invocationId"] == inv {
			out = append(out, l)
		}
	}
	return out
}

// call sends a request as the host forwards it (a fresh invocation id) and returns the id.
func (a *app) call(method, path, body string, header map[string]string) (*reply, string) {
	a.t.Helper()
	inv := uuid.NewString()
	h := map[string]string{"X-Azure-Functions-InvocationId": inv}
	for k, v := range header {
		h[k] = v
	}
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return a.do(method, path, b, h), inv
}

// TestOneRequestLinePerRequest: every request logs exactly one line, which says what the request
// was (method, route template, status, duration, the host's invocation id), which session it
// concerns, and, for a failure, its code and error; client errors are not ERRORs.
func TestOneRequestLinePerRequest(t *testing.T) {
	a := newApp(t, nil)
	created := a.start(`{"externalReference":"log-lines"}`)
	unknown := uuid.NewString()
	key := map[string]string{"Idempotency-Key": "log-" + randomHex(t, 8)}
	a.do("POST", "/api/sessions", []byte(`{"externalReference":"log-replay"}`), key)

	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		want                     logLine // the line's fields; sessionId "*" means any non-empty value
		wantErrorAttr            bool
	}{
		{"created session", "POST", "/api/sessions", `{"externalReference":"log-created"}`, nil,
			logLine{"level": "INFO", "method": "POST", "route": "/api/sessions", "status": 201.0, "sessionId": "*"}, false},
		{"idempotent replay", "POST", "/api/sessions", `{"externalReference":"log-replay"}`, key,
			logLine{"level": "INFO", "method": "POST", "route": "/api/sessions", "status": 200.0, "sessionId": "*"}, false},
		{"read", "GET", "/api/sessions/" + created.SessionID, "", nil,
			logLine{"level": "INFO", "method": "GET", "route": "/api/sessions/{sessionId}", "status": 200.0, "sessionId": created.SessionID}, false},
		{"read in capitals", "GET", "/API/SESSIONS/" + strings.ToUpper(created.SessionID), "", nil,
			logLine{"level": "INFO", "method": "GET", "route": "/api/sessions/{sessionId}", "status": 200.0, "sessionId": created.SessionID}, false},
		{"unknown session", "GET", "/api/sessions/" + unknown, "", nil,
			logLine{"level": "WARN", "method": "GET", "route": "/api/sessions/{sessionId}", "status": 404.0, "sessionId": unknown, "code": "session_not_found"}, true},
		{"cancel unknown session", "DELETE", "/api/sessions/" + unknown, "", nil,
			logLine{"level": "WARN", "method": "DELETE", "route": "/api/sessions/{sessionId}", "status": 404.0, "sessionId": unknown, "code": "session_not_found"}, true},
		{"bad session id", "GET", "/api/sessions/not-a-guid", "", nil,
			logLine{"level": "WARN", "method": "GET", "route": "/api/sessions/{sessionId}", "status": 400.0, "code": "invalid_request"}, true},
		{"bad body", "POST", "/api/sessions", `{"externalReference":1}`, nil,
			logLine{"level": "WARN", "method": "POST", "route": "/api/sessions", "status": 400.0, "code": "invalid_request"}, true},
		{"link for unknown session", "POST", "/api/sessions/" + unknown + "/link", "", nil,
			logLine{"level": "WARN", "method": "POST", "route": "/api/sessions/{sessionId}/link", "status": 404.0, "sessionId": unknown, "code": "session_not_found"}, true},
		{"health", "GET", "/api/health", "", nil,
			logLine{"level": "INFO", "method": "GET", "route": "/api/health", "status": 200.0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := a.on(t)
			r, inv := a.call(tt.method, tt.path, tt.body, tt.header)
			lines := a.linesOf(t, inv)
			if len(lines) != 1 {
				t.Fatalf("%s %s (status %d) logged %d lines with its invocation id, want exactly 1:\n%v", tt.method, tt.path, r.status, len(lines), lines)
			}
			got := lines[0]
			if got["msg"] != "request" {
				t.Errorf("msg = %v, want request", got["msg"])
			}
			if d, ok := got["durationMs"].(float64); !ok || d < 0 {
				t.Errorf("durationMs = %v, want a duration", got["durationMs"])
			}
			if got["path"] != tt.path {
				t.Errorf("path = %v, want %s", got["path"], tt.path)
			}
			want := logLine{"invocationId": inv}
			for k, v := range tt.want {
				want[k] = v
			}
			if want["sessionId"] == "*" {
				if id, _ := got["sessionId"].(string); id == "" || r.session(t).SessionID != id {
					t.Errorf("sessionId = %v, want the session answered (%s)", got["sessionId"], r.body)
				}
				delete(want, "sessionId")
			}
			picked := logLine{}
			for k := range want {
				if v, ok := got[k]; ok {
					picked[k] = v
				}
			}
			if _, ok := got["sessionId"]; ok && tt.want["sessionId"] == nil {
				t.Errorf("sessionId = %v on a request that names no valid session", got["sessionId"])
			}
			if diff := cmp.Diff(want, picked); diff != "" {
				t.Errorf("request line (-want +got):\n%s\nline: %v", diff, got)
			}
			if e, ok := got["error"].(string); ok != tt.wantErrorAttr || strings.ContainsAny(e, "\r\n") {
				t.Errorf("error attribute %q (present %v), want present %v and on one line", e, ok, tt.wantErrorAttr)
			}
		})
	}
}

// TestTheRequestLineNamesTheHostsInvocationID: the host appends its id to a caller's own
// X-Azure-Functions-InvocationId ("<caller>, <host>"); only the host's value is logged.
func TestTheRequestLineNamesTheHostsInvocationID(t *testing.T) {
	a := newApp(t, nil)
	for _, caller := range []string{uuid.NewString(), "chosen-by-caller", "x, y", ""} {
		t.Run(fmt.Sprintf("%q", caller), func(t *testing.T) {
			a := a.on(t)
			host := uuid.NewString()
			value := strings.TrimPrefix(caller+", "+host, ", ")
			req := a.request("GET", "/api/health", nil, map[string]string{"X-Azure-Functions-InvocationId": value})
			a.send(req)
			if got := a.linesOf(t, host); len(got) != 1 {
				t.Errorf("header %q: %d lines name the host's id %s, want 1", value, len(got), host)
			}
			if caller != "" && bytes.Contains(a.logs.Bytes(), []byte(caller)) {
				t.Errorf("the caller's invocation id %q reached the log", caller)
			}
		})
	}
	t.Run("the host's value on a second header line", func(t *testing.T) {
		a := a.on(t)
		second := uuid.NewString()
		req := a.request("GET", "/api/health", nil, nil)
		req.Header.Add("X-Azure-Functions-InvocationId", "chosen-by-caller")
		req.Header.Add("X-Azure-Functions-InvocationId", second)
		a.send(req)
		if got := a.linesOf(t, second); len(got) != 1 {
			t.Errorf("%d lines name the last value %s, want 1", len(got), second)
		}
	})
}

// TestTheQueryNeverReachesTheLog: the host forwards the function key in ?code= (and callbacks
// carry ?sig=); a request line holds the path only.
func TestTheQueryNeverReachesTheLog(t *testing.T) {
	a := newApp(t, nil)
	code := "code-" + randomHex(t, 16)
	for _, path := range []string{"/api/health?code=", "/api/sessions/" + uuid.NewString() + "?code="} {
		a.do("GET", path+code, nil, nil)
	}
	if !bytes.Contains(a.logs.Bytes(), []byte(`"msg":"request"`)) {
		t.Fatal("no request line logged: the test proves nothing")
	}
	if bytes.Contains(a.logs.Bytes(), []byte(code)) {
		t.Errorf("the function key of ?code= reached the log:\n%s", a.logs.Bytes())
	}
}

func TestOneLine(t *testing.T) {
	banner := "GET https://face.example/face/v1.2/sessions/x\n" +
		"--------------------------------------------------------------------------------\n" +
		"RESPONSE 500: 500 Internal Server Error\r\nERROR CODE: InternalServerError\n" +
		"--------------------------------------------------------------------------------\n"
	tests := map[string]string{
		"read the session: 404 NotFound": "read the session: 404 NotFound",
		"record: " + banner:              "record: GET https://face.example/face/v1.2/sessions/x; RESPONSE 500: 500 Internal Server Error; ERROR CODE: InternalServerError",
		"a\n\n  b  \n":                   "a; b",
	}
	for in, want := range tests {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLevelFor(t *testing.T) {
	tests := map[int]slog.Level{200: slog.LevelInfo, 201: slog.LevelInfo, 400: slog.LevelWarn, 404: slog.LevelWarn,
		409: slog.LevelWarn, 500: slog.LevelError, 501: slog.LevelWarn, 503: slog.LevelError}
	for status, want := range tests {
		if got := levelFor(status); got != want {
			t.Errorf("levelFor(%d) = %v, want %v", status, got, want)
		}
	}
}

// A request that matched no function has no route on its line (not the catch-all's "/"), and a
// request from outside the host (make run, a direct call) has no invocation id, not an empty one.
func TestTheRequestLineLeavesOutWhatTheRequestLacks(t *testing.T) {
	a := newApp(t, nil)
	r, inv := a.call("GET", "/api/nope", "", nil)
	r.wantProblem(t, 404, "not_found")
	lines := a.linesOf(t, inv)
	if len(lines) != 1 {
		t.Fatalf("GET /api/nope logged %d lines, want 1", len(lines))
	}
	if route, ok := lines[0]["route"]; ok {
		t.Errorf("route = %v on a request that matched no function, want none", route)
	}

	a.do("GET", "/api/health", nil, nil)
	for raw := range bytes.Lines(a.logs.Bytes()) {
		var l logLine
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("log line is not a JSON object: %s", raw)
		}
		if id, ok := l["invocationId"]; ok && id == "" {
			t.Errorf("a line holds an empty invocationId: %s", raw)
		}
	}
}

// onlyLine is the one request line of invocation inv; it fails t unless there is exactly one.
func (a *app) onlyLine(t *testing.T, inv string) logLine {
	t.Helper()
	lines := a.linesOf(t, inv)
	if len(lines) != 1 {
		t.Fatalf("invocation %s logged %d lines, want 1: %v", inv, len(lines), lines)
	}
	return lines[0]
}

// The path is logged as sent, escapes and all: decoded, a bidi override or a C1 control would
// reach the log raw (JSON escapes only C0).
func TestTheRequestLineLogsThePathEscaped(t *testing.T) {
	a := newApp(t, nil)
	for _, path := range []string{"/api/nothing%E2%80%AE%C2%85x", "/api/sessions/abc%E2%80%AEdef", "/api/sessions/%E2%80%8Fx%0A"} {
		_, inv := a.call("GET", path, "", nil)
		got, _ := a.onlyLine(t, inv)["path"].(string)
		if hasControl(got) || got != path {
			t.Errorf("path logged as %+q, want %q as sent", got, path)
		}
	}
}

// An upstream failure puts the upstream's status and code on the request line as fields.
func TestTheRequestLineHoldsTheUpstreamFields(t *testing.T) {
	a := newApp(t, nil)
	a.stub.SetFaults(facestub.Faults{ServerErrors: 100})
	r, inv := a.call("POST", "/api/sessions", `{"externalReference":"upstream-fields"}`, nil)
	r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	up, _ := a.onlyLine(t, inv)["upstream"].(map[string]any)
	if up["status"] != 500.0 || up["method"] != "POST" {
		t.Errorf("upstream fields = %v, want status 500 and method POST", up)
	}
}

// A client that hangs up before its answer is not the app failing: its line is a WARN with
// clientGone, never an ERROR (which the host records as an Error).
func TestAClientThatHangsUpIsNotAnError(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"hang-up"}`)
	p := a.throughProxy(t)
	p.Inject(faultproxy.Rule{Method: "GET", Path: "RowKey='session'", Fault: faultproxy.Stall})
	inv := uuid.NewString()
	req := a.request("GET", "/api/sessions/"+v.SessionID, nil, map[string]string{"X-Azure-Functions-InvocationId": inv})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, _, err := roundTrip(a.client, req.WithContext(ctx)); err == nil {
		t.Fatal("the request was answered: the test proves nothing")
	}
	var line logLine
	deadline := time.Now().Add(10 * time.Second)
	for line == nil && time.Now().Before(deadline) {
		if lines := a.linesOf(t, inv); len(lines) == 1 {
			line = lines[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	if line == nil {
		t.Fatal("no request line for the request whose client hung up")
	}
	if line["level"] != "WARN" || line["clientGone"] != true {
		t.Errorf("request line = %v, want level WARN and clientGone", line)
	}
}

// Requests to "/" other than the host's probe (GET) are logged like any other.
func TestRequestsToTheRootOtherThanTheProbeAreLogged(t *testing.T) {
	a := newApp(t, nil)
	_, inv := a.call("POST", "/", "{}", nil)
	if got := a.onlyLine(t, inv)["method"]; got != "POST" {
		t.Errorf("method = %v, want POST", got)
	}
}

// A start that fails after Face created its session names that session on its line, so the
// line can be followed to what was cleaned up.
func TestAFailedStartNamesTheFaceSession(t *testing.T) {
	a := newApp(t, nil)
	p := a.throughProxy(t)
	p.Inject(faultproxy.Rule{Method: "POST", Body: `"RowKey":"session"`, Fault: faultproxy.Refuse, Times: 100})
	r, inv := a.call("POST", "/api/sessions", `{"externalReference":"named"}`, nil)
	r.wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	tokens := a.stub.IssuedTokens()
	if len(tokens) != 1 {
		t.Fatalf("Face sessions created = %d, want 1", len(tokens))
	}
	id, _ := a.onlyLine(t, inv)["sessionId"].(string)
	if _, err := uuid.Parse(id); err != nil {
		t.Errorf("sessionId = %q on the failed start's line, want the Face session's id", id)
	}
}

// An idempotent replay whose session cannot be read names that session on its line all the same.
func TestAReplayThatFailsNamesItsSession(t *testing.T) {
	a := newApp(t, nil)
	p := a.throughProxy(t)
	key := map[string]string{"Idempotency-Key": "replay-" + randomHex(t, 8)}
	first := a.do("POST", "/api/sessions", []byte(`{"externalReference":"replayed"}`), key).session(t)
	p.Inject(faultproxy.Rule{Method: "GET", Path: "RowKey='session'", Fault: faultproxy.Refuse, Times: 100})
	key["X-Azure-Functions-InvocationId"] = uuid.NewString()
	a.do("POST", "/api/sessions", []byte(`{"externalReference":"replayed"}`), key).
		wantProblem(t, http.StatusServiceUnavailable, "upstream_unavailable")
	if got := a.onlyLine(t, key["X-Azure-Functions-InvocationId"])["sessionId"]; got != first.SessionID {
		t.Errorf("sessionId = %v on the failed replay's line, want %s", got, first.SessionID)
	}
}
