// Package stack starts the whole app on this machine for browser tests and screenshots: Azurite,
// the Service Bus stand-in, the Face + quick link stand-in (cmd/standin), the handler
// (cmd/handler) and the demo app (cmd/demo), each on a free 127.0.0.1 port, wired as the
// contracts of design §7–§8 say. It keeps every line every process writes (Lines), receives
// every event on the topic's `all` subscription, and plays the Functions host where the tests
// need it (Reconcile through the timer envelope).
package stack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// Options configures Start.
type Options struct {
	// Root is the repository root (go.mod, node_modules from `npm ci`).
	Root string
	// AbandonAfter is the handler's ABANDON_AFTER_SECONDS, in whole seconds; zero means 2 s.
	AbandonAfter time.Duration
	// Mirror, when set, also receives every process's output as it is written (e.g. os.Stderr).
	Mirror io.Writer
	// ReturnMode and AppendParams are the stand-in's quick link return switches at start
	// ("get" or "post"; empty means "get"). SetReturnMode changes them later.
	ReturnMode   string
	AppendParams bool
	// BuildTags are the build tags of the Go binaries, e.g. "faulthooks" (internal/faulthooks).
	BuildTags []string
	// HandlerEnv is added to the handler's environment (later entries win).
	HandlerEnv []string
	// TablesProxy puts a faultproxy between the handler and Azurite (Stack.TablesProxy); the
	// stack's own reads (TableRows, SessionRow) go to Azurite directly.
	TablesProxy bool
}

// Stack is the running app. Its URLs have no trailing slash.
type Stack struct {
	HandlerURL string // the function app (PUBLIC_BASE_URL)
	StandinURL string // Face and quick link stand-in (FACE_ENDPOINT, QUICKLINK_ENDPOINT)
	DemoURL    string // the demo app (its origin is in RETURN_URL_ALLOWED_ORIGINS)

	// Secrets the stack made up for this run, for the tests that look for leaks.
	SigningKey  []byte // CALLBACK_SIGNING_KEYS (one key)
	FunctionKey string // the demo's x-functions-key
	FaceAPIKey  string // FACE_API_KEY

	AbandonAfter time.Duration

	// TablesConnectionString is Azurite's, for reading the rows the handler wrote.
	TablesConnectionString string

	// TablesProxy stands between the handler and Azurite when Options.TablesProxy was set.
	TablesProxy *faultproxy.Proxy

	Lines  *Lines  // every line of every process
	Events *Events // every event delivered on the `all` subscription
	Seen   *Seen   // every answer body the stack's own calls received

	dir     string
	azurite *services.Azurite
	sb      *services.ServiceBus
	procs   []*services.Process
	handler *services.Process
	// What the handler was started with, to start it again on the same port.
	handlerEnv []string
	mirror     io.Writer
	root       string
	writers    []*LineWriter
	client     *http.Client
	stopOnce   sync.Once
}

// Topic and subscription the events are received from (internal/standin/servicebus/entities.json).
const (
	Topic        = "liveness-events"
	Subscription = "all"
)

// readyTimeout bounds each process's start: `go test ./...` on two busy cores is slow.
const readyTimeout = 60 * time.Second

// Start builds the Go binaries, starts every process and waits until each answers. On error
// everything started is stopped again. Stop the stack with Close.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.AbandonAfter <= 0 {
		o.AbandonAfter = 2 * time.Second
	}
	if o.ReturnMode == "" {
		o.ReturnMode = "get"
	}
	s := &Stack{Lines: &Lines{}, Events: &Events{}, Seen: &Seen{}, AbandonAfter: o.AbandonAfter,
		client: &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirects}}
	if err := s.start(ctx, o); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context, o Options) (err error) {
	// Azurite runs in another folder: a relative root would not find it.
	if o.Root, err = filepath.Abs(o.Root); err != nil {
		return err
	}
	if s.dir, err = os.MkdirTemp("", "stack-"); err != nil {
		return err
	}
	s.SigningKey = randomBytes(32)
	s.FunctionKey = "fk-" + hex.EncodeToString(randomBytes(16))
	s.FaceAPIKey = "face-" + hex.EncodeToString(randomBytes(16))

	s.mirror, s.root = o.Mirror, o.Root
	if err := s.build(ctx, o.Root, o.BuildTags); err != nil {
		return err
	}
	if s.azurite, err = services.StartAzurite(services.AzuriteOptions{Root: o.Root, Output: s.output("azurite", nil, o.Mirror)}); err != nil {
		return err
	}
	s.TablesConnectionString = s.azurite.ConnectionString()
	handlerTables := s.TablesConnectionString
	if o.TablesProxy {
		if s.TablesProxy, handlerTables, err = faultproxy.Front(s.TablesConnectionString); err != nil {
			return err
		}
	}
	if s.sb, err = services.StartServiceBus(services.ServiceBusOptions{Root: o.Root, Output: s.output("servicebus", nil, o.Mirror)}); err != nil {
		return err
	}
	if err := s.Events.start(s.sb.ConnectionString()); err != nil {
		return err
	}

	standinAddr, err := s.startListening(ctx, "standin", []string{"-addr", "127.0.0.1:0", "-api-key", s.FaceAPIKey},
		[]string{"QUICKLINK_RETURN=" + o.ReturnMode, "QUICKLINK_APPEND_PARAMS=" + strconv.FormatBool(o.AppendParams)}, o.Mirror)
	if err != nil {
		return err
	}
	s.StandinURL = "http://" + standinAddr

	// The handler and the demo name each other (PUBLIC_BASE_URL in the demo's links, the demo's
	// origin in RETURN_URL_ALLOWED_ORIGINS), so both ports are picked before either starts.
	handlerPort, err := services.FreePort()
	if err != nil {
		return err
	}
	demoPort, err := services.FreePort()
	if err != nil {
		return err
	}
	s.HandlerURL = "http://127.0.0.1:" + strconv.Itoa(handlerPort)
	s.DemoURL = "http://127.0.0.1:" + strconv.Itoa(demoPort)

	env := []string{
		"FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(handlerPort),
		"QUICKLINK_ENDPOINT=" + s.StandinURL,
		"PUBLIC_BASE_URL=" + s.HandlerURL,
		"CALLBACK_SIGNING_KEYS=" + base64.StdEncoding.EncodeToString(s.SigningKey),
		"RETURN_URL_ALLOWED_ORIGINS=" + s.DemoURL,
		"ABANDON_AFTER_SECONDS=" + strconv.Itoa(int(o.AbandonAfter/time.Second)),
		"TABLES_CONNECTION_STRING=" + handlerTables,
		"TABLES_ENDPOINT=",
		"SERVICEBUS_CONNECTION_STRING=" + s.sb.ConnectionString(),
		"SERVICEBUS_NAMESPACE=",
		"FACE_ENDPOINT=" + s.StandinURL + "/",
		"FACE_API_KEY=" + s.FaceAPIKey,
		"LOG_LEVEL=debug", // the most lines for the secret scan
	}
	s.handlerEnv = append(env, o.HandlerEnv...)
	if err := s.startHandler(ctx); err != nil {
		return err
	}

	if _, err := s.startListening(ctx, "demo", []string{"-addr", "127.0.0.1:" + strconv.Itoa(demoPort),
		"-api", s.HandlerURL, "-function-key", s.FunctionKey, "-public-url", s.DemoURL}, nil, o.Mirror); err != nil {
		return err
	}
	return nil
}

