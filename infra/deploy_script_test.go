package infra

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeAz answers the az calls scripts/deploy.sh makes before and at its deployment step, logs
// every call to $FAKE_AZ_LOG, and fails the deployment with $FAKE_AZ_DEPLOY_ERROR. Anything
// else is unexpected: it exits 3, so the script cannot reach Azure.
const fakeAz = `#!/usr/bin/env bash
printf '%s\n' "$*" >>"$FAKE_AZ_LOG"
case "$1 $2" in
  "account show")
    if [[ " $* " == *" --query "* ]]; then printf 'test-subscription\t00000000-0000-0000-0000-000000000000\n'; fi
    exit 0 ;;
  "group show") exit 0 ;;
  "deployment group")
    if [[ "$3" == create ]]; then printf '%s\n' "$FAKE_AZ_DEPLOY_ERROR" >&2; exit 1; fi ;;
esac
printf 'fake az: unexpected call: az %s\n' "$*" >&2
exit 3
`

// The error az prints when the subscription has not accepted the Responsible AI notice (shape as
// published in Microsoft's lab guides for other Cognitive Services kinds).
const acceptTermsError = `ERROR: {"code": "InvalidTemplateDeployment", "message": "The template deployment 'liveness-quicklink' is not valid according to the validation procedure. See inner errors for details."}

Inner Errors:
{"code": "ResourceKindRequireAcceptTerms", "message": "This subscription cannot create Face until you agree to Responsible AI terms for this resource. You can agree to Responsible AI terms by creating a resource through the Azure Portal then trying again."}`

// TestDeployScriptDeploymentFailure runs scripts/deploy.sh against a fake az: a failed deployment
// fails the script, the Responsible AI error gets its hint (and only that error), and no resource
// provider is registered on the way.
func TestDeployScriptDeploymentFailure(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "deploy.sh"))
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "az"), []byte(fakeAz), 0o755); err != nil {
		t.Fatal(err)
	}
	const hint = "has not accepted the Responsible AI notice for Face"
	for _, c := range []struct {
		name, deployError string
		wantHint          bool
	}{
		{"responsible AI terms not accepted", acceptTermsError, true},
		{"other deployment error", `ERROR: {"code": "InvalidTemplate", "message": "Deployment template validation failed."}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := filepath.Join(t.TempDir(), "az.log")
			cmd := exec.CommandContext(t.Context(), bash, script)
			cmd.Env = append(environWithout("AZURE_", "DEPLOYMENT_NAME", "PUBLISH_WITH", "APP_DIR", "APP_ZIP"),
				"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
				"AZURE_RESOURCE_GROUP=rg-test",
				"FAKE_AZ_LOG="+calls,
				"FAKE_AZ_DEPLOY_ERROR="+c.deployError,
			)
			cmd.WaitDelay = 10 * time.Second
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("deploy.sh = %v, want a non-zero exit status; output:\n%s", err, out)
			}
			log, _ := os.ReadFile(calls)
			if !strings.Contains(string(log), "deployment group create") {
				t.Fatalf("deploy.sh never reached az deployment group create; az calls:\n%s\noutput:\n%s", log, out)
			}
			if strings.Contains(string(out), "fake az: unexpected call") {
				t.Errorf("deploy.sh made an az call the fake does not expect:\n%s", out)
			}
			if strings.Contains(string(log), "provider") {
				t.Errorf("deploy.sh registers a resource provider (Microsoft.App is only for virtual network integration); az calls:\n%s", log)
			}
			if !strings.Contains(string(out), strings.SplitN(c.deployError, "\n", 2)[0]) {
				t.Errorf("deploy.sh hid az's error; output:\n%s", out)
			}
			if got := strings.Contains(string(out), hint); got != c.wantHint {
				t.Errorf("hint printed = %v, want %v; output:\n%s", got, c.wantHint, out)
			}
		})
	}
}

// environWithout is the test's environment minus the variables with these prefixes.
func environWithout(prefixes ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		keep := name != "PATH"
		for _, p := range prefixes {
			keep = keep && !strings.HasPrefix(name, p)
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}
