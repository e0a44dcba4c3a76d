package events

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// ErrSendFailed means Service Bus did not confirm a send: the namespace was unreachable, the
// context ended, or the service refused it. It is transient, and ambiguous: the event may have
// reached the topic, so a caller keeps it unsent and sends the same bytes again later; the topic's
// duplicate detection drops the copy (same MessageID).
var ErrSendFailed = errors.New("events: send not confirmed by Service Bus")

// ErrEventTooLarge means one event does not fit an empty batch of the entity (the link's maximum
// message size, 256 KB on Standard). It is an ErrInvalidEvent: the same bytes fail again.
var ErrEventTooLarge = fmt.Errorf("%w: larger than the entity's maximum message size", ErrInvalidEvent)

// Connection says how a Publisher authenticates to Service Bus. Build it with ConnectionString or
// EntraID. It holds a secret (the SAS key of a connection string), so it prints redacted.
type Connection struct {
	connectionString string
	namespace        string
	credential       azcore.TokenCredential
}

// ConnectionString authenticates with a Service Bus connection string, locally the emulator form
// "Endpoint=sb://127.0.0.1:<port>;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true;"
// (plain AMQP, as the local stand-in serves it).
func ConnectionString(s string) Connection { return Connection{connectionString: s} }

// EntraID authenticates with a token credential (azidentity's, in Azure a managed identity) to
// namespace, the namespace's host name, e.g. "sb-liveness.servicebus.windows.net".
func EntraID(namespace string, cred azcore.TokenCredential) Connection {
	return Connection{namespace: namespace, credential: cred}
}

// String names the kind of connection and, for Entra ID, the namespace; never the connection
// string, which carries the key.
func (c Connection) String() string {
	if c.connectionString != "" {
		return "Service Bus connection string [redacted]"
	}
	return "Service Bus namespace " + c.namespace + " (Entra ID)"
}

// GoString keeps %#v as redacted as %v.
func (c Connection) GoString() string { return c.String() }

// LogValue keeps slog as redacted as %v.
func (c Connection) LogValue() slog.Value { return slog.StringValue(c.String()) }

// PublisherOptions configures NewPublisher; nil means the defaults.
type PublisherOptions struct {
	// Client is handed to azservicebus (retry policy, TLS, a custom dial); nil means the SDK's
	// defaults (3 retries, 4 s to 120 s apart, within the caller's context).
	Client *azservicebus.ClientOptions
}

// Publisher sends stored events (Marshal's bytes) to one Service Bus topic or queue as design §6
// messages. It holds one long-lived azservicebus client and sender, and is safe for concurrent
// use. The SDK connects on the first Publish and reconnects by itself when the service closed the
// link or connection (idle detach, restart).
type Publisher struct {
	entity string
	client *azservicebus.Client
	sender *azservicebus.Sender
}

// NewPublisher returns a Publisher for entity (a topic, e.g. "liveness-events", or a queue). It
// does not dial: a wrong host or a namespace that is down shows on the first Publish. Errors: a
// malformed connection string, an empty namespace or entity, a nil credential (never quoting the
// connection string).
func NewPublisher(entity string, conn Connection, opts *PublisherOptions) (*Publisher, error) {
	if entity == "" {
		return nil, errors.New("events: NewPublisher needs a topic or queue name")
	}
	if opts == nil {
		opts = &PublisherOptions{}
	}
	var client *azservicebus.Client
	var err error
	switch {
	case conn.connectionString != "":
		client, err = azservicebus.NewClientFromConnectionString(conn.connectionString, opts.Client)
	case conn.namespace != "" && conn.credential != nil:
		client, err = azservicebus.NewClient(conn.namespace, conn.credential, opts.Client)
	default:
		err = errors.New("neither a connection string nor a namespace with a credential")
	}
	if err != nil {
		return nil, fmt.Errorf("events: Service Bus client for %s: %w", entity, err)
	}
	sender, err := client.NewSender(entity, nil)
	if err != nil {
		_ = client.Close(context.Background())
		return nil, fmt.Errorf("events: Service Bus sender for %s: %w", entity, err)
	}
	return &Publisher{entity: entity, client: client, sender: sender}, nil
}

// Publish sends events, each a stored CloudEvent as Marshal built it, as NewMessage's messages in
// as few batches as the entity's maximum message size allows, in order. It returns nil when every
// event was sent, else a *PublishError that names each event not sent by its index in events:
//
//   - ErrInvalidEvent (ErrMessageIDTooLong, ErrEventTooLarge): permanent, that event only; the
//     other events are still sent.
//   - ErrSendFailed: transient and ambiguous; that event and every later one are not confirmed.
//
// errors.Is on the returned error matches either sentinel when any event failed that way. Publish
// returns when ctx ends, whatever the SDK is waiting for. A link or connection the service closed
// is recovered by the SDK, and if it still reports the connection lost, Publish tries once more
// on a fresh link within ctx.
func (p *Publisher) Publish(ctx context.Context, events [][]byte) error {
	done := make(chan error, 1)
	go func() { done <- p.publish(ctx, events) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The SDK can hold a caller past its context: a link being opened or recovered holds a
		// lock that waits for no context (azservicebus v1.11.0, internal/amqpLinks.go), e.g.
		// while it dials a namespace that accepts TCP and never answers. The send left behind
		// ends once it gets the lock, its context done; reported here as not confirmed, it is
		// sent again later, and duplicate detection drops it if it did arrive.
		perr := &PublishError{Total: len(events)}
		perr.failAll(indices(len(events)), p.sendFailed(ctx.Err()))
		return perr
	}
}

