package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// coreToolsInstall is what to tell a developer without Core Tools (its npm package downloads the
// host binary at install time, so it cannot be a dependency of this repository).
const coreToolsInstall = `Azure Functions Core Tools (func) is not installed. Install version 4, e.g.
  npm install -g azure-functions-core-tools@4 --unsafe-perm true
or see https://learn.microsoft.com/azure/azure-functions/functions-run-local#install-the-azure-functions-core-tools`

// runFunc is `make func-start`: the staged app in dir, run by the real Functions host.
func runFunc(ctx context.Context, log *slog.Logger, dir, tailBin string, p ports) error {
	if _, err := os.Stat(filepath.Join(dir, "host.json")); err != nil {
		return fmt.Errorf("%s is not a staged app folder (make func-app stages one): %w", dir, err)
	}
	st, err := startStandIns(log, p, true, tailBin)
	if err != nil {
		return err
	}
	defer st.stop(log)
	if err := writeLocalSettings(dir, hostSettings(st), p.app); err != nil {
		return err
	}
	appURL := fmt.Sprintf("http://localhost:%d", p.app)
	args := []string{"start", "--port", strconv.Itoa(p.app)}
	funcBin, err := exec.LookPath("func")
	if err != nil {
		fmt.Printf("\n%s\n\nThe app is staged in %s with a local.settings.json that points at the stand-ins,\nwhich keep running. Once Core Tools is installed, run in another shell:\n  cd %s && func %s\n",
			coreToolsInstall, dir, dir, strings.Join(args, " "))
		fmt.Printf("\nThe stand-ins are running; the app at %s answers once `func start` runs there.\n", appURL)
		printTryIt(appURL)
		return st.wait(ctx)
	}
	host, err := st.startChild("func", funcBin, args, dir, nil)
	if err != nil {
		return err
	}
	// The host answers before the handler is ready; health comes from the handler itself.
	if err := host.WaitHealthy(ctx, fmt.Sprintf("http://127.0.0.1:%d/api/health", p.app), 120*time.Second); err != nil {
		return fmt.Errorf("func start: %w", err)
	}
	printWelcome(appURL, st, "  (run by Core Tools from "+dir+"; the host runs Reconcile on RECONCILE_SCHEDULE)\n", 0)
	return st.wait(ctx)
}

// hostSettings are the app settings plus what the Functions host itself needs under Core Tools.
func hostSettings(st *stack) map[string]string {
	values := maps.Clone(st.settings)
	values["FUNCTIONS_WORKER_RUNTIME"] = "custom"
	// Timer leases and keys: Azurite's blob and queue services, started for this.
	values["AzureWebJobsStorage"] = st.azurite.ConnectionString()
	delete(values, "FUNCTIONS_CUSTOMHANDLER_PORT") // the host picks and passes it
	return values
}

// writeLocalSettings writes dir/local.settings.json the way Core Tools reads it.
func writeLocalSettings(dir string, values map[string]string, port int) error {
	f := struct {
		IsEncrypted bool              `json:"IsEncrypted"`
		Values      map[string]string `json:"Values"`
		Host        struct {
			LocalHTTPPort int `json:"LocalHttpPort"`
		} `json:"Host"`
	}{Values: values}
	f.Host.LocalHTTPPort = port
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	// It holds the local keys (the Face stand-in's, the development signing key): owner only,
	// also when an earlier file with a wider mode is there (WriteFile keeps an existing mode).
	path := filepath.Join(dir, "local.settings.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}
