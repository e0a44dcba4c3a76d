package infra

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The model check-bicep.mjs --json prints for each file. Values are JSON: objects, arrays and
// literals as such, any other expression as {"$expr": "<source>"} (interpolated strings add
// "$parts", the literal text and {"$expr"} pieces in order).
type bicepFile struct {
	Path      string           `json:"path"`
	Params    map[string]param `json:"params"`
	Vars      map[string]any   `json:"vars"`
	Resources []resource       `json:"resources"`
	Modules   []module         `json:"modules"`
	Outputs   []output         `json:"outputs"`
}

type param struct {
	Type          string           `json:"type"`
	Default       any              `json:"default"`
	HasDefault    bool             `json:"hasDefault"`
	Decorators    []string         `json:"decorators"`
	DecoratorArgs map[string][]any `json:"decoratorArgs"` // @maxValue(10080) is "maxValue": [10080]
}

type resource struct {
	Symbol   string `json:"symbol"`
	Type     string `json:"type"` // with @apiVersion
	Existing bool   `json:"existing"`
	Parent   string `json:"parent"` // symbol of the enclosing resource, for nested ones
	Line     int    `json:"line"`
	Loop     string `json:"loop"` // what a [for …] iterates over
	Body     any    `json:"body"`
}

type module struct {
	Symbol string `json:"symbol"`
	Path   string `json:"path"`
	Body   any    `json:"body"`
}

type output struct {
	Name       string   `json:"name"`
	Value      any      `json:"value"`
	Decorators []string `json:"decorators"`
	Line       int      `json:"line"`
}

// deployment is a parsed infra folder (the real one, or a mutated copy).
type deployment struct {
	dir        string
	repo       string                // repository root: functions/ and internal/ live there
	files      map[string]*bicepFile // by slash path relative to dir
	raw        map[string]string     // text of every .bicep and .json file, by the same key
	parameters map[string]any        // main.parameters.json values
}

const mainFile = "main.bicep"

// loadDeployment parses the infra folder dir with check-bicep.mjs. The repository's node_modules
// must hold web-tree-sitter and tree-sitter-bicep (`make deps`).
func loadDeployment(t *testing.T, dir string) *deployment {
	t.Helper()
	return loadDeployments(t, dir, ".")["."]
}

