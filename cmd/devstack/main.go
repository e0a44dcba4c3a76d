// Command devstack is `make run` and `make func-start`: the whole app on one machine without an
// Azure account. It starts Azurite, the Face and quick link stand-in and the Service Bus stand-in (package
// services, as the tests do) and the events consumer (cmd/events-tail), whose events it prints,
// then either
//
//   - (make run) the handler on :7071 with the settings of local.settings.json (or its .example),
//     Reconcile on a ticker as the timer trigger would, and the demo app (cmd/demo) on :8080,
//     which starts sessions with a quick link through the handler and is their returnUrl; or
//   - (make func-start, -func <staged app folder>) writes that folder's local.settings.json so it
//     points at the stand-ins and runs Azure Functions Core Tools' `func start` there, when it is
//     installed; the real host then runs the handler and the timer.
//
// Ctrl-C stops every process it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// ports are the loopback ports of the local stack; every one can be chosen. sb is the Service
// Bus stand-in's AMQP port, sbHTTP its counters endpoint's; demo the demo app's, 0 when no demo
// runs.
type ports struct{ app, face, tables, blob, queue, sb, sbHTTP, demo int }

func main() {
	var (
		p          ports
		handlerBin = flag.String("handler", "bin/handler", "path of the built handler binary")
		tailBin    = flag.String("events-tail", "bin/events-tail", "path of the built events consumer (cmd/events-tail)")
		funcApp    = flag.String("func", "", "a staged app `folder` to run with Core Tools' func start instead of the handler")
		reconcile  = flag.Duration("reconcile-every", time.Minute, "how often Reconcile runs (without -func)")
		demoBin    = flag.String("demo", "", "path of the built demo app (cmd/demo), started after the handler (without -func)")
	)
	flag.IntVar(&p.app, "port", defaultPorts.app, "the app's port")
	flag.IntVar(&p.face, "face-port", defaultPorts.face, "Face stand-in port")
	flag.IntVar(&p.tables, "tables-port", defaultPorts.tables, "Azurite table service port")
	flag.IntVar(&p.blob, "blob-port", defaultPorts.blob, "Azurite blob service port (with -func: the host's storage)")
	flag.IntVar(&p.queue, "queue-port", defaultPorts.queue, "Azurite queue service port (with -func)")
	flag.IntVar(&p.sb, "servicebus-port", defaultPorts.sb, "Service Bus stand-in AMQP port")
	flag.IntVar(&p.sbHTTP, "servicebus-http-port", defaultPorts.sbHTTP, "Service Bus stand-in counters port")
	flag.IntVar(&p.demo, "demo-port", defaultPorts.demo, "the demo app's port (with -demo)")
	flag.Parse()
	if *demoBin == "" || *funcApp != "" {
		p.demo = 0
	}
	// SIGHUP too: a closed terminal must stop the stack like Ctrl-C, not orphan it.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	var err error
	if *funcApp != "" {
		err = runFunc(ctx, log, *funcApp, *tailBin, p)
	} else {
		err = runHandler(ctx, log, *handlerBin, *tailBin, *demoBin, p, *reconcile)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

// runHandler is `make run`: the handler, then the demo app (demoBin, when set) in front of it.
func runHandler(ctx context.Context, log *slog.Logger, handlerBin, tailBin, demoBin string, p ports, every time.Duration) error {
	st, err := startStandIns(log, p, false, tailBin)
	if err != nil {
		return err
	}
	defer st.stop(log)
	settings := st.settings
	settings["FUNCTIONS_CUSTOMHANDLER_PORT"] = fmt.Sprint(p.app)
	handler, err := st.startChild("handler", handlerBin, nil, "", settings)
	if err != nil {
		return err
	}
	if err := handler.WaitHealthy(ctx, fmt.Sprintf("http://127.0.0.1:%d/api/health", p.app), 30*time.Second); err != nil {
		return fmt.Errorf("handler: %w", err)
	}
	appURL := fmt.Sprintf("http://localhost:%d", p.app)
	if demoBin != "" {
		if err := st.startDemo(ctx, demoBin, fmt.Sprintf("http://127.0.0.1:%d", p.app), p.demo); err != nil {
			return err
		}
	}
	printWelcome(appURL, st, "", p.demo)
	go reconcileLoop(ctx, log, fmt.Sprintf("http://127.0.0.1:%d/Reconcile", p.app), every)
	return st.wait(ctx)
}