func indices(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func (p *Publisher) publish(ctx context.Context, events [][]byte) error {
	perr := &PublishError{Total: len(events)}
	msgs := make([]*azservicebus.Message, len(events))
	var pending []int
	for i, ev := range events {
		m, err := NewMessage(ev)
		if err != nil {
			perr.add(i, err)
			continue
		}
		msgs[i] = m
		pending = append(pending, i)
	}
	for len(pending) > 0 {
		batch, err := retryOnce(ctx, func() (*azservicebus.MessageBatch, error) {
			return p.sender.NewMessageBatch(ctx, nil)
		})
		if err != nil {
			perr.failAll(pending, p.sendFailed(err))
			break
		}
		var in []int
		for len(pending) > 0 {
			i := pending[0]
			err := batch.AddMessage(msgs[i], nil)
			if errors.Is(err, azservicebus.ErrMessageTooLarge) && batch.NumMessages() > 0 {
				break // the next batch takes it
			}
			pending = pending[1:]
			switch {
			case errors.Is(err, azservicebus.ErrMessageTooLarge):
				perr.add(i, ErrEventTooLarge)
			case err != nil:
				perr.add(i, fmt.Errorf("%w: %w", ErrInvalidEvent, err))
			default:
				in = append(in, i)
			}
		}
		if len(in) == 0 {
			continue
		}
		if _, err := retryOnce(ctx, func() (struct{}, error) {
			return struct{}{}, p.sender.SendMessageBatch(ctx, batch, nil)
		}); err != nil {
			perr.failAll(append(in, pending...), p.sendFailed(err))
			break
		}
	}
	if len(perr.Events) == 0 {
		return nil
	}
	return perr
}

func (p *Publisher) sendFailed(err error) error {
	return fmt.Errorf("%w (entity %s): %w", ErrSendFailed, p.entity, err)
}

// retryOnce calls op again when the SDK gave up with the connection lost: its next call recovers
// the link and connection, and a resend is harmless (duplicate detection by MessageID).
func retryOnce[T any](ctx context.Context, op func() (T, error)) (T, error) {
	v, err := op()
	var sbErr *azservicebus.Error
	if err != nil && ctx.Err() == nil && errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeConnectionLost {
		return op()
	}
	return v, err
}

// Close closes the sender and the client (the AMQP connection); a Publish after Close fails with
// ErrSendFailed. Call it once, after the last Publish (on shutdown, after the HTTP server drained).
func (p *Publisher) Close(ctx context.Context) error {
	return errors.Join(p.sender.Close(ctx), p.client.Close(ctx))
}

// PublishError lists the events of one Publish call that were not sent. Every index not listed was
// sent (Service Bus accepted it).
type PublishError struct {
	// Total is the number of events Publish was given.
	Total int
	// Events are the failed ones, in index order.
	Events []EventError
}

// EventError is one event Publish did not send: its index in the events argument and why.
type EventError struct {
	Index int
	Err   error
}

func (e *PublishError) add(i int, err error) { e.Events = append(e.Events, EventError{i, err}) }

func (e *PublishError) failAll(idx []int, err error) {
	for _, i := range idx {
		e.add(i, err)
	}
	// Invalid events found up front carry lower or interleaved indices.
	slices.SortFunc(e.Events, func(a, b EventError) int { return cmp.Compare(a.Index, b.Index) })
}

// Err is the error of the event at index i, nil when it was sent.
func (e *PublishError) Err(i int) error {
	for _, ev := range e.Events {
		if ev.Index == i {
			return ev.Err
		}
	}
	return nil
}

// Error names how many events failed and the first few reasons; events with the same reason are
// listed together.
func (e *PublishError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "events: %d of %d events not sent", len(e.Events), e.Total)
	const shown = 3
	var reasons []string
	byReason := map[string][]int{}
	for _, ev := range e.Events {
		r := ev.Err.Error()
		if _, seen := byReason[r]; !seen {
			reasons = append(reasons, r)
		}
		byReason[r] = append(byReason[r], ev.Index)
	}
	for n, r := range reasons {
		if n == shown {
			fmt.Fprintf(&b, "; and %d other reasons", len(reasons)-shown)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", indexList(byReason[r]), r)
	}
	return b.String()
}

func indexList(idx []int) string {
	if len(idx) == 1 {
		return fmt.Sprintf("event %d", idx[0])
	}
	if len(idx) > 4 {
		return fmt.Sprintf("events %d, %d, … (%d)", idx[0], idx[1], len(idx))
	}
	s := make([]string, len(idx))
	for n, i := range idx {
		s[n] = strconv.Itoa(i)
	}
	return "events " + strings.Join(s, ", ")
}

// Unwrap gives every event's error, so errors.Is(err, ErrInvalidEvent) or ErrSendFailed holds
// when any event failed that way.
func (e *PublishError) Unwrap() []error {
	errs := make([]error, len(e.Events))
	for i, ev := range e.Events {
		errs[i] = ev.Err
	}
	return errs
}