// loadDeployments parses several infra folders under root in one node run (one run costs more
// than parsing dozens of templates), keyed by their slash path relative to root.
func loadDeployments(t *testing.T, root string, dirs ...string) map[string]*deployment {
	t.Helper()
	stdout, stderr, err := runChecker(t, root, append([]string{"--json"}, dirs...)...)
	if err != nil {
		t.Fatalf("check-bicep.mjs --json in %s: %v\n%s", root, err, stderr)
	}
	var parsed struct {
		Files []*bicepFile `json:"files"`
	}
	if err := json.Unmarshal(stdout, &parsed); err != nil {
		t.Fatalf("check-bicep.mjs --json printed no model: %v", err)
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*deployment{}
	for _, dir := range dirs {
		dir = path.Clean(filepath.ToSlash(dir))
		d := &deployment{dir: filepath.Join(root, dir), repo: repo, files: map[string]*bicepFile{}}
		for _, f := range parsed.Files {
			rel := path.Clean(filepath.ToSlash(f.Path))
			if dir != "." {
				var ok bool
				if rel, ok = strings.CutPrefix(rel, dir+"/"); !ok {
					continue
				}
			}
			f.Path = rel
			d.files[rel] = f
		}
		if d.files[mainFile] == nil {
			t.Fatalf("%s: no %s", d.dir, mainFile)
		}
		if err := d.readRaw(); err != nil {
			t.Fatal(err)
		}
		out[dir] = d
	}
	return out
}

// readRaw reads the text of the templates and parameter files, and main.parameters.json's values.
func (d *deployment) readRaw() error {
	d.raw = map[string]string{}
	err := filepath.WalkDir(d.dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !(strings.HasSuffix(p, ".bicep") || strings.HasSuffix(p, ".json")) {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(d.dir, p)
		d.raw[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		return err
	}
	var params struct {
		Parameters map[string]struct {
			Value any `json:"value"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal([]byte(d.raw["main.parameters.json"]), &params); err != nil {
		return fmt.Errorf("%s: main.parameters.json: %w", d.dir, err)
	}
	d.parameters = map[string]any{}
	for name, p := range params.Parameters {
		d.parameters[name] = p.Value
	}
	return nil
}

// runChecker runs check-bicep.mjs in dir with args.
func runChecker(t *testing.T, dir string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH; the Bicep checks need Node.js 20+ and `make deps`: %v", err)
	}
	script, err := filepath.Abs("check-bicep.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("..", "node_modules", "tree-sitter-bicep", "tree-sitter-bicep.wasm")); err != nil {
		t.Fatalf("tree-sitter-bicep is not installed: run `make deps` (npm ci) in the repository root: %v", err)
	}
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(t.Context(), node, append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.Bytes(), errOut.Bytes(), err
}

// located is a resource with the file it is declared in.
type located struct {
	file *bicepFile
	res  resource
}

// resources returns the declared (not `existing`) resources of type typ, any API version.
func (d *deployment) resources(typ string) []located {
	var out []located
	for _, f := range d.sortedFiles() {
		for _, r := range f.Resources {
			if !r.Existing && typeName(r.Type) == typ {
				out = append(out, located{f, r})
			}
		}
	}
	return out
}

func (d *deployment) sortedFiles() []*bicepFile {
	var out []*bicepFile
	for _, k := range slices.Sorted(maps.Keys(d.files)) {
		out = append(out, d.files[k])
	}
	return out
}

func typeName(t string) string { name, _, _ := strings.Cut(t, "@"); return name }

func (l located) String() string {
	return fmt.Sprintf("%s:%d (%s)", l.file.Path, l.res.Line, l.res.Symbol)
}

// symbol finds the resource named sym in f (declared or existing).
func (f *bicepFile) symbol(sym string) (resource, bool) {
	for _, r := range f.Resources {
		if r.Symbol == sym {
			return r, true
		}
	}
	return resource{}, false
}

// field walks object keys; nil when a key is absent.
func field(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok || isExpr(m) {
			return nil
		}
		v = m[k]
	}
	return v
}

// exprOf returns the source of a non-literal value.
func exprOf(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	s, ok := m["$expr"].(string)
	return s, ok
}

func isExpr(m map[string]any) bool { _, ok := m["$expr"]; return ok }

// evaluator computes what an expression is worth offline. Strict, it knows literals and what
// leads to one through params (main.parameters.json, the caller's module argument, the default),
// vars, module outputs, resource names, empty(x), split(x, 'sep')[i] and c ? a : b. Lenient, it
// also renders interpolated strings with "x" for the pieces only Azure knows:
// 'https://${storage.name}.table.${suffix}' becomes https://x.table.x, enough for the handler's URL
// and host-name checks; and it reads the resource properties in sampleProperties.
type evaluator struct {
	d        *deployment
	lenient  bool
	ident    *regexp.Regexp
	resName  *regexp.Regexp
	output   *regexp.Regexp
	empty    *regexp.Regexp
	split    *regexp.Regexp
	property *regexp.Regexp
	samples  map[string]map[string]string // by resource type and property
}

func (d *deployment) evaluator(lenient bool) *evaluator {
	return &evaluator{
		d:       d,
		lenient: lenient,
		ident:   regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`),
		resName: regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\.name$`),
		output:  regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\.outputs\.([A-Za-z_][A-Za-z0-9_]*)$`),
		empty:   regexp.MustCompile(`^empty\(([A-Za-z_][A-Za-z0-9_]*)\)$`),
		// Greedy: in split(split(a, '/')[2], ':')[0] the outer call's separator is the last one.
		split:    regexp.MustCompile(`^split\((.+),\s*'([^']*)'\)\[(\d+)\]$`),
		property: regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\.properties\.([A-Za-z_][A-Za-z0-9_]*)$`),
		samples:  sampleProperties,
	}
}

// sampleProperties are values Azure gives resource properties, in the documented shape (public
// cloud), for the lenient evaluation.
var sampleProperties = map[string]map[string]string{
	"Microsoft.ServiceBus/namespaces": {"serviceBusEndpoint": "https://x.servicebus.windows.net:443/"},
}

// eval is the strict evaluation of v in file f; ok is false for anything Azure computes.
func (d *deployment) eval(f *bicepFile, v any) (any, bool) { return d.evaluator(false).eval(f, v, 0) }

// render is the lenient evaluation of v in file f.
func (d *deployment) render(f *bicepFile, v any) (any, bool) { return d.evaluator(true).eval(f, v, 0) }

func (e *evaluator) eval(f *bicepFile, v any, depth int) (any, bool) {
	src, isX := exprOf(v)
	if !isX {
		return v, true
	}
	if depth > 32 {
		return nil, false
	}
	x := v.(map[string]any)
	if parts, ok := x["$parts"].([]any); ok {
		var b strings.Builder
		for _, p := range parts {
			s, ok := e.eval(f, p, depth+1)
			switch {
			case ok:
				b.WriteString(text(s))
			case e.lenient:
				b.WriteString("x")
			default:
				return nil, false
			}
		}
		return b.String(), true
	}
	if t, ok := x["$ternary"].([]any); ok && len(t) == 3 {
		cond, ok := e.eval(f, t[0], depth+1)
		if b, isBool := cond.(bool); ok && isBool {
			if b {
				return e.eval(f, t[1], depth+1)
			}
			return e.eval(f, t[2], depth+1)
		}
		return nil, false
	}
	if m := e.empty.FindStringSubmatch(src); m != nil {
		if val, ok := e.eval(f, map[string]any{"$expr": m[1]}, depth+1); ok {
			return val == "" || val == nil, true
		}
		return nil, false
	}
	if m := e.split.FindStringSubmatch(src); m != nil {
		inner, ok := e.eval(f, map[string]any{"$expr": strings.TrimSpace(m[1])}, depth+1)
		s, isString := inner.(string)
		if !ok || !isString {
			return nil, false
		}
		parts := strings.Split(s, m[2])
		if i, err := strconv.Atoi(m[3]); err == nil && i < len(parts) {
			return parts[i], true
		}
		return nil, false // out of range: the deployment would fail
	}
	if m := e.property.FindStringSubmatch(src); m != nil {
		if r, ok := f.symbol(m[1]); ok && e.lenient {
			if v, ok := e.samples[typeName(r.Type)][m[2]]; ok {
				return v, true
			}
		}
		return nil, false
	}
	if m := e.resName.FindStringSubmatch(src); m != nil {
		if r, ok := f.symbol(m[1]); ok {
			return e.eval(f, field(r.Body, "name"), depth+1)
		}
	}
	if m := e.output.FindStringSubmatch(src); m != nil {
		for _, mod := range f.Modules {
			if mod.Symbol != m[1] {
				continue
			}
			if callee := e.d.files[path.Join(path.Dir(f.Path), mod.Path)]; callee != nil {
				for _, o := range callee.Outputs {
					if o.Name == m[2] {
						return e.eval(callee, o.Value, depth+1)
					}
				}
			}
		}
		return nil, false
	}
	if !e.ident.MatchString(src) {
		return nil, false
	}
	if val, ok := f.Vars[src]; ok {
		return e.eval(f, val, depth+1)
	}
	p, ok := f.Params[src]
	if !ok {
		return nil, false
	}
	if f.Path == mainFile {
		if val, ok := e.d.parameters[src]; ok {
			return val, true
		}
	}
	if callers := e.d.callers(f, src); len(callers) == 1 {
		return e.eval(callers[0].file, callers[0].arg, depth+1)
	} else if len(callers) > 1 {
		return nil, false
	}
	if p.HasDefault {
		return e.eval(f, p.Default, depth+1)
	}
	return nil, false
}

// text renders a JSON value as Bicep interpolation does; whole numbers without an exponent.
func text(v any) string {
	if n, ok := v.(float64); ok {
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

type callerArg struct {
	file *bicepFile
	arg  any
}

// callers returns the arguments every module declaration of f passes for param name.
func (d *deployment) callers(f *bicepFile, name string) []callerArg {
	var out []callerArg
	for _, g := range d.sortedFiles() {
		for _, m := range g.Modules {
			if path.Join(path.Dir(g.Path), m.Path) != f.Path {
				continue
			}
			if arg := field(m.Body, "params", name); arg != nil {
				out = append(out, callerArg{g, arg})
			}
		}
	}
	return out
}

// appSettings returns the one Microsoft.Web/sites/config 'appsettings' resource's settings.
func (d *deployment) appSettings() (*bicepFile, map[string]any, error) {
	var found []located
	for _, l := range d.resources("Microsoft.Web/sites/config") {
		if field(l.res.Body, "name") == "appsettings" {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		return nil, nil, fmt.Errorf("want exactly one Microsoft.Web/sites/config 'appsettings' resource, found %d", len(found))
	}
	settings, ok := field(found[0].res.Body, "properties").(map[string]any)
	if !ok || isExpr(settings) {
		return nil, nil, fmt.Errorf("%v: properties must be an object literal so the settings can be checked", found[0])
	}
	return found[0].file, settings, nil
}
