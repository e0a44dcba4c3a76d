package hostcontract

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// HandlerRoute is one ServeMux pattern registered in the handler's source.
type HandlerRoute struct {
	Pattern string // as written, e.g. "GET /api/sessions/{sessionId}"
	Method  string // empty: every method
	Path    string
	Line    int
}

// Infrastructure reports whether the route serves the host rather than a function: the readiness
// probe GET / and the catch-all that answers unknown paths.
func (r HandlerRoute) Infrastructure() bool { return r.Path == "/" || r.Path == "/{$}" }

// ParseHandlerRoutes lists the string-literal patterns passed to HandleFunc or Handle in a Go
// source file (the handler's routes.go).
func ParseHandlerRoutes(filename string, src []byte) ([]HandlerRoute, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", filename, err)
	}
	var routes []HandlerRoute
	var errs []error
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		line := fset.Position(lit.Pos()).Line
		pattern, err := strconv.Unquote(lit.Value)
		if err == nil {
			var r HandlerRoute
			if r, err = ParseHandlerPattern(pattern); err == nil {
				r.Line = line
				routes = append(routes, r)
				return true
			}
		}
		errs = append(errs, fmt.Errorf("%s:%d: %w", filename, line, err))
		return true
	})
	if len(routes) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no HandleFunc or Handle call with a literal pattern", filename))
	}
	return routes, errors.Join(errs...)
}

var methodToken = regexp.MustCompile(`^[A-Z]+$`)

// ParseHandlerPattern splits a Go 1.22 ServeMux pattern "[METHOD ]/path". Host-specific patterns
// are refused: the host always calls 127.0.0.1.
func ParseHandlerPattern(pattern string) (HandlerRoute, error) {
	r := HandlerRoute{Pattern: pattern}
	rest := pattern
	if method, p, ok := strings.Cut(pattern, " "); ok {
		if !methodToken.MatchString(method) {
			return r, fmt.Errorf("pattern %q: bad method %q", pattern, method)
		}
		r.Method, rest = method, strings.TrimLeft(p, " \t")
	}
	if !strings.HasPrefix(rest, "/") {
		return r, fmt.Errorf("pattern %q: path must start with / (no host part)", pattern)
	}
	if strings.ContainsAny(rest, " \t") {
		return r, fmt.Errorf("pattern %q: space in the path", pattern)
	}
	clean := path.Clean(rest)
	if strings.HasSuffix(rest, "/") && clean != "/" {
		clean += "/"
	}
	if clean != rest {
		return r, fmt.Errorf("pattern %q: path is not clean (ServeMux redirects every request for it)", pattern)
	}
	r.Path = rest
	return r, nil
}

var muxWildcard = regexp.MustCompile(`\{[^{}/]*\}`)

// samplePath is a concrete (escaped) request path the route serves: every wildcard gets a value, {$} ends
// the path, and a trailing slash (a subtree pattern) gets one more segment.
func (r HandlerRoute) samplePath() string {
	n := 0
	p := muxWildcard.ReplaceAllStringFunc(r.Path, func(w string) string {
		if w == "{$}" {
			return ""
		}
		n++
		return "x" + strconv.Itoa(n)
	})
	if strings.HasSuffix(r.Path, "/") && r.Path != "/" {
		p += "x0"
	}
	// Escaped, as a request line carries it; ServeMux unescapes pattern segments.
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// Pairing is the result of Pair: each slice names one side without a partner.
type Pairing struct {
	// Unrouted: function calls the host would make that no handler route serves.
	Unrouted []string
	// Orphans: handler routes no function.json declares (the host would never call them).
	Orphans []string
}

// Pair matches the app's functions with the handler's routes, in both directions. A forwarded
// function pairs with a route serving each of its methods on its route template (case ignored,
// as the host routes); a default-payload function with "POST /<Name>" exactly.
func Pair(app *App, routes []HandlerRoute) (Pairing, error) {
	var res Pairing
	exact, folded := http.NewServeMux(), http.NewServeMux()
	for _, r := range routes {
		if r.Infrastructure() {
			continue
		}
		if err := register(exact, r.Pattern); err != nil {
			return res, err
		}
		if err := register(folded, strings.TrimSpace(r.Method+" "+strings.ToLower(r.Path))); err != nil {
			return res, err
		}
	}
	forwarded := map[string]*Template{}
	for _, f := range app.Functions {
		if _, ok := f.HTTPTrigger(); !ok {
			if !serves(exact, http.MethodPost, "/"+f.Name) {
				res.Unrouted = append(res.Unrouted, fmt.Sprintf("%s: POST /%s", f.Name, f.Name))
			}
			continue
		}
		t, err := ParseTemplate(app.RouteTemplate(f))
		if err != nil {
			return res, fmt.Errorf("%s: %w", f.Name, err)
		}
		forwarded[f.Name] = t
		vars := map[string]string{}
		for i, p := range t.Params() {
			vars[p] = "v" + strconv.Itoa(i)
		}
		path, err := t.Expand(vars)
		if err != nil {
			return res, fmt.Errorf("%s: %w", f.Name, err)
		}
		methods := f.Methods()
		if len(methods) == 0 {
			methods = allMethods
		}
		for _, m := range methods {
			if !serves(folded, m, strings.ToLower(path)) {
				res.Unrouted = append(res.Unrouted, fmt.Sprintf("%s: %s %s", f.Name, m, path))
			}
		}
	}
	for _, r := range routes {
		if !r.Infrastructure() && !declared(app, forwarded, r) {
			res.Orphans = append(res.Orphans, fmt.Sprintf("line %d: %q", r.Line, r.Pattern))
		}
	}
	return res, nil
}

var allMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace}

// declared reports whether some function makes the host call route r. A method-less route
// serves every method, so only a function that lists no methods declares it.
func declared(app *App, forwarded map[string]*Template, r HandlerRoute) bool {
	path := r.samplePath()
	for _, f := range app.Functions {
		t, ok := forwarded[f.Name]
		if !ok {
			if r.Method == http.MethodPost && path == "/"+f.Name {
				return true
			}
			continue
		}
		if _, ok := t.Match(path); !ok {
			continue
		}
		if (r.Method == "" && len(f.Methods()) == 0) || (r.Method != "" && f.Allows(r.Method)) {
			return true
		}
	}
	return false
}

func register(mux *http.ServeMux, pattern string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler pattern %q: %v", pattern, p)
		}
	}()
	mux.HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
	return nil
}

// serves reports whether mux routes method and path to a pattern (not to its 404 or 405).
func serves(mux *http.ServeMux, method, path string) bool {
	u, err := url.Parse(path)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return false
	}
	_, pattern := mux.Handler(&http.Request{Method: method, URL: u, Host: "127.0.0.1", Header: http.Header{}})
	return pattern != ""
}
