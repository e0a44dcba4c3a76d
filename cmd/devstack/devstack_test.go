package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/pack"
	"github.com/liveness-quicklink/functions/internal/testing/logsink"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// TestMakeRunFlow runs what `make run` runs, executes the three curl lines it prints exactly as
// printed, and checks that Ctrl-C (SIGINT) leaves no process listening behind.
func TestMakeRunFlow(t *testing.T) {
	bin := buildAll(t)
	p := freePorts(t)
	d := startDevstack(t, filepath.Join(bin, "devstack"), append([]string{"-handler", filepath.Join(bin, "handler"),
		"-events-tail", filepath.Join(bin, "events-tail")}, p.runArgs()...)...)
	id := runPrintedCommands(t, d)
	d.waitForEvent(t, id+"/canceled") // sent by the cancel, printed by events-tail
	d.interrupt(t, map[string]int{"azurite": p.tables, "face stand-in": p.face, "handler": p.app,
		"Service Bus stand-in": p.sb, "Service Bus counters": p.sbHTTP})
}

// TestFuncStartRunsCoreToolsInTheStagedApp runs what `make func-start` runs with a stand-in for
// Core Tools' `func` on PATH (it runs the handler as the host would, with the Values of
// local.settings.json): devstack must call `func start --port` in the staged folder, with settings
// that reach the stand-ins, so that the printed commands work.
func TestFuncStartRunsCoreToolsInTheStagedApp(t *testing.T) {
	bin := buildAll(t)
	app := stageApp(t, bin)
	pathDir := t.TempDir()
	if err := os.Rename(filepath.Join(bin, "fakefunc"), filepath.Join(pathDir, "func")); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(t.TempDir(), "record")
	p := freePorts(t)
	d := startDevstack(t, filepath.Join(bin, "devstack"), append([]string{"-func", app, "-events-tail", filepath.Join(bin, "events-tail")}, p.args()...)...)
	d.env = append(d.env, "PATH="+pathDir+string(os.PathListSeparator)+os.Getenv("PATH"), "FAKEFUNC_RECORD="+record)
	d.start(t)

	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("func was not run: %v\n%s", err, d.output.String())
	}
	if want := app + "\nstart --port " + fmt.Sprint(p.app) + "\n"; string(b) != want {
		t.Errorf("func ran as %q, want %q (in the staged folder)", b, want)
	}
	checkLocalSettings(t, app, p)
	id := runPrintedCommands(t, d)
	d.waitForEvent(t, id+"/canceled")
	d.interrupt(t, map[string]int{"azurite tables": p.tables, "azurite blob": p.blob, "azurite queue": p.queue, "face stand-in": p.face, "func": p.app,
		"Service Bus stand-in": p.sb, "Service Bus counters": p.sbHTTP})
}

// Without Core Tools, devstack says how to install it and keeps the stand-ins running with the
// staged folder's local.settings.json pointing at them. A closed terminal (SIGHUP) stops them.
func TestFuncStartWithoutCoreToolsSaysHowToInstallIt(t *testing.T) {
	bin := buildAll(t)
	app := stageApp(t, bin)
	p := freePorts(t)
	d := startDevstack(t, filepath.Join(bin, "devstack"), append([]string{"-func", app, "-events-tail", filepath.Join(bin, "events-tail")}, p.args()...)...)
	d.env = append(d.env, "PATH="+filepath.Dir(mustLookPath(t, "node"))) // node for Azurite; no func
	d.start(t)

	out := d.output.String()
	for _, want := range []string{"Core Tools (func) is not installed", "npm install -g azure-functions-core-tools@4", "cd " + app + " && func start --port " + fmt.Sprint(p.app)} {
		if !strings.Contains(out, want) {
			t.Errorf("devstack output lacks %q:\n%s", want, out)
		}
	}
	checkLocalSettings(t, app, p)
	d.stopWith(t, syscall.SIGHUP, map[string]int{"azurite tables": p.tables, "azurite blob": p.blob, "azurite queue": p.queue, "face stand-in": p.face,
		"Service Bus stand-in": p.sb, "Service Bus counters": p.sbHTTP})
}

