package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/standin/quicklinkstub"
	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// stack is the running stand-ins and the processes started beside them.
type stack struct {
	azurite  *services.Azurite
	face     *facestub.Server
	faceSrv  *http.Server
	faceURL  string
	sb       *services.ServiceBus
	settings map[string]string // the app settings, pointed at the stand-ins
	children []*services.Process
	exited   chan string // the name of a child that exited
	tailBin  string      // the events consumer's path, as given (-events-tail), for tailCommand
	stopping atomic.Bool // set once stop begins: exits from then on are expected
}

// startStandIns starts Azurite (with the blob and queue services the Functions host needs when
// hostStorage is set), the Face and quick link stand-in and the Service Bus stand-in, points the
// settings of local.settings.json at them (and, when p.demo is set, allows the demo's origin as a
// returnUrl), and starts the events consumer tailBin on the events topic.
func startStandIns(log *slog.Logger, p ports, hostStorage bool, tailBin string) (*stack, error) {
	if err := checkPorts(p, hostStorage); err != nil {
		return nil, err
	}
	settings, source, err := loadSettings()
	if err != nil {
		return nil, err
	}
	log.Info("settings", slog.String("from", source))
	followPorts(settings, p)
	root, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	st := &stack{settings: settings, exited: make(chan string, 8)}
	out := prefixed("azurite")
	st.azurite, err = services.StartAzurite(services.AzuriteOptions{
		Root: root, TablePort: p.tables, BlobAndQueue: hostStorage, BlobPort: p.blob, QueuePort: p.queue,
		Output: out,
	})
	if err != nil {
		out.Close()
		return nil, err
	}
	st.watch("azurite", st.azurite.Process(), out)

	st.face = facestub.New(&facestub.Options{APIKey: settings["FACE_API_KEY"]})
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.face))
	if err != nil {
		st.stop(log)
		return nil, fmt.Errorf("face stand-in: %w", err)
	}
	st.faceSrv = &http.Server{Handler: quicklinkstub.Beside(st.face, quicklinkstub.New(st.face, nil)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = st.faceSrv.Serve(ln) }()
	st.faceURL = fmt.Sprintf("http://127.0.0.1:%d", p.face)

	settings["FACE_ENDPOINT"] = st.faceURL
	settings["TABLES_CONNECTION_STRING"] = st.azurite.ConnectionString()
	settings["TABLES_ENDPOINT"] = ""
	demo := ""
	if p.demo != 0 {
		demo = demoURL(p.demo)
	}
	if err := flowSettings(settings, source == exampleSettings, st.faceURL, fmt.Sprintf("http://localhost:%d", p.app), demo, os.Getenv); err != nil {
		st.stop(log)
		return nil, err
	}
	if err := st.startServiceBus(root, p); err != nil {
		st.stop(log)
		return nil, fmt.Errorf("Service Bus stand-in: %w", err)
	}
	if err := st.startEventsTail(log, tailBin); err != nil {
		st.stop(log)
		return nil, err
	}
	return st, nil
}

// startChild starts a process whose output is printed with its name, and watches it.
func (st *stack) startChild(name, path string, args []string, dir string, env map[string]string) (*services.Process, error) {
	var vars []string
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	out := prefixed(name)
	p, err := services.Start(services.Command{Name: name, Path: path, Args: args, Dir: dir, Env: vars, Output: out})
	if err != nil {
		out.Close()
		return nil, err
	}
	st.children = append(st.children, p)
	st.watch(name, p, out)
	return p, nil
}

// watch reports p's exit to wait, once its output (which may end without a newline) is printed.
func (st *stack) watch(name string, p *services.Process, out io.Closer) {
	go func() {
		<-p.Done()
		out.Close()
		st.exited <- name
	}()
}

// wait returns when ctx ends (Ctrl-C) or when a process exits on its own.
func (st *stack) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case name := <-st.exited:
		return fmt.Errorf("%s exited", name)
	}
}

