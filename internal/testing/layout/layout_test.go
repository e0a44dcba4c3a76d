package layout

import (
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
	forbidden []string // an import path, or a prefix ending in "/"
}{
	{
		name:      "the handler binary ships no stand-in, no test support and not package testing",
		packages:  "./cmd/handler",
		forbidden: []string{module + "/internal/standin/", module + "/internal/testing/", "testing"},
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
					if dep == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) {
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

func goListDeps(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, args...)...)
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
