package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// Event is one message delivered on the `all` subscription.
type Event struct {
	MessageID string
	Subject   string // the message's Subject: the CloudEvent type
	Props     map[string]any
	Body      []byte // the CloudEvent, structured JSON
	// CloudEvent is Body decoded; SessionID is its subject.
	CloudEvent struct {
		Type    string          `json:"type"`
		ID      string          `json:"id"`
		Subject string          `json:"subject"`
		Data    json.RawMessage `json:"data"`
	}
}

// Events receives every message of the `all` subscription from Start until Close, completing
// each, and keeps them in arrival order.
type Events struct {
	mu   sync.Mutex
	got  []Event
	errs []error
	// seqs are the sequence numbers kept, to tell a redelivery from a duplicate.
	seqs        map[int64]bool
	redelivered int
	client      *azservicebus.Client
	cancel      context.CancelFunc
	done        chan struct{}
}

func (e *Events) start(connectionString string) error {
	client, err := azservicebus.NewClientFromConnectionString(connectionString, nil)
	if err != nil {
		return fmt.Errorf("Service Bus client: %w", err)
	}
	r, err := client.NewReceiverForSubscription(Topic, Subscription, nil)
	if err != nil {
		_ = client.Close(context.Background())
		return fmt.Errorf("receiver for %s/%s: %w", Topic, Subscription, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.client, e.cancel, e.done = client, cancel, make(chan struct{})
	go e.receive(ctx, r)
	return nil
}

func (e *Events) receive(ctx context.Context, r *azservicebus.Receiver) {
	defer close(e.done)
	defer r.Close(context.Background())
	for {
		// One credit at a time: the SDK releases what arrives past a call.
		msgs, err := r.ReceiveMessages(ctx, 1, nil)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			e.fail(err)
			time.Sleep(100 * time.Millisecond) // the SDK recovers the link on the next call
			continue
		}
		for _, m := range msgs {
			e.keep(m)
			// Kept first, completed after, within a bound: after a lost connection the SDK can
			// wait on a settlement that never comes, and a message that is not completed only
			// comes back (a redelivery, which keep does not count twice).
			completeCtx, cancel := context.WithTimeout(ctx, completeTimeout)
			if err := r.CompleteMessage(completeCtx, m, nil); err != nil && ctx.Err() == nil {
				e.fail(fmt.Errorf("complete message %s: %w", m.MessageID, err))
			}
			cancel()
		}
	}
}

// completeTimeout bounds one CompleteMessage.
const completeTimeout = 5 * time.Second

// keep records m, unless it is a redelivery of a message kept already (same sequence number:
// the topic handed the same copy out again because its completion did not arrive). A second
// copy that the topic accepted has a sequence number of its own, and is kept: a duplicate.
func (e *Events) keep(m *azservicebus.ReceivedMessage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m.SequenceNumber != nil {
		if e.seqs == nil {
			e.seqs = map[int64]bool{}
		}
		if e.seqs[*m.SequenceNumber] {
			e.redelivered++
			return
		}
		e.seqs[*m.SequenceNumber] = true
	}
	ev := Event{MessageID: m.MessageID, Props: m.ApplicationProperties, Body: m.Body}
	if m.Subject != nil {
		ev.Subject = *m.Subject
	}
	if err := json.Unmarshal(m.Body, &ev.CloudEvent); err != nil {
		e.errs = append(e.errs, fmt.Errorf("message %s is not a CloudEvent: %w", m.MessageID, err))
	}
	e.got = append(e.got, ev)
}

// Redelivered is how many deliveries were copies already kept (see keep).
func (e *Events) Redelivered() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.redelivered
}

func (e *Events) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

// All is every event received so far.
func (e *Events) All() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.got...)
}

// Err joins the errors the receiver met (nil when none).
func (e *Events) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return errors.Join(e.errs...)
}

// For is the events received so far whose CloudEvent subject is sessionID.
func (e *Events) For(sessionID string) []Event {
	var out []Event
	for _, ev := range e.All() {
		if ev.CloudEvent.Subject == sessionID {
			out = append(out, ev)
		}
	}
	return out
}

// WaitFor waits until at least one event for sessionID arrived, then for settle more (for a
// duplicate that would follow), and returns every event for it; fewer than one when limit
// passed first.
func (e *Events) WaitFor(ctx context.Context, sessionID string, limit, settle time.Duration) []Event {
	deadline := time.Now().Add(limit)
	for len(e.For(sessionID)) == 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if len(e.For(sessionID)) > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(settle):
		}
	}
	return e.For(sessionID)
}

func (e *Events) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	<-e.done
	_ = e.client.Close(context.Background())
	e.cancel = nil
}

// restart receives from a Service Bus stand-in started again (in memory: its sequence numbers
// begin anew) on a new connection, keeping the events received so far.
func (e *Events) restart(connectionString string) error {
	e.stop()
	e.mu.Lock()
	e.seqs = nil
	e.mu.Unlock()
	return e.start(connectionString)
}
