package stack

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// Handler is the running handler process (a new one after RestartHandler).
func (s *Stack) Handler() *services.Process { return s.handler }

// KillHandler ends the handler with SIGKILL, as the Functions host does past functionTimeout:
// no request in it finishes, nothing is closed.
func (s *Stack) KillHandler() error { return s.handler.Kill() }

// RestartHandler stops the handler (SIGTERM; nothing when it is gone already) and starts it again
// on the same port with the same settings plus extra ("NAME=value", later entries win), then
// waits until it is healthy.
func (s *Stack) RestartHandler(ctx context.Context, extra ...string) error {
	if err := s.handler.Stop(); err != nil {
		return fmt.Errorf("stopping the handler: %w", err)
	}
	return s.startHandler(ctx, extra...)
}

// ServiceBus is the Service Bus stand-in now running (a new one after StartServiceBus), for its
// fault switches (Detach, DropConnections) and counters.
func (s *Stack) ServiceBus() *services.ServiceBus { return s.sb }

// StopServiceBus stops the Service Bus stand-in; its messages are gone. The handler and the
// event receiver meet a closed port until StartServiceBus.
func (s *Stack) StopServiceBus() error { return s.sb.Stop() }

// StartServiceBus starts the Service Bus stand-in again on the ports it had, and the event
// receiver again on a new connection (the old one died with the stand-in).
func (s *Stack) StartServiceBus() error {
	sb, err := services.StartServiceBus(services.ServiceBusOptions{Root: s.root, Port: s.sb.Port, HTTPPort: s.sb.HTTPPort,
		Output: s.output("servicebus", nil, s.mirror)})
	if err != nil {
		return err
	}
	s.sb = sb
	return s.Events.restart(sb.ConnectionString())
}

// WaitLine waits until a line of the process named name (as Lines labels it) contains substr,
// and returns it; an error when limit passes or ctx ends first.
func (s *Stack) WaitLine(ctx context.Context, name, substr string, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	for {
		for _, line := range s.Lines.All() {
			if rest, ok := strings.CutPrefix(line, name+": "); ok && strings.Contains(rest, substr) {
				return rest, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no %s line with %q within %v", name, substr, limit)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
