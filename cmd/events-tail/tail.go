package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
)

// receiver is what run needs of an *azservicebus.Receiver in peek-lock mode.
type receiver interface {
	ReceiveMessages(ctx context.Context, maxMessages int, options *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	CompleteMessage(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.CompleteMessageOptions) error
	DeadLetterMessage(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.DeadLetterOptions) error
}

var _ receiver = (*azservicebus.Receiver)(nil)

const (
	// batch is the most messages one receive asks for, and so the credit left on the link after
	// it. One, because the SDK releases whatever arrives on leftover credit between two receives,
	// and a released message comes back with its delivery count raised (observed with the
	// stand-in: a second message sent during the first's settlement was delivered twice).
	batch = 1
	// receiveWait bounds one receive call: an idle subscription ends it with no message, and the
	// loop goes round again, so no call waits on a link that went quiet for good.
	receiveWait = 30 * time.Second
	// settleTimeout bounds each complete and dead-letter, and the closes on the way out. Settling
	// does not use the run's context: a message already printed should be completed even while
	// the tail stops, rather than come back after its lock expires.
	settleTimeout = 10 * time.Second
	// backoffMax caps the wait after a receive error the SDK gave up retrying (connection lost,
	// say); the wait starts at one second and doubles.
	backoffMax = 30 * time.Second
	// deadLetterReason is the DeadLetterReason of a message that is not a structured CloudEvent;
	// its ErrorDescription says what is missing, never what the body holds.
	deadLetterReason = "NotACloudEvent"
)

// run receives until ctx ends, then returns nil. Each message that is a structured CloudEvent
// (checkCloudEvent) is written to stdout as one compact JSON line, then completed; any other is
// dead-lettered with deadLetterReason. A settlement that fails is logged and left to the lock: the
// message comes back and is printed again (at least once, as Service Bus delivers anyway).
// It returns an error when stdout cannot be written (the message is not completed) or when the
// entity is missing or access is denied (nothing a retry mends); other receive errors are logged
// and retried after a backoff. Whether Service Bus can be reached at all is probed (reach) at the
// start and after every receive window that ended empty: such a window looks the same whether the
// subscription was idle or the SDK spent it retrying a dial, and only the probe tells them apart.
func run(ctx context.Context, r receiver, reach func(context.Context) error, stdout io.Writer, log *slog.Logger) error {
	rc := &reachability{probe: reach, log: log}
	rc.check(ctx)
	backoff := time.Second
	for ctx.Err() == nil {
		wait, cancel := context.WithTimeout(ctx, receiveWait)
		msgs, err := r.ReceiveMessages(wait, batch, nil)
		cancel()
		// The SDK returns messages without an error when some arrived before a cancel; handle them.
		for _, m := range msgs {
			if err := handle(ctx, r, m, stdout, log); err != nil {
				return err
			}
		}
		switch {
		case ctx.Err() != nil:
			continue
		case err == nil, errors.Is(err, context.DeadlineExceeded):
			backoff = time.Second
			if len(msgs) == 0 {
				rc.check(ctx)
			}
			continue
		case permanent(err):
			return fmt.Errorf("receiving: %w", err)
		}
		log.Warn("events-tail: receive failed; trying again", "error", err, "after", backoff.String())
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, backoffMax)
	}
	return nil
}

// handle prints and completes one message, or dead-letters it.
func handle(ctx context.Context, r receiver, m *azservicebus.ReceivedMessage, stdout io.Writer, log *slog.Logger) error {
	settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	attrs := []any{"messageId", m.MessageID, "deliveryCount", m.DeliveryCount}
	if m.SequenceNumber != nil {
		attrs = append(attrs, "sequenceNumber", *m.SequenceNumber)
	}
	line, problem := checkCloudEvent(m.Body)
	if problem != "" {
		err := r.DeadLetterMessage(settle, m, &azservicebus.DeadLetterOptions{
			Reason: to.Ptr(deadLetterReason), ErrorDescription: to.Ptr(problem)})
		if err != nil {
			log.Warn("events-tail: dead-lettering failed; the message comes back when its lock expires",
				append(attrs, "problem", problem, "error", err)...)
			return nil
		}
		log.Warn("events-tail: dead-lettered a message that is not a CloudEvent",
			append(attrs, "reason", deadLetterReason, "problem", problem)...)
		return nil
	}
	if _, err := stdout.Write(line); err != nil {
		return fmt.Errorf("writing an event to stdout: %w", err)
	}
	if err := r.CompleteMessage(settle, m, nil); err != nil {
		log.Warn("events-tail: completing failed; the event comes back when its lock expires",
			append(attrs, "error", err)...)
	}
	return nil
}

// permanent reports the receive errors a retry does not mend. A missing entity reaches us as
// the link's amqp:not-found error: azservicebus v1.11.0 maps only management answers to
// CodeNotFound.
func permanent(err error) bool {
	var sbErr *azservicebus.Error
	if errors.As(err, &sbErr) && (sbErr.Code == azservicebus.CodeNotFound || sbErr.Code == azservicebus.CodeUnauthorizedAccess) {
		return true
	}
	var amqpErr *amqp.Error
	return errors.As(err, &amqpErr) && (amqpErr.Condition == amqp.ErrCondNotFound || amqpErr.Condition == amqp.ErrCondUnauthorizedAccess)
}

// checkCloudEvent accepts a body that is a structured-mode CloudEvent 1.0: a JSON object whose
// specversion is "1.0" and whose id, type and source are non-empty strings (the required
// attributes of the CloudEvents spec; the rest is the producer's business, so later members pass).
// It returns the body compacted to one line plus a newline, members and values as received, or
// else why the body is refused, in words that quote nothing of it.
func checkCloudEvent(body []byte) (line []byte, problem string) {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, "the body is not a JSON object"
	}
	for _, name := range []string{"specversion", "id", "type", "source"} {
		var v string
		if raw, ok := ev[name]; !ok || json.Unmarshal(raw, &v) != nil || v == "" {
			return nil, fmt.Sprintf("no %s string", name)
		}
		if name == "specversion" && v != "1.0" {
			return nil, "specversion is not 1.0"
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		return nil, "the body is not a JSON object" // unreachable: Unmarshal accepted it
	}
	buf.WriteByte('\n')
	return buf.Bytes(), ""
}