// stop stops the children first (they use the stand-ins), then the stand-ins.
func (st *stack) stop(log *slog.Logger) {
	log.Info("stopping")
	st.stopping.Store(true)
	for i := len(st.children) - 1; i >= 0; i-- {
		_ = st.children[i].Stop()
	}
	if st.faceSrv != nil {
		st.face.Close() // releases requests a fault holds
		_ = st.faceSrv.Close()
	}
	if st.azurite != nil {
		_ = st.azurite.Stop()
	}
	if st.sb != nil {
		_ = st.sb.Stop()
	}
	log.Info("all processes stopped")
}

// stdoutMu keeps the lines of concurrent children whole.
var stdoutMu sync.Mutex

// maxLine bounds a printed line; a longer one is cut there, and the rest printed as more lines.
const maxLine = 64 << 10

// prefixed returns a writer that prints each line it is given as "name | line". Close it once the
// writer is done: Close returns once everything, a last line without a newline too, is printed.
func prefixed(name string) io.WriteCloser {
	r, w := io.Pipe()
	p := &linePrinter{w: w, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		br := bufio.NewReaderSize(r, maxLine)
		for {
			line, err := br.ReadSlice('\n')
			if len(line) > 0 {
				stdoutMu.Lock()
				fmt.Printf("%-8s| %s\n", name, bytes.TrimRight(line, "\r\n"))
				stdoutMu.Unlock()
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return
			}
		}
	}()
	return p
}

type linePrinter struct {
	w    *io.PipeWriter
	done chan struct{}
}

func (p *linePrinter) Write(b []byte) (int, error) { return p.w.Write(b) }

func (p *linePrinter) Close() error {
	err := p.w.Close()
	<-p.done
	return err
}

// printWelcome prints the stack's addresses; with a demo on demoPort (0: none), first how to try
// the whole flow in a browser.
func printWelcome(appURL string, st *stack, extra string, demoPort int) {
	if demoPort != 0 {
		fmt.Printf(`
Open %s and press Start: the demo app (your app) starts a session through the app, shows its
quick link and QR code; the link opens the stand-in's capture page, whose buttons record an outcome
and send the browser back to the demo, which shows the result. Each event is printed below.
`, demoURL(demoPort))
	}
	fmt.Printf(`
Liveness Quick Link is running locally.
  app            %[1]s   (function keys are not enforced locally)
  Face stand-in  %[2]s   (also the quick link stand-in; finish a session by hand: curl -s -X POST %[2]s/_stub/sessions/$id/attempts -d '{"status":"Succeeded","decision":"realface"}')
  Service Bus    amqp://127.0.0.1:%[3]d   topic %[4]s (counters: curl -s http://127.0.0.1:%[5]d/counters)
  events         each event on subscription %[6]q is printed below as it happens: "event   | {...}"
                 another subscription (%[8]s: passed = false only), by hand in another shell:
  %[9]s
%[7]s`, appURL, st.faceURL, st.sb.Port, st.settings["SERVICEBUS_ENTITY"], st.sb.HTTPPort, tailSubscription, extra,
		handSubscription, st.tailCommand(handSubscription))
	printTryIt(appURL)
}

// printTryIt prints the copy-paste lines and the last line, which tests wait for.
func printTryIt(appURL string) {
	lines := curlLines(appURL)
	fmt.Printf(`
Try it (start, read, cancel a session):
%s
%s
%s

Ctrl-C stops everything.
`, lines[0], lines[1], lines[2])
}

// curlLines are the three copy-paste commands printed at start; the first keeps the session id in
// $id for the other two.
func curlLines(appURL string) [3]string {
	return [3]string{
		`id=$(curl -s -X POST ` + appURL + `/api/sessions -H 'Content-Type: application/json' -d '{"externalReference":"order-42"}' | sed -E 's/.*"sessionId":"([^"]+)".*/\1/'); echo "$id"`,
		`curl -s ` + appURL + `/api/sessions/$id`,
		`curl -s -X DELETE ` + appURL + `/api/sessions/$id`,
	}
}
