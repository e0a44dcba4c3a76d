// Command handler is the Azure Functions custom handler: the Functions host starts it, sets
// FUNCTIONS_CUSTOMHANDLER_PORT and forwards every invocation to it over HTTP.
package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/liveness-quicklink/functions/handlers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, os.Stderr); err != nil {
		// One JSON line on stderr, so the host logs it as an Error; the message names settings,
		// never their values.
		newLogger(slog.LevelInfo, os.Stdout, os.Stderr).Error("handler stopped", slog.String("error", err.Error()))
		os.Exit(1)
	}
}

// run serves until ctx ends. It listens before it builds anything, because the host gives the
// handler only a few seconds to answer its first GET /. It logs ERROR lines to stderr and the
// rest to stdout (see newLogger).
//
// The host never ends the handler gracefully: it stops (and past functionTimeout restarts) it
// with SIGKILL. Nothing here may depend on the SIGTERM path below, which serves `make run`.
func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel, stdout, stderr)

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	gate := newStartGate(startWait, handlers.Starting(log))
	srv := newServer(gate, log, handlerLimits())
	srv.RegisterOnShutdown(gate.stop)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("handler listening", slog.String("addr", ln.Addr().String()))

	// build's goroutine ends before the publisher it made is closed: shutdown cancels buildCtx,
	// waits for buildDone, then reads closePublisher (nil when build never succeeded).
	buildCtx, cancelBuild := context.WithCancel(ctx)
	defer cancelBuild()
	buildDone := make(chan struct{})
	var closePublisher func(context.Context) error
	go func() {
		defer close(buildDone)
		// A dependency that is not there yet (a new identity's roles take minutes to apply) is
		// retried with backoff; meanwhile the gate answers 503.
		delay := time.Second
		for {
			h, closePub, err := build(buildCtx, cfg, log)
			if err == nil {
				closePublisher = closePub
				gate.open(h)
				return
			}
			log.Error("start-up failed; retrying", slog.String("error", err.Error()), slog.Duration("retryIn", delay))
			select {
			case <-buildCtx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 30*time.Second)
		}
	}()
	// Runs once the HTTP server no longer serves, so no request is left to publish.
	release := func() {
		cancelBuild()
		ctx, cancel := context.WithTimeout(context.Background(), publisherCloseTimeout)
		defer cancel()
		select {
		case <-buildDone:
		case <-ctx.Done():
			log.Warn("start-up did not end in time; the Service Bus publisher may be left open")
			return
		}
		if closePublisher == nil {
			return
		}
		if err := closePublisher(ctx); err != nil {
			log.Warn("Service Bus publisher not closed cleanly", slog.String("error", err.Error()))
			return
		}
		log.Info("Service Bus publisher closed")
	}

	select {
	case err := <-served:
		release()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Requests still running after the grace period are cut off: the work that must survive
		// a caller (recording a created or deleted Face session) is bounded and detached.
		log.Warn("shutdown grace period over; closing open connections", slog.String("error", err.Error()))
		_ = srv.Close()
	}
	err = <-served
	// Only now: a request still running could have an event to send.
	release()
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// shutdownGrace is how long requests in flight at SIGTERM may take to finish; new connections are
// refused from the start of it. A request still running after it is cut.
const shutdownGrace = 10 * time.Second

// publisherCloseTimeout bounds closing the Service Bus connection on shutdown (an AMQP close and
// its answer; a namespace that does not answer must not hold the exit).
const publisherCloseTimeout = 5 * time.Second
