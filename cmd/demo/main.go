// Command demo plays "your app" for a local run (design §8): a page whose button starts a liveness
// session server-side through the function API (with a quick link and its QR code), a page that
// shows the link and the QR code and polls the session's status, and the returnUrl page that
// shows GetSession's final status and outcome. It prints "LISTENING <host:port>" on stdout once
// it accepts connections.
//
// Flags (and environment): -addr (DEMO_ADDR, default 127.0.0.1:8080), -api (DEMO_API_URL, the
// function app's base URL, required), -function-key (DEMO_FUNCTION_KEY, sent as x-functions-key),
// -public-url (DEMO_PUBLIC_URL, default http://<listen address>).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, log); err != nil {
		log.Error("demo failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	flags := flag.NewFlagSet("demo", flag.ContinueOnError)
	addr := flags.String("addr", envOr("DEMO_ADDR", "127.0.0.1:8080"), "listen address (env DEMO_ADDR)")
	apiURL := flags.String("api", os.Getenv("DEMO_API_URL"), "the function app's base URL, e.g. http://localhost:7071 (env DEMO_API_URL; required)")
	key := flags.String("function-key", os.Getenv("DEMO_FUNCTION_KEY"), "function key sent as x-functions-key (env DEMO_FUNCTION_KEY; optional)")
	public := flags.String("public-url", os.Getenv("DEMO_PUBLIC_URL"), "the demo's URL as browsers reach it (env DEMO_PUBLIC_URL; default http://<listen address>)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	base, err := baseURL("-api", *apiURL)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	publicURL := "http://" + ln.Addr().String()
	if *public != "" {
		if publicURL, err = baseURL("-public-url", *public); err != nil {
			ln.Close()
			return err
		}
	}
	d := &demo{
		api:       &apiClient{base: base, functionKey: *key, http: &http.Client{Timeout: apiTimeout}},
		publicURL: publicURL,
		links:     newLinkStore(time.Now),
		log:       log,
	}
	srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "LISTENING %s\n", ln.Addr())
	log.Info("demo listening", slog.String("addr", ln.Addr().String()), slog.String("publicUrl", publicURL),
		slog.String("api", base), slog.Bool("functionKey", *key != ""))

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("demo stopped")
	return nil
}

// baseURL checks that s is an absolute http(s) URL with nothing after its path, and returns it
// without a trailing slash.
func baseURL(flagName, s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%s is required", flagName)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%s %q: want an absolute http or https URL without user, query or fragment", flagName, s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// mustSub is dir of the embedded web files.
func mustSub(dir string) fs.FS {
	sub, err := fs.Sub(webFiles, dir)
	if err != nil {
		panic(err) // the folder is embedded at build time
	}
	return sub
}
