package hostcontract

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// TestHandlerRoutesPairWithFunctions: every function has a handler route the host can call, and
// the handler serves nothing that no function.json declares.
func TestHandlerRoutesPairWithFunctions(t *testing.T) {
	path := filepath.Join(testenv.RepoRoot(t), "handlers", "routes.go")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the handler's routes: %v", err)
	}
	routes, err := ParseHandlerRoutes(path, src)
	if err != nil {
		t.Fatalf("parse the handler's routes: %v", err)
	}
	p, err := Pair(loadApp(t), routes)
	if err != nil {
		t.Fatalf("pair: %v", err)
	}
	for _, u := range p.Unrouted {
		t.Errorf("function without a handler route (the host's call would get the catch-all 404): %s", u)
	}
	for _, o := range p.Orphans {
		t.Errorf("handler route without a function.json (the host never calls it): routes.go %s", o)
	}
}

const sampleRoutes = `package handlers

func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", ready)
	mux.HandleFunc("GET /api/health", s.health)
	mux.Handle("POST /api/sessions", http.HandlerFunc(s.start))
	mux.HandleFunc("GET /api/sessions/{sessionId}", s.get)
	mux.HandleFunc(pattern, s.dynamic) // not a literal: not a route we can see
	mux.HandleFunc("POST /Reconcile", s.reconcile)
	mux.HandleFunc("/", notFound)
	return mux
}
`

func TestParseHandlerRoutes(t *testing.T) {
	routes, err := ParseHandlerRoutes("routes.go", []byte(sampleRoutes))
	if err != nil {
		t.Fatalf("ParseHandlerRoutes: %v", err)
	}
	want := []HandlerRoute{
		{"GET /{$}", "GET", "/{$}", 5},
		{"GET /api/health", "GET", "/api/health", 6},
		{"POST /api/sessions", "POST", "/api/sessions", 7},
		{"GET /api/sessions/{sessionId}", "GET", "/api/sessions/{sessionId}", 8},
		{"POST /Reconcile", "POST", "/Reconcile", 10},
		{"/", "", "/", 11},
	}
	if !slices.Equal(routes, want) {
		t.Errorf("routes =\n%v\nwant\n%v", routes, want)
	}
}

func TestParseHandlerRoutesRejects(t *testing.T) {
	for name, src := range map[string]string{
		"not Go":          "package x\nfunc {",
		"no routes":       "package x\nfunc f() {}",
		"host pattern":    "package x\nfunc f() { mux.HandleFunc(\"GET example.com/x\", h) }",
		"lower-case verb": "package x\nfunc f() { mux.HandleFunc(\"get /x\", h) }",
	} {
		if _, err := ParseHandlerRoutes("routes.go", []byte(src)); err == nil {
			t.Errorf("%s: ParseHandlerRoutes accepted %q", name, src)
		}
	}
}

func testApp(t *testing.T, functions map[string]string) *App {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "host.json"), `{"version":"2.0","extensions":{"http":{"routePrefix":"api"}},"customHandler":{"description":{"defaultExecutablePath":"handler"},"enableForwardingHttpRequest":true}}`)
	for name, doc := range functions {
		writeFile(t, filepath.Join(root, "functions", name, "function.json"), doc)
	}
	app, err := LoadApp(root)
	if err != nil {
		t.Fatalf("LoadApp: %v", err)
	}
	return app
}

func httpFunction(route string, methods ...string) string {
	return `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","route":"` + route +
		`","methods":["` + strings.Join(methods, `","`) + `"]},{"type":"http","direction":"out","name":"res"}]}`
}

const timerFunction = `{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"0 * * * * *"}]}`