// checkLocalSettings holds the written local.settings.json to what Core Tools needs and to the
// running stand-ins.
func checkLocalSettings(t *testing.T, app string, p testPorts) {
	t.Helper()
	info, err := os.Stat(filepath.Join(app, "local.settings.json"))
	if err != nil {
		t.Fatalf("no local.settings.json in the staged app: %v", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		t.Errorf("local.settings.json mode %v: it holds keys, want it readable by its owner only", info.Mode().Perm())
	}
	var f struct {
		Values map[string]string
		Host   struct{ LocalHttpPort int }
	}
	b, _ := os.ReadFile(filepath.Join(app, "local.settings.json"))
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("local.settings.json: %v", err)
	}
	v := f.Values
	if v["FUNCTIONS_WORKER_RUNTIME"] != "custom" || f.Host.LocalHttpPort != p.app {
		t.Errorf("FUNCTIONS_WORKER_RUNTIME = %q, Host.LocalHttpPort = %d; want custom and %d", v["FUNCTIONS_WORKER_RUNTIME"], f.Host.LocalHttpPort, p.app)
	}
	if _, set := v["FUNCTIONS_CUSTOMHANDLER_PORT"]; set {
		t.Errorf("local.settings.json sets FUNCTIONS_CUSTOMHANDLER_PORT, which the host chooses")
	}
	for name, want := range map[string][]string{
		"AzureWebJobsStorage":          {fmt.Sprintf("BlobEndpoint=http://127.0.0.1:%d/", p.blob), fmt.Sprintf("QueueEndpoint=http://127.0.0.1:%d/", p.queue), fmt.Sprintf("TableEndpoint=http://127.0.0.1:%d/", p.tables)},
		"TABLES_CONNECTION_STRING":     {fmt.Sprintf("TableEndpoint=http://127.0.0.1:%d/", p.tables)},
		"FACE_ENDPOINT":                {fmt.Sprintf("http://127.0.0.1:%d", p.face)},
		"QUICKLINK_ENDPOINT":           {fmt.Sprintf("http://127.0.0.1:%d", p.face)},
		"PUBLIC_BASE_URL":              {fmt.Sprintf("http://localhost:%d", p.app)},
		"SERVICEBUS_CONNECTION_STRING": {fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;", p.sb), "UseDevelopmentEmulator=true"},
		"SERVICEBUS_ENTITY":            {"liveness-events"},
	} {
		for _, w := range want {
			if !strings.Contains(v[name], w) {
				t.Errorf("%s = %q, want it to hold %q", name, v[name], w)
			}
		}
	}
	checkRandomKey(t, v["CALLBACK_SIGNING_KEYS"])
	for name, port := range map[string]int{"blob": p.blob, "queue": p.queue, "tables": p.tables, "face": p.face, "Service Bus": p.sb} {
		if !listening(port) {
			t.Errorf("the %s stand-in does not listen on %d", name, port)
		}
	}
}

type testPorts struct{ app, face, tables, blob, queue, sb, sbHTTP, demo int }

// runArgs are the port flags of `make run`; args adds `make func-start`'s.
func (p testPorts) runArgs() []string {
	return []string{"-port", fmt.Sprint(p.app), "-face-port", fmt.Sprint(p.face), "-tables-port", fmt.Sprint(p.tables),
		"-servicebus-port", fmt.Sprint(p.sb), "-servicebus-http-port", fmt.Sprint(p.sbHTTP)}
}

func (p testPorts) args() []string {
	return append(p.runArgs(), "-blob-port", fmt.Sprint(p.blob), "-queue-port", fmt.Sprint(p.queue))
}

func freePorts(t *testing.T) testPorts {
	return testPorts{freePort(t), freePort(t), freePort(t), freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)}
}

// buildAll builds the handler, events-tail, the demo, devstack and the fake `func` into a
// temporary folder.
func buildAll(t *testing.T) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	bin := t.TempDir()
	for pkg, out := range map[string]string{"./cmd/handler": "handler", "./cmd/events-tail": "events-tail", "./cmd/demo": "demo", "./cmd/devstack": "devstack", "./cmd/devstack/testdata/fakefunc": "fakefunc"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, out), pkg)
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0") // as `make build`: pack stages static handlers only
		if b, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return bin
}

// stageApp stages the app as `make func-app` does.
func stageApp(t *testing.T, bin string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	if _, err := pack.Stage(pack.App{Root: testenv.RepoRoot(t), Handler: filepath.Join(bin, "handler")}, dir); err != nil {
		t.Fatalf("stage: %v", err)
	}
	return dir
}

// devstack is a running cmd/devstack, read up to its "Ctrl-C stops everything" line.
type devstack struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when devstack has exited; err is then its exit
	err      error
	env      []string
	output   logsink.Buffer // everything it printed, also after it was ready
	commands []string       // the lines printed under "Try it"
}