// startHandler starts the handler with handlerEnv (and extra) on its port and waits until it is
// healthy.
func (s *Stack) startHandler(ctx context.Context, extra ...string) error {
	env := append(append([]string(nil), s.handlerEnv...), extra...)
	handler, err := s.startProcess("handler", filepath.Join(s.dir, "handler"), nil, env, nil, s.mirror)
	if err != nil {
		return err
	}
	s.handler = handler
	if err := handler.WaitHealthy(ctx, s.HandlerURL+"/api/health", readyTimeout); err != nil {
		return fmt.Errorf("handler: %w; its output:\n%s", err, handler.Output())
	}
	return nil
}

// build compiles the three Go processes into the stack's temporary folder.
func (s *Stack) build(ctx context.Context, root string, tags []string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building the stack needs the go command: %w", err)
	}
	args := []string{"build", "-o", s.dir + string(filepath.Separator)}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, goBin, append(args, "./cmd/handler", "./cmd/standin", "./cmd/demo")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/handler ./cmd/standin ./cmd/demo: %w\n%s", err, out)
	}
	return nil
}

// output is the writer of one process's output into Lines (and the mirror).
func (s *Stack) output(name string, onLine func(string), mirror io.Writer) io.Writer {
	if mirror != nil {
		next := onLine
		var mu sync.Mutex
		onLine = func(line string) {
			mu.Lock()
			fmt.Fprintf(mirror, "%s: %s\n", name, line)
			mu.Unlock()
			if next != nil {
				next(line)
			}
		}
	}
	w := s.Lines.Writer(name, onLine)
	s.writers = append(s.writers, w)
	return w
}

func (s *Stack) startProcess(name, path string, args, env []string, onLine func(string), mirror io.Writer) (*services.Process, error) {
	p, err := services.Start(services.Command{Name: name, Path: path, Args: args, Env: env, Dir: s.dir,
		Output: s.output(name, onLine, mirror)})
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	return p, nil
}

// startListening starts a process that prints "LISTENING <host:port>" once it accepts
// connections, and returns that address.
func (s *Stack) startListening(ctx context.Context, name string, args, env []string, mirror io.Writer) (string, error) {
	addr := make(chan string, 1)
	onLine := func(line string) {
		if a, ok := strings.CutPrefix(line, "LISTENING "); ok {
			select {
			case addr <- strings.TrimSpace(a):
			default:
			}
		}
	}
	p, err := s.startProcess(name, filepath.Join(s.dir, name), args, env, onLine, mirror)
	if err != nil {
		return "", err
	}
	select {
	case a := <-addr:
		return a, nil
	case <-p.Done():
		return "", &services.ExitError{Name: name, Addr: "127.0.0.1", Err: p.Err(), Output: p.Output()}
	case <-time.After(readyTimeout):
		return "", fmt.Errorf("%s printed no LISTENING line within %v; its output:\n%s", name, readyTimeout, p.Output())
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Close stops every process (the app's first, then the services), the event receiver and
// removes the binaries. Lines keeps what they wrote. Calling it twice is fine.
func (s *Stack) Close() {
	s.stopOnce.Do(func() {
		for i := len(s.procs) - 1; i >= 0; i-- {
			_ = s.procs[i].Stop()
		}
		s.Events.stop()
		if s.sb != nil {
			_ = s.sb.Stop()
		}
		if s.TablesProxy != nil {
			s.TablesProxy.Close()
		}
		if s.azurite != nil {
			_ = s.azurite.Stop()
		}
		for _, w := range s.writers {
			w.Flush()
		}
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand.Read documents it)
	return b
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