func TestPairFindsOrphansOnBothSides(t *testing.T) {
	functions := map[string]string{
		"Health":       httpFunction("health", "get"),
		"StartSession": httpFunction("sessions", "post"),
		"GetSession":   httpFunction("sessions/{sessionId}", "get"),
		"Reconcile":    timerFunction,
	}
	routes := []string{"GET /{$}", "GET /api/health", "POST /api/sessions", "GET /api/sessions/{id}", "POST /Reconcile", "/"}
	tests := []struct {
		name         string
		functions    map[string]string // replaces or adds (empty doc: removes)
		routes       []string          // replaces the route list
		unrouted     []string
		orphans      []string
		extraRoutes  []string
		droppedRoute string
	}{
		{name: "paired"},
		{name: "function without route", functions: map[string]string{"IssueLink": httpFunction("sessions/{sessionId}/link", "post")},
			unrouted: []string{"IssueLink: POST /api/sessions/v0/link"}},
		{name: "route without function", extraRoutes: []string{"DELETE /api/sessions/{id}"},
			orphans: []string{`"DELETE /api/sessions/{id}"`}},
		{name: "method not declared", functions: map[string]string{"GetSession": httpFunction("sessions/{sessionId}", "delete")},
			unrouted: []string{"GetSession: DELETE /api/sessions/v0"}, orphans: []string{`"GET /api/sessions/{id}"`}},
		{name: "timer route with another case", droppedRoute: "POST /Reconcile", extraRoutes: []string{"POST /reconcile"},
			unrouted: []string{"Reconcile: POST /Reconcile"}, orphans: []string{`"POST /reconcile"`}},
		{name: "timer route with another method", droppedRoute: "POST /Reconcile", extraRoutes: []string{"GET /Reconcile"},
			unrouted: []string{"Reconcile: POST /Reconcile"}, orphans: []string{`"GET /Reconcile"`}},
		{name: "forwarded route matches ignoring case", droppedRoute: "GET /api/health", extraRoutes: []string{"GET /API/Health"}},
		{name: "method-less route serves undeclared methods", droppedRoute: "GET /api/health", extraRoutes: []string{"/api/health"},
			orphans: []string{`"/api/health"`}},
		{name: "subtree route", extraRoutes: []string{"GET /api/files/"}, orphans: []string{`"GET /api/files/"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := map[string]string{}
			for k, v := range functions {
				fs[k] = v
			}
			for k, v := range tt.functions {
				fs[k] = v
			}
			var rs []HandlerRoute
			for i, p := range append(slices.Clone(routes), tt.extraRoutes...) {
				if p == tt.droppedRoute {
					continue
				}
				r, err := ParseHandlerPattern(p)
				if err != nil {
					t.Fatal(err)
				}
				r.Line = i + 1
				rs = append(rs, r)
			}
			got, err := Pair(testApp(t, fs), rs)
			if err != nil {
				t.Fatalf("Pair: %v", err)
			}
			if !slices.Equal(got.Unrouted, tt.unrouted) {
				t.Errorf("Unrouted = %q, want %q", got.Unrouted, tt.unrouted)
			}
			if !equalSuffixes(got.Orphans, tt.orphans) {
				t.Errorf("Orphans = %q, want entries ending in %q", got.Orphans, tt.orphans)
			}
		})
	}
}

func equalSuffixes(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.HasSuffix(got[i], want[i]) {
			return false
		}
	}
	return true
}

// FuzzParseHandlerPattern: a pattern it accepts and ServeMux accepts serves the sample path the
// pairing derives from it.
func FuzzParseHandlerPattern(f *testing.F) {
	for _, p := range []string{"GET /{$}", "POST /api/sessions", "GET /api/sessions/{id}", "/api/files/", "GET /a/{rest...}", "x /y"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		r, err := ParseHandlerPattern(pattern)
		if err != nil {
			return
		}
		if !strings.HasPrefix(pattern, r.Method) || !strings.HasSuffix(pattern, r.Path) || r.Path == "" {
			t.Fatalf("ParseHandlerPattern(%q) = %+v: not the pattern's method and path", pattern, r)
		}
		mux := http.NewServeMux()
		if register(mux, pattern) != nil {
			return // not a pattern ServeMux takes; the handler would not start with it either
		}
		sample := r.samplePath()
		method := r.Method
		if method == "" {
			method = http.MethodGet
		}
		if !serves(mux, method, sample) {
			t.Fatalf("pattern %q does not serve its sample path %q", pattern, sample)
		}
	})
}
