package hostcontract

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is what the fake handler received.
type seen struct {
	method, rawPath, rawQuery string
	header                    http.Header
	body                      string
	transferEncoding          []string
}

// fakeHost is a Host whose handler is an in-process recorder, for testing the harness itself.
func fakeHost(t *testing.T) (*Host, *seen) {
	t.Helper()
	app := testApp(t, map[string]string{
		"GetSession":   httpFunction("sessions/{sessionId}", "get"),
		"StartSession": httpFunction("sessions", "post"),
		"Reconcile":    timerFunction,
	})
	var mu sync.Mutex
	got := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b []byte
		if r.ContentLength >= 0 {
			b, _ = io.ReadAll(r.Body)
		} else {
			// A chunked body the host never sends: reading it, or letting net/http drain it,
			// would hang.
			w.Header().Set("Connection", "close")
		}
		mu.Lock()
		*got = seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(b), r.TransferEncoding}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	h := &Host{App: app, BaseURL: srv.URL, Client: srv.Client(), opts: Options{
		NewID: func() string { return "11111111-2222-3333-4444-555555555555" },
		Now:   func() time.Time { return time.Date(2026, 11, 25, 9, 59, 30, 0, time.UTC) },
	}}
	return h, got
}

func TestForwardRequestAsTheHostDoes(t *testing.T) {
	tests := []struct {
		name    string
		fn      string
		request func(t *testing.T) *http.Request
		check   func(t *testing.T, s *seen)
	}{
		{"path casing kept, repeated query keys joined", "GetSession",
			func(t *testing.T) *http.Request {
				return httptest.NewRequest("GET", "https://app.example.net/API/Sessions/ABC?a=1&a=2&code=k", nil)
			},
			func(t *testing.T, s *seen) {
				if s.rawPath != "/API/Sessions/ABC" {
					t.Errorf("path = %q, want the client's /API/Sessions/ABC", s.rawPath)
				}
				if s.rawQuery != "a=1%2C2&code=k" {
					t.Errorf("query = %q, want a=1%%2C2&code=k", s.rawQuery)
				}
			}},
		{"body with a length is sent with its Content-Type", "StartSession",
			func(t *testing.T) *http.Request {
				r := httptest.NewRequest("POST", "https://app.example.net/api/sessions", strings.NewReader(`{"x":1}`))
				r.Header.Set("Content-Type", "application/json")
				return r
			},
			func(t *testing.T, s *seen) {
				if s.body != `{"x":1}` || s.header.Get("Content-Type") != "application/json" {
					t.Errorf("body %q with Content-Type %q, want the client's", s.body, s.header.Get("Content-Type"))
				}
			}},
		{"chunked body: the header is copied, the body and its Content-Type are not", "StartSession",
			func(t *testing.T) *http.Request {
				r := httptest.NewRequest("POST", "https://app.example.net/api/sessions", strings.NewReader(`{"x":1}`))
				r.ContentLength = -1
				r.Header.Set("Content-Type", "application/json")
				return r
			},
			func(t *testing.T, s *seen) {
				if !slices.Equal(s.transferEncoding, []string{"chunked"}) {
					t.Errorf("Transfer-Encoding %v, want chunked", s.transferEncoding)
				}
				if s.body != "" || s.header.Get("Content-Type") != "" {
					t.Errorf("body %q with Content-Type %q, want neither", s.body, s.header.Get("Content-Type"))
				}
			}},
		{"function keys passed on: random ones where the client sent none", "GetSession",
			func(t *testing.T) *http.Request {
				return httptest.NewRequest("GET", "https://app.example.net/api/sessions/abc?a=1", nil)
			},
			func(t *testing.T, s *seen) {
				q, _ := url.ParseQuery(s.rawQuery)
				if q.Get("a") != "1" || len(q.Get("code")) < 32 || len(s.header.Get("X-Functions-Key")) < 32 {
					t.Errorf("query %q, x-functions-key %q: want a=1 and random keys both ways", s.rawQuery, s.header.Get("X-Functions-Key"))
				}
			}},
		{"function keys passed on: the client's as sent", "GetSession",
			func(t *testing.T) *http.Request {
				r := httptest.NewRequest("GET", "https://app.example.net/api/sessions/abc?code=client-code", nil)
				r.Header.Set("x-functions-key", "client-key")
				return r
			},
			func(t *testing.T, s *seen) {
				if s.rawQuery != "code=client-code" || s.header.Get("X-Functions-Key") != "client-key" {
					t.Errorf("query %q, x-functions-key %q: want the client's", s.rawQuery, s.header.Get("X-Functions-Key"))
				}
			}},
		{"a caller's invocation id comes first, the host's last", "GetSession",
			func(t *testing.T) *http.Request {
				r := httptest.NewRequest("GET", "https://app.example.net/api/sessions/abc", nil)
				r.Header.Set("X-Azure-Functions-InvocationId", "caller-chosen")
				return r
			},
			func(t *testing.T, s *seen) {
				want := []string{"caller-chosen, 11111111-2222-3333-4444-555555555555"}
				if got := s.header.Values("X-Azure-Functions-InvocationId"); !slices.Equal(got, want) {
					t.Errorf("X-Azure-Functions-InvocationId %q, want %q", got, want)
				}
			}},
		{"headers copied and the host's added", "GetSession",
			func(t *testing.T) *http.Request {
				r := httptest.NewRequest("GET", "https://app.example.net/api/sessions/abc", nil)
				r.Header.Set("Idempotency-Key", "k1")
				r.Header.Set("User-Agent", "curl/8")
				return r
			},
			func(t *testing.T, s *seen) {
				want := map[string]string{
					"Idempotency-Key":                "k1",
					"X-Azure-Functions-InvocationId": "11111111-2222-3333-4444-555555555555",
					"X-Azure-Functions-HostVersion":  HostVersion,
					"User-Agent":                     "curl/8 Azure-Functions-Host/" + HostVersion,
				}
				for k, v := range want {
					if got := s.header.Get(k); got != v {
						t.Errorf("header %s = %q, want %q", k, got, v)
					}
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, s := fakeHost(t)
			r := h.ForwardRequest(t, tt.fn, tt.request(t))
			tt.check(t, s)
			if r.InvocationID != "11111111-2222-3333-4444-555555555555" {
				t.Errorf("Response.InvocationID = %q, want the host's", r.InvocationID)
			}
			q, _ := url.ParseQuery(s.rawQuery)
			for _, k := range []string{q.Get("code"), s.header.Get("X-Functions-Key")} {
				if !slices.Contains(h.FunctionKeys(), k) {
					t.Errorf("function key %q sent but not among FunctionKeys, the secrets to scan for", k)
				}
			}
		})
	}
}

// An answer that echoes a function key fails the test.
func TestForwardCatchesAnAnswerHoldingAFunctionKey(t *testing.T) {
	h, _ := fakeHost(t)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"echo":"` + r.URL.Query().Get("code") + `"}`))
	}))
	t.Cleanup(echo.Close)
	h.BaseURL = echo.URL
	if msg := errorOf(t, func(tb testing.TB) { h.Forward(tb, "GetSession", "GET", map[string]string{"sessionId": "x"}, nil) }); !strings.Contains(msg, "function key") {
		t.Errorf("an answer echoing ?code= gave %q, want a function-key failure", msg)
	}
}

func TestForwardExpandsTheRoute(t *testing.T) {
	h, s := fakeHost(t)
	h.Forward(t, "GetSession", "GET", map[string]string{"sessionId": "a/b"}, nil)
	if s.rawPath != "/api/sessions/a%2Fb" || s.method != "GET" {
		t.Errorf("forwarded %s %s, want GET /api/sessions/a%%2Fb", s.method, s.rawPath)
	}
}

// fatalTB records a Fatalf instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// errorTB records an Errorf instead of failing the real test.
type errorTB struct {
	testing.TB
	msg string
}

func (e *errorTB) Helper() {}
func (e *errorTB) Errorf(format string, args ...any) {
	e.msg = fmt.Sprintf(format, args...)
}

func errorOf(t *testing.T, call func(tb testing.TB)) string {
	tb := &errorTB{TB: t}
	call(tb)
	return tb.msg
}

func fatalOf(t *testing.T, call func(tb testing.TB)) string {
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); call(tb) }()
	<-done
	return tb.msg
}

func TestForwardRefusesCallsTheHostWouldNotMake(t *testing.T) {
	h, s := fakeHost(t)
	tests := map[string]func(tb testing.TB){
		"method not listed": func(tb testing.TB) { h.Forward(tb, "GetSession", "PUT", map[string]string{"sessionId": "x"}, nil) },
		"path off the route": func(tb testing.TB) {
			h.ForwardRequest(tb, "GetSession", httptest.NewRequest("GET", "https://app.example.net/api/other/x", nil))
		},
		"timer function":    func(tb testing.TB) { h.Forward(tb, "Reconcile", "POST", nil, nil) },
		"unknown function":  func(tb testing.TB) { h.Forward(tb, "Nope", "GET", nil, nil) },
		"missing route var": func(tb testing.TB) { h.Forward(tb, "GetSession", "GET", nil, nil) },
		"invoke http":       func(tb testing.TB) { h.Invoke(tb, "GetSession", struct{}{}) },
	}
	for name, call := range tests {
		if msg := fatalOf(t, call); msg == "" {
			t.Errorf("%s: the harness made the call", name)
		}
	}
	if s.method != "" {
		t.Errorf("the handler received %s %s", s.method, s.rawPath)
	}
}

func TestInvokeSendsTheDefaultPayload(t *testing.T) {
	h, s := fakeHost(t)
	h.Invoke(t, "Reconcile", h.DefaultPayload(t, "Reconcile"))
	if s.method != "POST" || s.rawPath != "/Reconcile" {
		t.Errorf("invoked %s %s, want POST /Reconcile (no prefix, case kept)", s.method, s.rawPath)
	}
	if got := s.header.Get("X-Azure-Functions-InvocationId"); got == "" {
		t.Error("no X-Azure-Functions-InvocationId")
	}
	want := `{"Data":{"timer":{"IsPastDue":false,"Schedule":{"AdjustForDST":true},` +
		`"ScheduleStatus":{"Last":"0001-01-01T00:00:00","LastUpdated":"0001-01-01T00:00:00","Next":"2026-11-25T10:00:00+00:00"}}},` +
		`"Metadata":{"sys":{"MethodName":"Reconcile","RandGuid":"11111111-2222-3333-4444-555555555555","UtcNow":"2026-11-25T09:59:30.0000000Z"}}}`
	if s.body != want {
		t.Errorf("payload =\n%s\nwant\n%s", s.body, want)
	}
}

func TestCheckInvocationResponse(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		ok     bool
	}{
		{"envelope", 200, "application/json", `{"Outputs":{},"Logs":[],"ReturnValue":null}`, true},
		{"charset allowed", 200, "application/json; charset=utf-8", `{"Outputs":{"res":1},"Logs":["x"],"ReturnValue":1}`, true},
		{"text/json", 200, "text/json", `{"Logs":["x"]}`, true},
		{"204", 204, "application/json", `{}`, true},
		{"empty object", 200, "application/json", `{}`, true},
		{"no ReturnValue", 200, "application/json", `{"Outputs":{},"Logs":[]}`, true},
		{"Outputs null", 200, "application/json", `{"Outputs":null,"Logs":[],"ReturnValue":null}`, true},
		{"Logs null", 200, "application/json", `{"Logs":null}`, true},
		{"keys in another case", 200, "application/json", `{"logs":["x"],"outputs":{}}`, true},
		{"non-2xx", 500, "application/json", `{"Outputs":{},"Logs":[],"ReturnValue":null}`, false},
		{"sniffed text", 200, "text/plain; charset=utf-8", `{"Outputs":{},"Logs":[],"ReturnValue":null}`, false},
		{"empty body", 200, "application/json", ``, false},
		{"blank body", 200, "application/json", " \n", false},
		{"null body", 200, "application/json", `null`, false},
		{"array body", 200, "application/json", `[]`, false},
		{"string body", 200, "application/json", `"ok"`, false},
		{"Logs not an array", 200, "application/json", `{"Outputs":{},"Logs":"x","ReturnValue":null}`, false},
		{"Logs of numbers", 200, "application/json", `{"Logs":[1]}`, false},
		{"Logs of objects", 200, "application/json", `{"Logs":[{"msg":"x"}]}`, false},
		{"Logs with a null", 200, "application/json", `{"Logs":["x",null]}`, false},
		{"Outputs an array", 200, "application/json", `{"Outputs":[],"Logs":[]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Response{Status: tt.status, Header: http.Header{"Content-Type": {tt.ctype}}, Body: []byte(tt.body)}
			if err := CheckInvocationResponse(r); (err == nil) != tt.ok {
				t.Errorf("CheckInvocationResponse = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// FuzzCheckInvocationResponse: whatever the handler answers, the check does not panic, and what
// it accepts is an object whose Logs are strings and whose Outputs is an object, each when there.
func FuzzCheckInvocationResponse(f *testing.F) {
	f.Add(`{"Outputs":{},"Logs":[],"ReturnValue":null}`)
	f.Add(`{"Outputs":[],"Logs":{},"ReturnValue":1}`)
	f.Add(` {"Outputs" : {} , "Logs" : [ "a" ] , "ReturnValue" : "x" } `)
	f.Add(`{"Logs":[1,"a"]}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, body string) {
		r := &Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
		if CheckInvocationResponse(r) != nil {
			return
		}
		var env struct {
			Outputs map[string]any `json:"Outputs"`
			Logs    []*string      `json:"Logs"`
		}
		if err := json.Unmarshal([]byte(body), &env); err != nil || slices.Contains(env.Logs, nil) {
			t.Fatalf("accepted %q, which is not an envelope (%v)", body, err)
		}
	})
}
