package hostcontract

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// fakeHandler builds testdata/fakehandler, a handler that reports how it was started.
func fakeHandler(t *testing.T) (string, *App) {
	t.Helper()
	bin, err := build(t, testenv.RepoRoot(t), "./hostcontract/testdata/fakehandler")
	if err != nil {
		t.Fatal(err)
	}
	app := testApp(t, map[string]string{"Health": httpFunction("health", "get")})
	app.Host.CustomHandler.Description.Arguments = []string{"--x", "%FAKE_ARG%", "%MISSING%"}
	return bin, app
}

func TestStartGivesTheHandlerTheHostsEnvironment(t *testing.T) {
	bin, app := fakeHandler(t)
	t.Setenv("HOSTCONTRACT_LEAK_PROBE", "1")
	h := Start(t, app, &Options{Binary: bin, Settings: []string{"FAKE_ARG=hello", "FACE_ENDPOINT=https://face.example"}})
	var env map[string]string
	if err := h.Direct(t, "GET", "/env", nil).DecodeJSON(&env); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(h.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.EvalSymlinks(app.Root)
	cwd, _ := filepath.EvalSymlinks(env["cwd"])
	want := map[string]string{
		"FUNCTIONS_CUSTOMHANDLER_PORT": u.Port(),
		"FUNCTIONS_HTTPWORKER_PORT":    u.Port(),
		"FACE_ENDPOINT":                "https://face.example",
		"FUNCTIONS_APP_ROOT_PATH":      app.Root,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("handler env %s = %q, want %q", k, env[k], v)
		}
	}
	if env["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"] == "" {
		t.Error("no FUNCTIONS_CUSTOMHANDLER_WORKER_ID")
	}
	if cwd != root {
		t.Errorf("working directory %q, want the app root %q", cwd, root)
	}
	var args []string
	if err := json.Unmarshal([]byte(env["args"]), &args); err != nil || !slices.Equal(args, []string{"--x", "hello", ""}) {
		t.Errorf("arguments %s, want [--x hello \"\"] (%%NAME%% expanded from settings, unresolved removed)", env["args"])
	}
	if _, ok := env["HOSTCONTRACT_LEAK_PROBE"]; ok {
		t.Error("the test's own environment leaked into the handler")
	}
	if err := h.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if !strings.Contains(string(h.Stdout()), `"listening"`) {
		t.Errorf("stdout not captured: %q", h.Stdout())
	}
}

func TestStartWaitsUntilTheHandlerListens(t *testing.T) {
	bin, app := fakeHandler(t)
	h := Start(t, app, &Options{Binary: bin, Settings: []string{"FAKE_LISTEN_DELAY_MS=300"}})
	if r := h.Direct(t, "GET", "/env", nil); r.Status != 200 {
		t.Errorf("after Start: status %d, want 200", r.Status)
	}
}

// Stop kills as the host does: whatever the handler would do on SIGTERM does not matter.
func TestStopKillsTheHandler(t *testing.T) {
	bin, app := fakeHandler(t)
	h := Start(t, app, &Options{Binary: bin, Settings: []string{"FAKE_EXIT_CODE=3"}})
	if err := h.Stop(); err != nil {
		t.Errorf("Stop = %v, want the handler killed", err)
	}
	if !strings.Contains(h.waitErr.Error(), "killed") {
		t.Errorf("the handler ended with %v, want killed", h.waitErr)
	}
}

func TestStopGracefullyReportsAnUncleanExit(t *testing.T) {
	bin, app := fakeHandler(t)
	h := Start(t, app, &Options{Binary: bin, Settings: []string{"FAKE_EXIT_CODE=3"}})
	if err := h.StopGracefully(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("StopGracefully = %v, want an error naming exit status 3", err)
	}
}

func TestStartFailsWhenTheHandlerExitsFirst(t *testing.T) {
	bin, app := fakeHandler(t)
	msg := fatalOf(t, func(tb testing.TB) {
		Start(tb, app, &Options{Binary: bin, Settings: []string{"FAKE_FAIL_AT_START=1"}})
	})
	if !strings.Contains(msg, "exited before answering") || !strings.Contains(msg, "failing at start") {
		t.Errorf("Start failure = %q, want the exit and the handler's stderr", msg)
	}
}

func TestStartRefusesAStagedBinaryWithoutExecBit(t *testing.T) {
	_, app := fakeHandler(t)
	writeFile(t, filepath.Join(app.Root, "handler"), "not executable")
	msg := fatalOf(t, func(tb testing.TB) { Start(tb, app, nil) })
	if !strings.Contains(msg, "exec bit") {
		t.Errorf("Start failure = %q, want one about the exec bit", msg)
	}
}
