// Command standin serves the stand-ins of Azure services that are Go code (the Face v1.2 liveness
// stand-in, internal/standin/facestub, today; the quick link stand-in next) for local runs and for
// tests in other processes. It prints "LISTENING <host:port>" on stdout once it accepts connections.
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
	"syscall"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
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
	if err := fs.Parse(args); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	stub := facestub.New(&facestub.Options{APIKey: *apiKey, Logger: log})
	srv := &http.Server{Handler: stub, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "LISTENING %s\n", ln.Addr())
	log.Info("standin listening", "addr", ln.Addr().String(), "apiKeyRequired", *apiKey != "")

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
