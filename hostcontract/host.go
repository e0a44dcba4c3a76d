package hostcontract

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/liveness-quicklink/functions/internal/testing/logsink"
	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// Options tune Start; nil means defaults.
type Options struct {
	// Binary is a built handler to run. Empty: the app root's own executable when the root is a
	// staged package, or a fresh `go build ./cmd/handler` when the root is the Go module.
	Binary string
	// Settings are the app settings ("NAME=value") the host passes to the handler.
	Settings []string
	// Port is FUNCTIONS_CUSTOMHANDLER_PORT (default a free one; see FreePort for settings that
	// must name it).
	Port int
	// InitializationTimeout bounds the readiness wait, as host.json's initializationTimeout does
	// (default 30 s).
	InitializationTimeout time.Duration
	// StopTimeout bounds the exit after SIGTERM in StopGracefully (default 5 s).
	StopTimeout time.Duration
	// NewID returns the worker and invocation ids (default random UUIDs).
	NewID func() string
	// Now is the clock of the default payloads' sys.UtcNow (default time.Now).
	Now func() time.Time
}

// HostVersion is what the host sends in X-Azure-Functions-HostVersion and its User-Agent.
const HostVersion = "4.1040.100.0"

// Host is a running handler and the host's side of the conversation with it.
type Host struct {
	App     *App
	BaseURL string // http://127.0.0.1:<port>
	Client  *http.Client

	opts     Options
	cmd      *exec.Cmd
	stdout   logsink.Buffer
	stderr   logsink.Buffer
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error

	mu   sync.Mutex
	keys []string // every function key sent so far (see FunctionKeys)
}

// Start starts the handler of app the way the host does and waits until it answers GET /. The
// handler is killed when t ends, as the host ends it (the test fails if it exited before); call
// Stop first to check its output after a complete run.
func Start(t testing.TB, app *App, opts *Options) *Host {
	t.Helper()
	h := &Host{App: app, exited: make(chan struct{})}
	if opts != nil {
		h.opts = *opts
	}
	h.setDefaults()
	bin, err := h.executable(t)
	if err != nil {
		t.Fatalf("hostcontract: %v", err)
	}
	port := h.opts.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			t.Fatalf("hostcontract: %v", err)
		}
	}
	h.BaseURL = "http://127.0.0.1:" + strconv.Itoa(port)
	// Like the host's HttpClient: no redirects followed, keep-alive on.
	h.Client = &http.Client{
		Timeout:       2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	d := app.Host.CustomHandler.Description
	h.cmd = exec.Command(bin, expandArguments(d.Arguments, h.opts.Settings)...)
	h.cmd.Dir = app.Root
	if d.WorkingDirectory != "" {
		h.cmd.Dir = filepath.Join(app.Root, d.WorkingDirectory)
	}
	h.cmd.Env = h.environment(port)
	h.cmd.Stdout, h.cmd.Stderr = &h.stdout, &h.stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("hostcontract: start %s: %v", bin, err)
	}
	go func() { h.waitErr = h.cmd.Wait(); close(h.exited) }()
	t.Cleanup(func() {
		ran := false
		h.stopOnce.Do(func() { ran, h.stopErr = true, h.stop() })
		if ran && h.stopErr != nil {
			t.Errorf("hostcontract: %v", h.stopErr)
		}
	})
	if err := h.awaitReady(); err != nil {
		h.stopOnce.Do(func() { // no second report from the cleanup
			_ = h.cmd.Process.Kill()
			<-h.exited
		})
		t.Fatalf("hostcontract: %v\nstdout:\n%s\nstderr:\n%s", err, h.Stdout(), h.Stderr())
	}
	return h
}

func (h *Host) setDefaults() {
	if h.opts.InitializationTimeout <= 0 {
		h.opts.InitializationTimeout = 30 * time.Second
	}
	if h.opts.StopTimeout <= 0 {
		h.opts.StopTimeout = 5 * time.Second
	}
	if h.opts.NewID == nil {
		h.opts.NewID = uuid.NewString
	}
	if h.opts.Now == nil {
		h.opts.Now = time.Now
	}
}

// executable resolves the handler binary. A Go module root is built from source, so a stale
// ./handler left there by `go build` is never run by mistake; a staged package must carry its own
// binary with the exec bit (the host starts it without a shell).
func (h *Host) executable(t testing.TB) (string, error) {
	if h.opts.Binary != "" {
		return h.opts.Binary, nil
	}
	if _, err := os.Stat(filepath.Join(h.App.Root, "go.mod")); err == nil {
		return BuildHandler(t, h.App.Root)
	}
	name := h.App.Host.CustomHandler.Description.DefaultExecutablePath
	if name == "" {
		return "", errors.New("host.json has no customHandler.description.defaultExecutablePath")
	}
	bin := filepath.Join(h.App.Root, name)
	fi, err := os.Stat(bin)
	if err != nil {
		return "", fmt.Errorf("staged app has no handler binary: %w", err)
	}
	if fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s lacks the exec bit (mode %v): the host cannot start it", bin, fi.Mode())
	}
	return bin, nil
}

