// Command standin serves the stand-ins of Azure services that are Go code, on one listener, for
// local runs and for tests in other processes: the Face v1.2 liveness stand-in
// (internal/standin/facestub) under /face/ with its controls under /_stub/, and the quick link
// stand-in (internal/standin/quicklinkstub: /api/quicklink, the capture page at /, /capture/,
// controls under /_quicklink/) on every other path, so QUICKLINK_ENDPOINT is the same base URL as
// FACE_ENDPOINT. It prints "LISTENING <host:port>" on stdout once it accepts connections.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/standin/quicklinkstub"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, log); err != nil {
		log.Error("standin failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("standin", flag.ContinueOnError)
	addr := fs.String("addr", envOr("FACESTUB_ADDR", "127.0.0.1:0"), "listen address (env FACESTUB_ADDR)")
	apiKey := fs.String("api-key", os.Getenv("FACESTUB_API_KEY"),
		"the only Ocp-Apim-Subscription-Key accepted; empty accepts any (env FACESTUB_API_KEY)")
	returnMode := fs.String("quicklink-return", envOr("QUICKLINK_RETURN", string(quicklinkstub.ReturnGet)),
		"how a capture returns the browser to callbackUrl: get (303 redirect) or post (auto-submitted form) (env QUICKLINK_RETURN)")
	appendDefault, err := envBool("QUICKLINK_APPEND_PARAMS")
	if err != nil {
		return err
	}
	appendParams := fs.Bool("quicklink-append-params", appendDefault,
		"add sessionId, result and timestamp to the return to callbackUrl (env QUICKLINK_APPEND_PARAMS=true|false)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mode, err := quicklinkstub.ParseReturnMode(*returnMode)
	if err != nil {
		return fmt.Errorf("-quicklink-return: %w", err)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	stub := facestub.New(&facestub.Options{APIKey: *apiKey, Logger: log})
	quick := quicklinkstub.New(stub, &quicklinkstub.Options{Logger: log,
		Settings: quicklinkstub.Settings{ReturnMode: mode, AppendParams: *appendParams}})
	srv := &http.Server{Handler: quicklinkstub.Beside(stub, quick), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "LISTENING %s\n", ln.Addr())
	log.Info("standin listening", "addr", ln.Addr().String(), "apiKeyRequired", *apiKey != "",
		"quicklinkReturn", string(mode), "quicklinkAppendParams", *appendParams)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stub.Close() // hung requests would otherwise hold Shutdown until its deadline
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("standin stopped")
	return nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// envBool reads a true|false variable; unset or empty is false.
func envBool(name string) (bool, error) {
	v := os.Getenv(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q is not true or false", name, v)
	}
	return b, nil
}
