package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/liveness-quicklink/functions/internal/config"
)

// probeTimeout bounds one reachability probe, and so how long a tail pointed at a silent address
// (a listener that never speaks, a black-holing path) stays quiet before it says so.
const probeTimeout = 10 * time.Second

// newProbe returns a check that opens and closes one AMQP connection to the namespace, with SASL
// ANONYMOUS as azservicebus itself opens it (claims go over CBS afterwards): it presents no
// credential, so neither it nor its errors can hold one. Plain amqp:// when the connection
// string has UseDevelopmentEmulator=true (the SDK's rule), else amqps://; the default ports are
// go-amqp's (5672, 5671), as for the SDK's own dial.
//
// Why a probe of our own: the SDK retries a failed dial inside each receive, so a receive window
// on an unreachable namespace ends with context.DeadlineExceeded, just as an idle one does.
func newProbe(s settings) (func(context.Context) error, error) {
	host, plain := s.namespace, false
	if s.connectionString != "" {
		ep, err := config.ServiceBusEndpoint(s.connectionString)
		switch {
		case err != nil:
			return nil, fmt.Errorf("SERVICEBUS_CONNECTION_STRING %w", err)
		case ep.Host == "":
			return nil, errors.New("SERVICEBUS_CONNECTION_STRING: no Endpoint")
		}
		host, plain = ep.Host, ep.Emulator
	}
	scheme := "amqps://"
	if plain {
		scheme = "amqp://"
	}
	addr := scheme + host
	return func(ctx context.Context) error {
		conn, err := amqp.Dial(ctx, addr, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
		if err != nil {
			return fmt.Errorf("AMQP connection to %s: %w", addr, err)
		}
		_ = conn.Close()
		return nil
	}, nil
}

// reachability says once when Service Bus cannot be reached, and once when it can again.
type reachability struct {
	probe func(context.Context) error
	log   *slog.Logger
	down  bool
}

// check probes within probeTimeout. A tail keeps trying rather than exit: like `tail -F` on a
// file that went away, it is left running next to a namespace (or a local stand-in) that may come
// back, and make run would otherwise have to restart it; what the user needs is to be told, once,
// rather than see silence.
func (rc *reachability) check(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	err := rc.probe(pctx)
	cancel()
	switch {
	case ctx.Err() != nil:
	case err != nil && !rc.down:
		rc.down = true
		rc.log.Warn("events-tail: cannot reach Service Bus; still trying", "error", err)
	case err == nil && rc.down:
		rc.down = false
		rc.log.Info("events-tail: Service Bus reached again")
	}
}
