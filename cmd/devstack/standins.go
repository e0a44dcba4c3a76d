package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// stack is the running stand-ins and the processes started beside them.
type stack struct {
	azurite  *services.Azurite
	face     *facestub.Server
	faceSrv  *http.Server
	faceURL  string
	settings map[string]string // the app settings, pointed at the stand-ins
	children []*services.Process
	exited   chan string // the name of a child that exited
}

// startStandIns starts Azurite (with the blob and queue services the Functions host needs when
// hostStorage is set) and the Face stand-in, and points the settings of local.settings.json at them.
func startStandIns(log *slog.Logger, p ports, hostStorage bool) (*stack, error) {
	settings, source, err := loadSettings()
	if err != nil {
		return nil, err
	}
	log.Info("settings", slog.String("from", source))
	root, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	st := &stack{settings: settings, exited: make(chan string, 8)}
	st.azurite, err = services.StartAzurite(services.AzuriteOptions{
		Root: root, TablePort: p.tables, BlobAndQueue: hostStorage, BlobPort: p.blob, QueuePort: p.queue,
		Output: prefixed("azurite"),
	})
	if err != nil {
		return nil, err
	}
	st.watch("azurite", st.azurite.Process())

	st.face = facestub.New(&facestub.Options{APIKey: settings["FACE_API_KEY"]})
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.face))
	if err != nil {
		st.stop(log)
		return nil, fmt.Errorf("face stand-in: %w", err)
	}
	st.faceSrv = &http.Server{Handler: st.face, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = st.faceSrv.Serve(ln) }()
	st.faceURL = fmt.Sprintf("http://127.0.0.1:%d", p.face)

	settings["FACE_ENDPOINT"] = st.faceURL
	settings["QUICKLINK_ENDPOINT"] = st.faceURL
	settings["TABLES_CONNECTION_STRING"] = st.azurite.ConnectionString()
	settings["TABLES_ENDPOINT"] = ""
	settings["PUBLIC_BASE_URL"] = fmt.Sprintf("http://localhost:%d", p.app)
	return st, nil
}

// startChild starts a process whose output is printed with its name, and watches it.
func (st *stack) startChild(name, path string, args []string, dir string, env map[string]string) (*services.Process, error) {
	var vars []string
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	p, err := services.Start(services.Command{Name: name, Path: path, Args: args, Dir: dir, Env: vars, Output: prefixed(name)})
	if err != nil {
		return nil, err
	}
	st.children = append(st.children, p)
	st.watch(name, p)
	return p, nil
}

func (st *stack) watch(name string, p *services.Process) {
	go func() {
		<-p.Done()
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
	log.Info("all processes stopped")
}

// waitHealthy polls url until it answers 200, the process exits or limit passes.
func waitHealthy(ctx context.Context, url string, p *services.Process, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy within %v", url, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.Done():
			return fmt.Errorf("exited before it was healthy: %v", p.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stdoutMu keeps the lines of concurrent children whole.
var stdoutMu sync.Mutex

// prefixed returns a writer that prints each line it is given as "name | line".
func prefixed(name string) io.Writer {
	r, w := io.Pipe()
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			stdoutMu.Lock()
			fmt.Printf("%-8s| %s\n", name, sc.Text())
			stdoutMu.Unlock()
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	return w
}

func printWelcome(appURL, faceURL, extra string) {
	lines := curlLines(appURL)
	fmt.Printf(`
Liveness Quick Link is running locally.
  app            %[1]s   (function keys are not enforced locally)
  Face stand-in  %[2]s   (POST %[2]s/_stub/sessions/$id/attempts finishes a session)
%[6]s
Try it (start, read, cancel a session):
%[3]s
%[4]s
%[5]s

Ctrl-C stops everything.
`, appURL, faceURL, lines[0], lines[1], lines[2], extra)
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
