package layout

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/liveness-quicklink/functions"

// Each rule names packages (a go list pattern) and the imports none of them may reach, directly
// or through other packages.
var rules = []struct {
	name      string
	packages  string
	forbidden []string // an import path, or a tree: a path ending in "/" names it and all below it
}{
	{
		name:     "the handler binary ships no stand-in, no test support and no testing package",
		packages: "./cmd/handler",
		forbidden: []string{module + "/internal/standin/", module + "/internal/testing/",
			"testing/", "net/http/httptest"},
	},
	{
		name:      "handlers get settings as values, not from the config package",
		packages:  "./handlers",
		forbidden: []string{module + "/internal/config"},
	},
	{
		name:      "a stand-in does not use the domain package it exists to check",
		packages:  "./internal/standin/...",
		forbidden: []string{module + "/internal/liveness", module + "/internal/face", module + "/handlers"},
	},
}

func TestImportRules(t *testing.T) {
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			deps := goListDeps(t, r.packages)
			if len(deps) < 2 {
				t.Fatalf("go list -deps %s found %d packages: the rule would prove nothing", r.packages, len(deps))
			}
			for _, dep := range deps {
				for _, f := range r.forbidden {
					if forbids(f, dep) {
						t.Errorf("%s depends on %s", r.packages, dep)
					}
				}
			}
		})
	}
}

// TestImportRulesSeeAViolation proves the check can fail: the tests of the handler's packages
// import package testing, so listing them with their test dependencies must trip the first rule.
func TestImportRulesSeeAViolation(t *testing.T) {
	deps := goListDeps(t, "-test", "./cmd/handler")
	for _, dep := range deps {
		if dep == "testing" {
			return
		}
	}
	t.Errorf("go list -deps -test ./cmd/handler does not list package testing: the rule cannot see a violation")
}

// forbids reports whether the rule entry f covers the package dep.
func forbids(f, dep string) bool {
	if tree, ok := strings.CutSuffix(f, "/"); ok {
		return dep == tree || strings.HasPrefix(dep, f)
	}
	return dep == f
}

func TestForbidsCoversATreeAndItsRoot(t *testing.T) {
	tests := []struct {
		f, dep string
		want   bool
	}{
		{"testing/", "testing", true},
		{"testing/", "testing/fstest", true},
		{"testing/", "testingx", false},
		{module + "/internal/standin/", module + "/internal/standin", true},
		{module + "/internal/standin/", module + "/internal/standin/facestub", true},
		{module + "/internal/standin/", module + "/internal/standinx", false},
		{"net/http/httptest", "net/http/httptest", true},
		{"net/http/httptest", "net/http", false},
	}
	for _, tt := range tests {
		if got := forbids(tt.f, tt.dep); got != tt.want {
			t.Errorf("forbids(%q, %q) = %v, want %v", tt.f, tt.dep, got, tt.want)
		}
	}
}

// goListDeps lists the packages args reach as the shipped binary is built (make package:
// CGO_ENABLED=0 GOOS=linux GOARCH=amd64), so that files behind build constraints count as they
// will in Azure.
func goListDeps(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, args...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	cmd.Dir = "../../.." // the module root, so patterns are relative to it
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %v: %v\n%s", args, err, msg)
	}
	return strings.Fields(string(out))
}