// waitForLine waits up to limit for a printed line that match accepts, and returns it.
func (d *devstack) waitForLine(t *testing.T, what string, limit time.Duration, match func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, l := range strings.Split(d.output.String(), "\n") {
			if match(l) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("devstack printed no %s within %v:\n%s", what, limit, d.output.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startDevstack prepares devstack with args, in the repository root (for local.settings.json and
// node_modules); start runs it. Without changes to env, it is started at once.
func startDevstack(t *testing.T, bin string, args ...string) *devstack {
	t.Helper()
	d := &devstack{cmd: exec.Command(bin, args...), env: append(os.Environ(), testenv.EnvAzuriteConnectionString+"=")}
	d.cmd.Dir = testenv.RepoRoot(t)
	if !strings.Contains(strings.Join(args, " "), "-func") {
		d.start(t)
	}
	return d
}

func (d *devstack) start(t *testing.T) {
	t.Helper()
	d.cmd.Env = d.env
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stderr = d.cmd.Stdout
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start devstack: %v", err)
	}
	d.done = make(chan struct{})
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	// A test that fails early still stops the stack as a user would (Ctrl-C), so that nothing is
	// left holding a port; a kill is the last resort.
	t.Cleanup(func() {
		select {
		case <-d.done:
			return
		default:
		}
		_ = d.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			_ = d.cmd.Process.Kill()
		}
	})
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 2*maxLine) // a printed line is at most maxLine and its prefix
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout) // past a line too long to scan, devstack must not block
	}()
	collecting := false
	deadline := time.After(90 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("devstack ended before it was ready:\n%s", d.output.String())
			}
			_, _ = d.output.Write([]byte(l + "\n"))
			switch {
			case strings.HasPrefix(l, "Try it"):
				collecting = true
			case strings.HasPrefix(l, "Ctrl-C stops everything"):
				go func() {
					for l := range lines {
						_, _ = d.output.Write([]byte(l + "\n"))
					}
				}()
				return
			case collecting && strings.TrimSpace(l) != "":
				d.commands = append(d.commands, l)
			}
		case <-deadline:
			t.Fatalf("devstack not ready in 90 s:\n%s", d.output.String())
		}
	}
}

// runPrintedCommands runs the three printed curl lines as a user would paste them, and returns the
// id of the session they started and canceled.
func runPrintedCommands(t *testing.T, d *devstack) string {
	t.Helper()
	mustLookPath(t, "curl")
	if len(d.commands) != 3 {
		t.Fatalf("devstack printed %d commands, want 3 (start, read, cancel):\n%s", len(d.commands), d.output.String())
	}
	out, err := exec.Command("sh", "-c", strings.Join(d.commands, "\n")).CombinedOutput()
	if err != nil {
		t.Fatalf("the printed commands failed: %v\n%s", err, out)
	}
	results := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(results) != 3 {
		t.Fatalf("the printed commands printed %d lines, want 3:\n%s", len(results), out)
	}
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(results[0]) {
		t.Errorf("start printed %q, want a session id", results[0])
	}
	if !strings.Contains(results[1], `"status":"created"`) {
		t.Errorf("read printed %s, want status created", results[1])
	}
	if !strings.Contains(results[2], `"status":"canceled"`) {
		t.Errorf("cancel printed %s, want status canceled", results[2])
	}
	return results[0]
}

// waitForEvent waits for events-tail's line of the event with id.
func (d *devstack) waitForEvent(t *testing.T, id string) {
	t.Helper()
	d.waitForLine(t, "event line of "+id, 20*time.Second, func(l string) bool {
		return strings.HasPrefix(l, "event   | ") && strings.Contains(l, `"id":"`+id+`"`)
	})
}

// interrupt sends Ctrl-C and checks that devstack exits cleanly and nothing listens any more.
func (d *devstack) interrupt(t *testing.T, ports map[string]int) {
	t.Helper()
	d.stopWith(t, syscall.SIGINT, ports)
}

// stopWith sends sig and checks that devstack exits cleanly and nothing listens any more.
func (d *devstack) stopWith(t *testing.T, sig syscall.Signal, ports map[string]int) {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v: %v", sig, err)
	}
	select {
	case <-d.done:
		if d.err != nil {
			t.Errorf("devstack exit after %v: %v", sig, d.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("devstack did not stop within 30 s of %v", sig)
	}
	for name, port := range ports {
		if listening(port) {
			t.Errorf("%s still listens on %d after %v: an orphan", name, port, sig)
		}
	}
}

func listening(port int) bool {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed: %v", name, err)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := services.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
