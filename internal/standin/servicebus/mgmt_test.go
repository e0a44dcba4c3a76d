package servicebus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"

	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// TestSettleAfterDetach: once the stand-in detaches a receive link, the SDK settles over
// $management (update-disposition by lock token). The lock is still held (Service Bus keeps a
// detached link's locks until they expire), so the settlement does what was asked and the
// message is not delivered again behind it.
func TestSettleAfterDetach(t *testing.T) {
	sub := topic + "/Subscriptions/all" // 60 s lock: held throughout
	for _, c := range []struct {
		name   string
		settle func(context.Context, *azservicebus.Receiver, *azservicebus.ReceivedMessage) error
		want   map[string]services.Counters
		again  bool // the message comes back (abandon)
	}{
		{"complete", func(ctx context.Context, r *azservicebus.Receiver, m *azservicebus.ReceivedMessage) error {
			return r.CompleteMessage(ctx, m, nil)
		}, map[string]services.Counters{sub: {Accepted: 2, Delivered: 2, Completed: 2}}, false},
		{"abandon", func(ctx context.Context, r *azservicebus.Receiver, m *azservicebus.ReceivedMessage) error {
			return r.AbandonMessage(ctx, m, nil)
		}, map[string]services.Counters{sub: {Accepted: 1, Delivered: 2, Abandoned: 1, Completed: 1}}, true},
		{"dead-letter", func(ctx context.Context, r *azservicebus.Receiver, m *azservicebus.ReceivedMessage) error {
			return r.DeadLetterMessage(ctx, m, &azservicebus.DeadLetterOptions{Reason: to.Ptr("unreadable"), ErrorDescription: to.Ptr("no JSON")})
		}, map[string]services.Counters{
			sub:                       {Accepted: 2, Delivered: 2, Completed: 1, DeadLettered: 1},
			sub + "/$DeadLetterQueue": {Accepted: 1, Delivered: 1, Completed: 1},
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb, client := start(t, nil)
			send(t, client, topic, event("m1/failed", false))
			r := receiver(t, client, "all", nil)
			m := receiveOne(t, r)
			if err := sb.Detach(sub); err != nil {
				t.Fatal(err)
			}
			if err := c.settle(bounded(t), r, m); err != nil {
				t.Fatalf("%s after Detach: %v, want nil (the lock is still held)", c.name, err)
			}
			// m1 comes first if it is still (or again) in the subscription: sequence order.
			if !c.again {
				send(t, client, topic, event("m2/failed", false))
			}
			next := receiveAfterDetach(t, r)
			want, count := "m2/failed", uint32(1)
			if c.again {
				want, count = "m1/failed", 2
			}
			if next.MessageID != want || next.DeliveryCount != count {
				t.Errorf("after %s, the receiver got %q with delivery count %d, want %q with %d", c.name, next.MessageID, next.DeliveryCount, want, count)
			}
			if err := r.CompleteMessage(bounded(t), next, nil); err != nil {
				t.Fatalf("CompleteMessage: %v", err)
			}
			if c.name == "dead-letter" {
				dlq := receiver(t, client, "all", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
				readDeadLetters(t, dlq, deadLetter{"m1/failed", "unreadable"})
			}
			checkCounters(t, sb, c.want)
		})
	}
}

// receiveAfterDetach receives one message on a receiver whose link the stand-in detached: the
// SDK's first ReceiveMessages may return no message and no error while it attaches a new link.
func receiveAfterDetach(t *testing.T, r *azservicebus.Receiver) *azservicebus.ReceivedMessage {
	t.Helper()
	ctx := bounded(t)
	for {
		msgs, err := r.ReceiveMessages(ctx, 1, nil)
		if err != nil {
			t.Fatalf("ReceiveMessages after Detach: %v", err)
		}
		if len(msgs) == 1 {
			return msgs[0]
		}
	}
}

// TestCompleteAfterDetachAndLockExpiryIsLockLost: the queue's lock lasts one second; once it ran
// out behind a detached link, the settlement over $management is refused as lock lost (never a
// nil followed by a redelivery).
func TestCompleteAfterDetachAndLockExpiryIsLockLost(t *testing.T) {
	sb, client := start(t, testEntities)
	send(t, client, queue, event("q4", true))
	r := receiver(t, client, "", nil)
	m := receiveOne(t, r)
	if err := sb.Detach(queue); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(*m.LockedUntil) + 300*time.Millisecond)
	var sbErr *azservicebus.Error
	if err := r.CompleteMessage(bounded(t), m, nil); !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeLockLost {
		t.Errorf("CompleteMessage after Detach and lock expiry = %v, want an azservicebus.Error with code %s", err, azservicebus.CodeLockLost)
	}
	checkCounters(t, sb, map[string]services.Counters{queue: {Accepted: 1, Delivered: 1, LockExpired: 1}})
}

