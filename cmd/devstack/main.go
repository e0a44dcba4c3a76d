// Command devstack is `make run`: the whole app on one machine without an Azure account. It starts
// Azurite (tables), the Face stand-in, and the handler on :7071 with the settings of
// local.settings.json (or its .example), runs Reconcile on a ticker as the timer would, and stops
// every child process on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

func main() {
	var (
		handlerBin = flag.String("handler", "bin/handler", "path of the built handler binary")
		tablesPort = flag.Int("tables-port", 10002, "Azurite table service port")
		facePort   = flag.Int("face-port", 7072, "Face stand-in port")
		appPort    = flag.Int("port", 7071, "handler port")
		reconcile  = flag.Duration("reconcile-every", time.Minute, "how often Reconcile runs")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	if err := run(ctx, log, *handlerBin, *tablesPort, *facePort, *appPort, *reconcile); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, handlerBin string, tablesPort, facePort, appPort int, every time.Duration) error {
	settings, source, err := loadSettings()
	if err != nil {
		return err
	}
	log.Info("settings", slog.String("from", source))

	var procs children
	defer procs.stopAll(log)

	azurite := filepath.Join("node_modules", "azurite", "dist", "src", "table", "main.js")
	if _, err := os.Stat(azurite); err != nil {
		return fmt.Errorf("%s is missing: run `npm ci` (make run does)", azurite)
	}
	if err := procs.start(ctx, "azurite", nil, "node", azurite,
		"--inMemoryPersistence", "--tableHost", "127.0.0.1", "--tablePort", fmt.Sprint(tablesPort),
		"--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"); err != nil {
		return err
	}
	if err := waitPort(ctx, fmt.Sprintf("127.0.0.1:%d", tablesPort), 30*time.Second); err != nil {
		return fmt.Errorf("azurite: %w", err)
	}

	stub := facestub.New(&facestub.Options{APIKey: settings["FACE_API_KEY"]})
	defer stub.Close()
	faceSrv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", facePort), Handler: stub, ReadHeaderTimeout: 10 * time.Second}
	faceLn, err := net.Listen("tcp", faceSrv.Addr)
	if err != nil {
		return fmt.Errorf("face stand-in: %w", err)
	}
	go func() { _ = faceSrv.Serve(faceLn) }()
	defer faceSrv.Close()

	faceURL := fmt.Sprintf("http://127.0.0.1:%d", facePort)
	appURL := fmt.Sprintf("http://localhost:%d", appPort)
	settings["FACE_ENDPOINT"] = faceURL
	settings["QUICKLINK_ENDPOINT"] = faceURL
	settings["TABLES_CONNECTION_STRING"] = azuriteConnectionString(tablesPort)
	settings["TABLES_ENDPOINT"] = ""
	settings["FUNCTIONS_CUSTOMHANDLER_PORT"] = fmt.Sprint(appPort)
	if err := procs.start(ctx, "handler", settings, handlerBin); err != nil {
		return err
	}
	if err := waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/api/health", appPort), 30*time.Second); err != nil {
		return fmt.Errorf("handler: %w", err)
	}
	printWelcome(appURL, faceURL)

	go reconcileLoop(ctx, log, fmt.Sprintf("http://127.0.0.1:%d/Reconcile", appPort), every)

	select {
	case <-ctx.Done():
		log.Info("stopping")
		return nil
	case exit := <-procs.exited:
		return fmt.Errorf("%s exited: %w", exit.name, exit.err)
	}
}

func azuriteConnectionString(port int) string {
	// Azurite's published development account key: a public constant, not a secret.
	const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;TableEndpoint=http://127.0.0.1:%d/devstoreaccount1;", key, port)
}

func printWelcome(appURL, faceURL string) {
	fmt.Printf(`
Liveness Quick Link is running locally.
  handler        %[1]s   (function keys are not enforced locally)
  Face stand-in  %[2]s   (POST %[2]s/_stub/sessions/$id/attempts finishes a session)

Try it (start, read, cancel a session):
%[3]s
%[4]s
%[5]s

Ctrl-C stops everything.
`, appURL, faceURL, curlLines(appURL)[0], curlLines(appURL)[1], curlLines(appURL)[2])
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

func waitPort(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting connections after %s", addr, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitHTTP(ctx context.Context, url string, limit time.Duration) error {
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
			return errors.New(url + " not healthy in time")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
