// Package hostcontract plays the Azure Functions host against the custom handler: it reads an app
// folder (host.json, functions/*/function.json) the way the host does, starts the handler as the
// host starts it, and calls it the way the host calls it (reference functions-custom-handler.md).
// Core Tools cannot run here, so this is the closest we get to the real host in tests.
package hostcontract

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// App is a Functions app folder as the host reads it: the repository root or a staged package.
type App struct {
	Root string
	// HostJSONRaw is host.json as found, for schema validation.
	HostJSONRaw []byte
	Host        HostJSON
	// Functions are sorted by Name.
	Functions []Function
}

// HostJSON is the part of host.json the host's custom-handler code reads. encoding/json matches
// keys case-insensitively, as the host's configuration binder does.
type HostJSON struct {
	Version    string `json:"version"`
	Extensions struct {
		HTTP struct {
			// RoutePrefix is nil when absent: the host then uses "api".
			RoutePrefix *string `json:"routePrefix"`
		} `json:"http"`
	} `json:"extensions"`
	CustomHandler struct {
		Description struct {
			DefaultExecutablePath string   `json:"defaultExecutablePath"`
			WorkingDirectory      string   `json:"workingDirectory"`
			Arguments             []string `json:"arguments"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		EnableProxyingHTTPRequest   bool `json:"enableProxyingHttpRequest"`
	} `json:"customHandler"`
}

// RoutePrefix is the prefix of every HTTP route, "api" unless host.json says otherwise.
func (h HostJSON) RoutePrefix() string {
	if p := h.Extensions.HTTP.RoutePrefix; p != nil {
		return strings.Trim(*p, "/")
	}
	return "api"
}

// Function is one functions/<Name>/function.json.
type Function struct {
	// Name is the folder name: the function name, and the path of a default-payload call.
	Name string `json:"-"`
	// Raw is function.json as found, for schema validation.
	Raw      []byte    `json:"-"`
	Bindings []Binding `json:"bindings"`
}

// Binding is one entry of function.json's bindings.
type Binding struct {
	Type      string   `json:"type"`
	Direction string   `json:"direction"`
	Name      string   `json:"name"`
	AuthLevel string   `json:"authLevel"`
	Methods   []string `json:"methods"`
	Route     *string  `json:"route"`
	Schedule  string   `json:"schedule"`
}

// HTTPTrigger returns the trigger of a function the host forwards: exactly one httpTrigger input
// and one http output, nothing else. Any other function gets the default payload.
func (f Function) HTTPTrigger() (Binding, bool) {
	if len(f.Bindings) != 2 {
		return Binding{}, false
	}
	var trigger Binding
	var in, out int
	for _, b := range f.Bindings {
		switch {
		case strings.EqualFold(b.Type, "httpTrigger") && strings.EqualFold(b.Direction, "in"):
			in++
			trigger = b
		case strings.EqualFold(b.Type, "http") && strings.EqualFold(b.Direction, "out"):
			out++
		}
	}
	return trigger, in == 1 && out == 1
}

// Route is the function's route template without the prefix; the function name when omitted.
func (f Function) Route() string {
	if t, ok := f.HTTPTrigger(); ok && t.Route != nil {
		return strings.Trim(*t.Route, "/")
	}
	return f.Name
}

// Methods are the upper-cased methods the host routes to a forwarded function. An empty list in
// function.json means every method; that is returned as nil.
func (f Function) Methods() []string {
	t, _ := f.HTTPTrigger()
	var ms []string
	for _, m := range t.Methods {
		ms = append(ms, strings.ToUpper(m))
	}
	return ms
}

// Allows reports whether the host routes method to the forwarded function f.
func (f Function) Allows(method string) bool {
	ms := f.Methods()
	if len(ms) == 0 {
		return true
	}
	for _, m := range ms {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

// Function returns the function named name (folder names are case-sensitive, as on Linux).
func (a *App) Function(name string) (Function, bool) {
	for _, f := range a.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// RouteTemplate is the full template the host matches for forwarded function f, e.g.
// "api/sessions/{sessionId}".
func (a *App) RouteTemplate(f Function) string {
	if p := a.Host.RoutePrefix(); p != "" {
		return p + "/" + f.Route()
	}
	return f.Route()
}

// LoadApp reads root/host.json and every root/functions/*/function.json.
func LoadApp(root string) (*App, error) {
	a := &App{Root: root}
	var err error
	if a.HostJSONRaw, err = os.ReadFile(filepath.Join(root, "host.json")); err != nil {
		return nil, fmt.Errorf("read host.json: %w", err)
	}
	if err := json.Unmarshal(a.HostJSONRaw, &a.Host); err != nil {
		return nil, fmt.Errorf("parse host.json: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		// The host itself reads <root>/<Name>/function.json: the layout of a staged package.
		if paths, err = filepath.Glob(filepath.Join(root, "*", "function.json")); err != nil {
			return nil, err
		}
	}
	if len(paths) == 0 {
		return nil, errors.New("no functions/*/function.json (nor */function.json) under the app root")
	}
	for _, p := range paths {
		f, err := loadFunction(p)
		if err != nil {
			return nil, err
		}
		a.Functions = append(a.Functions, f)
	}
	sort.Slice(a.Functions, func(i, j int) bool { return a.Functions[i].Name < a.Functions[j].Name })
	return a, nil
}

func loadFunction(path string) (Function, error) {
	f := Function{Name: filepath.Base(filepath.Dir(path))}
	raw, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("read %s function.json: %w", f.Name, err)
	}
	f.Raw = raw
	if err := json.Unmarshal(raw, &f); err != nil {
		return f, fmt.Errorf("parse %s function.json: %w", f.Name, err)
	}
	return f, nil
}