// TestManagementRequests sends management requests below the SDK (go-amqp) and checks each
// status: update-disposition of a lock the stand-in does not hold is 410 lock lost; the operations
// the stand-in does not implement are 501, never a silent 200.
func TestManagementRequests(t *testing.T) {
	sb, _ := start(t, nil)
	ctx := bounded(t)
	session := rawSession(t, ctx, sb)
	node := topic + "/Subscriptions/all/$management"
	const replyTo = "mgmt-reply-to-test"
	sender, err := session.NewSender(ctx, node, nil)
	if err != nil {
		t.Fatalf("NewSender(%s): %v", node, err)
	}
	receiver, err := session.NewReceiver(ctx, node, &amqp.ReceiverOptions{TargetAddress: replyTo, Credit: 100})
	if err != nil {
		t.Fatalf("NewReceiver(%s): %v", node, err)
	}
	unknownToken := amqp.UUID{1, 2, 3}
	for i, c := range []struct {
		name      string
		operation string
		body      map[string]any
		code      int32
		condition string
	}{
		{"complete-unknown-lock", "com.microsoft:update-disposition", map[string]any{
			"disposition-status": "completed", "lock-tokens": []amqp.UUID{unknownToken}}, 410, "com.microsoft:message-lock-lost"},
		{"abandon-unknown-lock", "com.microsoft:update-disposition", map[string]any{
			"disposition-status": "abandoned", "lock-tokens": []amqp.UUID{unknownToken}}, 410, "com.microsoft:message-lock-lost"},
		{"defer", "com.microsoft:update-disposition", map[string]any{
			"disposition-status": "defered", "lock-tokens": []amqp.UUID{unknownToken}}, 501, "amqp:not-implemented"},
		{"no-status", "com.microsoft:update-disposition", map[string]any{"lock-tokens": []amqp.UUID{unknownToken}}, 400, "amqp:invalid-field"},
		{"renew-lock", "com.microsoft:renew-lock", map[string]any{"lock-tokens": []amqp.UUID{unknownToken}}, 501, "amqp:not-implemented"},
		{"peek", "com.microsoft:peek-message", map[string]any{"from-sequence-number": int64(1), "message-count": int32(1)}, 501, "amqp:not-implemented"},
		{"schedule", "com.microsoft:schedule-message", map[string]any{"messages": []any{}}, 501, "amqp:not-implemented"},
		{"receive-by-sequence-number", "com.microsoft:receive-by-sequence-number", map[string]any{"sequence-numbers": []int64{1}}, 501, "amqp:not-implemented"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "mgmt-" + c.name
			req := &amqp.Message{
				Properties:            &amqp.MessageProperties{MessageID: id, ReplyTo: to.Ptr(replyTo)},
				ApplicationProperties: map[string]any{"operation": c.operation},
				Value:                 c.body,
			}
			if err := sender.Send(ctx, req, nil); err != nil {
				t.Fatalf("request %d: Send: %v", i, err)
			}
			reply, err := receiver.Receive(ctx, nil)
			if err != nil {
				t.Fatalf("request %d: no reply: %v", i, err)
			}
			if reply.Properties == nil || reply.Properties.CorrelationID != any(id) {
				t.Errorf("reply properties %+v, want correlation-id %q", reply.Properties, id)
			}
			props := reply.ApplicationProperties
			if props["status-code"] != any(c.code) || props["error-condition"] != any(c.condition) {
				t.Errorf("status-code %#v, error-condition %#v; want %d, %s", props["status-code"], props["error-condition"], c.code, c.condition)
			}
			if d, ok := props["status-description"].(string); !ok || d == "" {
				t.Errorf("status-description %#v, want a description", props["status-description"])
			}
		})
	}
}

// TestMessageIDOver128CharactersIsRefused: Service Bus refuses a MessageId over 128 characters,
// alone or in a batch; 128 goes through.
func TestMessageIDOver128CharactersIsRefused(t *testing.T) {
	long := strings.Repeat("x", 129)
	for _, c := range []struct {
		name  string
		ids   []string
		batch bool
		ok    bool
	}{
		{"single-128", []string{strings.Repeat("x", 128)}, false, true},
		{"single-129", []string{long}, false, false},
		{"single-129-multibyte", []string{strings.Repeat("é", 129)}, false, false},
		{"batch-128", []string{"b1", strings.Repeat("y", 128)}, true, true},
		{"batch-one-129", []string{"b1", long, "b3"}, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb, _ := start(t, testEntities)
			// No retries: the SDK takes an unknown refusal condition for a connection fault and
			// retries it (internal/errors.go GetRecoveryKind) for half a minute before it fails.
			client, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), &azservicebus.ClientOptions{
				RetryOptions: azservicebus.RetryOptions{MaxRetries: -1},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close(context.Background())
			s, err := client.NewSender(queue, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			if c.batch {
				b, err := s.NewMessageBatch(bounded(t), nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range c.ids {
					if err := b.AddMessage(event(id, true), nil); err != nil {
						t.Fatal(err)
					}
				}
				err = s.SendMessageBatch(bounded(t), b, nil)
				checkRefusal(t, err, c.ok)
			} else {
				checkRefusal(t, s.SendMessage(bounded(t), event(c.ids[0], true), nil), c.ok)
			}
			want := 0
			if c.ok {
				want = len(c.ids)
			}
			checkCounters(t, sb, map[string]services.Counters{queue: {Accepted: want}})
		})
	}
}

func checkRefusal(t *testing.T, err error, ok bool) {
	t.Helper()
	// The SDK wraps the refusal in an *azservicebus.Error that does not unwrap to the
	// *amqp.Error, so the condition is read from the text.
	switch {
	case ok && err != nil:
		t.Errorf("send = %v, want nil", err)
	case !ok && (err == nil || !strings.Contains(err.Error(), string(amqp.ErrCondInvalidField))):
		t.Errorf("send = %v, want an error with condition %s", err, amqp.ErrCondInvalidField)
	}
}