// BuildHandler builds ./cmd/handler of the module at root into a temporary folder.
func BuildHandler(t testing.TB, root string) (string, error) {
	t.Helper()
	return build(t, root, "./cmd/handler")
}

func build(t testing.TB, root, pkg string) (string, error) {
	bin := filepath.Join(t.TempDir(), "handler")
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// environment is what the host gives the handler: its own environment (here only what a process
// needs, so a developer's shell cannot leak settings into the test), the app settings, and the
// worker variables.
func (h *Host) environment(port int) []string {
	var env []string
	for _, name := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	env = append(env, h.opts.Settings...)
	id := h.opts.NewID()
	return append(env,
		"FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port),
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID="+id,
		"FUNCTIONS_HTTPWORKER_PORT="+strconv.Itoa(port),
		"FUNCTIONS_HTTPWORKER_ID="+id,
		"FUNCTIONS_APP_ROOT_PATH="+h.App.Root,
	)
}

var appSettingRef = regexp.MustCompile(`%([^%]+)%`)

// expandArguments resolves %NAME% from the app settings; unresolved references are removed.
func expandArguments(args, settings []string) []string {
	values := map[string]string{}
	for _, kv := range settings {
		if k, v, ok := strings.Cut(kv, "="); ok {
			values[k] = v
		}
	}
	out := make([]string, 0, len(args))
	for _, a := range args {
		out = append(out, appSettingRef.ReplaceAllStringFunc(a, func(ref string) string {
			return values[ref[1:len(ref)-1]]
		}))
	}
	return out
}

// awaitReady polls GET / every 25 ms as the host does: any HTTP response means ready, a socket
// error means not yet.
func (h *Host) awaitReady() error {
	deadline := time.Now().Add(h.opts.InitializationTimeout)
	probe := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-h.exited:
			return fmt.Errorf("handler exited before answering GET / (%v)", h.waitErr)
		default:
		}
		resp, err := probe.Get(h.BaseURL + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("initializing the handler timed out after %v: %w", h.opts.InitializationTimeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Stop kills the handler with SIGKILL, as the host stops it (on restart, scale-in, deploy and
// past functionTimeout; it never sends SIGTERM), and reports an error if the handler had exited
// before. Later calls, and StopGracefully, return the first result.
func (h *Host) Stop() error {
	h.stopOnce.Do(func() { h.stopErr = h.stop() })
	return h.stopErr
}

func (h *Host) stop() error {
	if err := h.exitedEarly(); err != nil {
		return err
	}
	_ = h.cmd.Process.Kill()
	<-h.exited
	return nil
}

// StopGracefully sends SIGTERM, as `make run` (not the host) does on Ctrl-C, and reports an error
// unless the handler exits with status 0 within StopTimeout.
func (h *Host) StopGracefully() error {
	h.stopOnce.Do(func() { h.stopErr = h.stopGracefully() })
	return h.stopErr
}

func (h *Host) stopGracefully() error {
	if err := h.exitedEarly(); err != nil {
		return err
	}
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal the handler: %w", err)
	}
	select {
	case <-h.exited:
	case <-time.After(h.opts.StopTimeout):
		_ = h.cmd.Process.Kill()
		<-h.exited
		return fmt.Errorf("handler did not exit within %v of SIGTERM; killed", h.opts.StopTimeout)
	}
	if h.waitErr != nil {
		return fmt.Errorf("handler did not exit cleanly after SIGTERM (%v)\nstderr:\n%s", h.waitErr, h.Stderr())
	}
	return nil
}

// exitedEarly is the error of a handler that exited before it was stopped (the host would log it
// and start it again).
func (h *Host) exitedEarly() error {
	h.Client.CloseIdleConnections()
	select {
	case <-h.exited:
		return fmt.Errorf("handler exited before it was stopped (%v)\nstderr:\n%s", h.waitErr, h.Stderr())
	default:
	}
	return nil
}

// Stdout is everything the handler wrote to stdout so far (the host logs it as Information).
func (h *Host) Stdout() []byte { return h.stdout.Bytes() }

// Stderr is everything the handler wrote to stderr so far (the host logs it as Error).
func (h *Host) Stderr() []byte { return h.stderr.Bytes() }

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort() (int, error) { return services.FreePort() }
