package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// httpRoute is one method of an HTTP function as functions/<name>/function.json declares it, with
// host.json's route prefix: the path the Functions host forwards for it.
type httpRoute struct {
	function, method, template string
}

func httpRoutes(t *testing.T) []httpRoute {
	t.Helper()
	var host struct {
		Extensions struct {
			HTTP struct {
				RoutePrefix *string `json:"routePrefix"`
			} `json:"http"`
		} `json:"extensions"`
	}
	readJSON(t, filepath.Join("..", "host.json"), &host)
	prefix := "api"
	if p := host.Extensions.HTTP.RoutePrefix; p != nil {
		prefix = *p
	}
	files, err := filepath.Glob(filepath.Join("..", "functions", "*", "function.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no functions/*/function.json (%v)", err)
	}
	var routes []httpRoute
	for _, f := range files {
		var fn struct {
			Bindings []struct {
				Type, Route string
				Methods     []string
			}
		}
		readJSON(t, f, &fn)
		name := filepath.Base(filepath.Dir(f))
		for _, b := range fn.Bindings {
			if b.Type != "httpTrigger" {
				continue
			}
			route := b.Route
			if route == "" {
				route = name // the host's default
			}
			for _, m := range b.Methods {
				routes = append(routes, httpRoute{name, strings.ToUpper(m), "/" + strings.Trim(prefix+"/"+route, "/")})
			}
		}
	}
	return routes
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

var routeParam = regexp.MustCompile(`\{[^}]+\}`)

// hostSpellings are paths the Functions host routes exactly as it routes p (an escaped path
// without a trailing slash) and forwards as the client sent them: other letter case, one trailing
// "/", percent-escaped characters.
func hostSpellings(p string) []string {
	escapeFirst := func(p string) string { // "/api/sessions" → "/%61pi/%73essions"
		segs := strings.Split(p, "/")
		for i, s := range segs {
			if s != "" {
				segs[i] = fmt.Sprintf("%%%02X", s[0]) + s[1:]
			}
		}
		return strings.Join(segs, "/")
	}
	title := regexp.MustCompile(`/[a-z]`).ReplaceAllStringFunc(p, strings.ToUpper)
	return []string{
		p + "/",
		strings.ToUpper(p),
		strings.ToUpper(p) + "/",
		title,
		escapeFirst(p),
		strings.ToLower(escapeFirst(p)) + "/",
		escapeFirst(title), // an escaped capital: "/%41pi/%53essions"
		strings.ReplaceAll(p, "-", "%2D"),
	}
}

// unroutedSpellings are paths the host routes to no function (an empty segment), so the handler
// must serve them with no function either, and not redirect them to one.
func unroutedSpellings(p string) []string {
	i := strings.Index(p[1:], "/") + 1
	return []string{p + "//", p[:i] + "/" + p[i:]}
}

// answerShape is what must be equal between two spellings of one request: the status, the media
// type, the problem code and the session as answered, less what differs per session created.
type answerShape struct {
	Status      int
	ContentType string
	Body        map[string]any
}

func shapeOf(t *testing.T, r *reply, perSession bool) answerShape {
	t.Helper()
	s := answerShape{Status: r.status, ContentType: r.header.Get("Content-Type")}
	if len(r.body) == 0 { // a HEAD
		return s
	}
	if err := json.Unmarshal(r.body, &s.Body); err != nil {
		t.Fatalf("answer %d %.300s: %v", r.status, r.body, err)
	}
	if loc := r.header.Get("Location"); loc != "" && loc != "/api/sessions/"+fmt.Sprint(s.Body["sessionId"]) {
		t.Errorf("Location %q does not name session %v", loc, s.Body["sessionId"])
	}
	if perSession {
		for _, k := range []string{"sessionId", "createdAt", "expiresAt"} {
			delete(s.Body, k)
		}
	}
	return s
}

// The handler routes every path the Functions host forwards to a function as the host routed it
// (reference "Routes": case-insensitive, with or without a trailing "/", the path as the client sent
// it), for every route of every functions/*/function.json.
func TestRoutesMatchAsTheHostMatches(t *testing.T) {
	a := newApp(t, nil)
	id := a.start(`{"externalReference":"routes"}`).SessionID
	routes := httpRoutes(t)
	if len(routes) < 4 {
		t.Fatalf("read %d routes from functions/*/function.json, want at least StartSession, GetSession, CancelSession and Health", len(routes))
	}
	for _, rt := range routes {
		p := routeParam.ReplaceAllString(rt.template, id)
		var body []byte
		if rt.method == http.MethodPost {
			body = []byte(`{"externalReference":"order-42"}`)
		}
		a := a.on(t)
		want := shapeOf(t, a.do(rt.method, p, body, nil), rt.method == http.MethodPost)
		if want.Status == http.StatusNotFound {
			t.Fatalf("%s %s %s: 404 as spelled in function.json", rt.function, rt.method, p)
		}
		for _, sp := range hostSpellings(p) {
			t.Run(rt.function+" "+rt.method+" "+sp, func(t *testing.T) {
				got := shapeOf(t, a.on(t).do(rt.method, sp, body, nil), rt.method == http.MethodPost)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s %s answers unlike %s %s (-want +got):\n%s", rt.method, sp, rt.method, p, diff)
				}
			})
		}
		for _, sp := range unroutedSpellings(p) {
			t.Run(rt.function+" "+rt.method+" "+sp, func(t *testing.T) {
				r := a.on(t).do(rt.method, sp, body, nil)
				if rt.method == http.MethodHead { // no body to hold the problem
					if r.status != http.StatusNotFound {
						t.Errorf("HEAD %s = %d, want 404", sp, r.status)
					}
					return
				}
				r.wantProblem(t, http.StatusNotFound, "not_found")
			})
		}
	}
}
