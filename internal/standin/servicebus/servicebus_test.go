package servicebus

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

const (
	topic = "liveness-events" // from entities.json, which mirrors infra/
	queue = "work"            // a queue of the tests' own entities file
)

// testEntities adds a queue with a short lock and a small max delivery count, for the lock and
// dead-letter cases, and a topic whose subscriptions each hold one filter of the grammar.
var testEntities = map[string]any{
	"queues": []any{map[string]any{
		"name": queue, "requiresDuplicateDetection": true, "duplicateDetectionWindowSeconds": 60,
		"lockDurationSeconds": 1, "maxDeliveryCount": 2,
	}},
	"topics": []any{
		map[string]any{"name": "filters", "subscriptions": filterSubscriptions()},
		map[string]any{"name": dlqTopic, "subscriptions": []any{map[string]any{
			"name": dlqSub, "lockDurationSeconds": 60, "maxDeliveryCount": 2,
		}}},
	},
}

// dlqTopic's one subscription dead-letters a message after its second delivery.
const dlqTopic, dlqSub = "dead-letters", "s"

// filterCases: each filter against the message sendFiltered sends (passed=false, status "failed",
// score 7, Subject "failed", no "reason").
var filterCases = []struct {
	name, filter string
	match        bool
}{
	{"bool-eq", "passed = false", true},
	{"bool-ne", "passed <> false", false},
	{"string", "status = 'failed'", true},
	{"string-other", "status = 'completed'", false},
	{"and", "passed = false AND status = 'failed'", true},
	{"and-false", "passed = false AND status = 'expired'", false},
	{"or", "status = 'expired' OR score = 7", true},
	{"not", "NOT passed = true", true},
	{"is-null", "reason IS NULL", true},
	{"is-not-null", "reason IS NOT NULL", false},
	{"missing-compare", "reason = 'x'", false},
	{"not-missing", "NOT reason = 'x'", false}, // unknown stays unknown under NOT
	{"number", "score > 5 AND score <= 7", true},
	{"sys-label", "sys.Label = 'failed'", true},
	{"sys-messageid", "sys.MessageId <> 'other'", true},
	{"user-prefix", "user.status = 'failed' AND (passed = true OR [kind] = 'session')", true},
	{"type-mismatch", "passed = 'false'", false},
	{"string-ne", "status <> 'completed'", true},
	{"not-or", "NOT (status = 'completed' OR passed = true)", true},
	{"sys-is-not-null", "sys.MessageId IS NOT NULL", true},
	{"sys-excludes", "sys.Label = 'completed' OR sys.MessageId IS NULL", false},
}

func filterSubscriptions() []any {
	var subs []any
	for _, c := range filterCases {
		subs = append(subs, map[string]any{"name": c.name, "sqlFilter": c.filter})
	}
	return subs
}

// start starts the stand-in with entities (nil: the repository's entities.json) and a client.
func start(t *testing.T, entities map[string]any) (*services.ServiceBus, *azservicebus.Client) {
	t.Helper()
	var o services.ServiceBusOptions
	if entities != nil {
		b, err := json.Marshal(entities)
		if err != nil {
			t.Fatal(err)
		}
		o.Entities = filepath.Join(t.TempDir(), "entities.json")
		if err := os.WriteFile(o.Entities, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sb := testenv.StartServiceBus(t, o)
	return sb, testenv.ServiceBusClient(t, sb)
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func send(t *testing.T, client *azservicebus.Client, entity string, msgs ...*azservicebus.Message) {
	t.Helper()
	s, err := client.NewSender(entity, nil)
	if err != nil {
		t.Fatalf("NewSender(%s): %v", entity, err)
	}
	defer s.Close(context.Background())
	for _, m := range msgs {
		if err := s.SendMessage(bounded(t), m, nil); err != nil {
			t.Fatalf("SendMessage(%s) to %s: %v", *m.MessageID, entity, err)
		}
	}
}

func receiver(t *testing.T, client *azservicebus.Client, sub string, opts *azservicebus.ReceiverOptions) *azservicebus.Receiver {
	t.Helper()
	var r *azservicebus.Receiver
	var err error
	if sub == "" {
		r, err = client.NewReceiverForQueue(queue, opts)
	} else {
		r, err = client.NewReceiverForSubscription(topic, sub, opts)
	}
	if err != nil {
		t.Fatalf("NewReceiver(%q): %v", sub, err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// receiveOne receives exactly one message within the bound.
func receiveOne(t *testing.T, r *azservicebus.Receiver) *azservicebus.ReceivedMessage {
	t.Helper()
	msgs, err := r.ReceiveMessages(bounded(t), 1, nil)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("ReceiveMessages = %d messages, %v; want 1", len(msgs), err)
	}
	return msgs[0]
}

func event(id string, passed bool) *azservicebus.Message {
	return &azservicebus.Message{
		MessageID:   to.Ptr(id),
		ContentType: to.Ptr("application/cloudevents+json"),
		Subject:     to.Ptr("session.failed"),
		Body:        []byte(`{"id":"` + id + `"}`),
		ApplicationProperties: map[string]any{
			"status": "failed", "passed": passed,
		},
	}
}

func checkCounters(t *testing.T, sb *services.ServiceBus, want map[string]services.Counters) {
	t.Helper()
	got := testenv.Counters(t, sb)
	for entity, w := range want {
		if diff := cmp.Diff(w, got[entity]); diff != "" {
			t.Errorf("counters of %s (-want +got):\n%s", entity, diff)
		}
	}
}

func TestSendReceiveCompleteOnSubscription(t *testing.T) {
	sb, client := start(t, nil)
	before := time.Now().Add(-time.Second)
	send(t, client, topic, event("s1/failed", false))
	r := receiver(t, client, "all", nil)
	m := receiveOne(t, r)
	if m.MessageID != "s1/failed" || string(m.Body) != `{"id":"s1/failed"}` || *m.ContentType != "application/cloudevents+json" || *m.Subject != "session.failed" {
		t.Errorf("received id %q body %q content type %q subject %q", m.MessageID, m.Body, *m.ContentType, *m.Subject)
	}
	if diff := cmp.Diff(map[string]any{"status": "failed", "passed": false}, m.ApplicationProperties); diff != "" {
		t.Errorf("application properties (-want +got):\n%s", diff)
	}
	if m.DeliveryCount != 1 || m.SequenceNumber == nil || *m.SequenceNumber < 1 || m.LockToken == [16]byte{} {
		t.Errorf("delivery count %d, sequence number %v, lock token %x: want 1, ≥ 1, non-zero", m.DeliveryCount, m.SequenceNumber, m.LockToken)
	}
	if m.EnqueuedTime == nil || m.EnqueuedTime.Before(before) || m.LockedUntil == nil || !m.LockedUntil.After(*m.EnqueuedTime) {
		t.Errorf("enqueued %v, locked until %v: want a recent enqueue time and a lock after it", m.EnqueuedTime, m.LockedUntil)
	}
	if err := r.CompleteMessage(bounded(t), m, nil); err != nil {
		t.Fatalf("CompleteMessage: %v", err)
	}
	checkCounters(t, sb, map[string]services.Counters{
		topic:                        {Accepted: 1},
		topic + "/Subscriptions/all": {Accepted: 1, Delivered: 1, Completed: 1},
	})
}

func TestSameMessageIDTwiceIsDeliveredOnce(t *testing.T) {
	sb, client := start(t, nil)
	send(t, client, topic, event("s2/canceled", true), event("s2/canceled", true), event("s3/canceled", true))
	r := receiver(t, client, "all", nil)
	for _, want := range []string{"s2/canceled", "s3/canceled"} {
		m := receiveOne(t, r)
		if m.MessageID != want {
			t.Errorf("received %q, want %q", m.MessageID, want)
		}
		if err := r.CompleteMessage(bounded(t), m, nil); err != nil {
			t.Fatalf("CompleteMessage: %v", err)
		}
	}
	checkCounters(t, sb, map[string]services.Counters{
		topic:                        {Accepted: 2, Deduplicated: 1},
		topic + "/Subscriptions/all": {Accepted: 2, Delivered: 2, Completed: 2},
	})
}

// TestFanOutAndReviewFilter: every event reaches `all`; `review` (passed = false) gets only the
// failed one.
func TestFanOutAndReviewFilter(t *testing.T) {
	sb, client := start(t, nil)
	send(t, client, topic, event("s4/completed", true), event("s5/failed", false))
	all := receiver(t, client, "all", nil)
	for _, want := range []string{"s4/completed", "s5/failed"} {
		if m := receiveOne(t, all); m.MessageID != want {
			t.Errorf("all received %q, want %q", m.MessageID, want)
		}
	}
	review := receiver(t, client, "review", nil)
	if m := receiveOne(t, review); m.MessageID != "s5/failed" {
		t.Errorf("review received %q, want s5/failed", m.MessageID)
	}
	checkCounters(t, sb, map[string]services.Counters{
		topic + "/Subscriptions/all":    {Accepted: 2, Delivered: 2},
		topic + "/Subscriptions/review": {Accepted: 1, Delivered: 1},
	})
}

func TestSubscriptionFilterGrammar(t *testing.T) {
	sb, client := start(t, testEntities)
	m := event("s6/failed", false)
	m.Subject = to.Ptr("failed")
	m.ApplicationProperties["score"] = int64(7)
	m.ApplicationProperties["kind"] = "session"
	send(t, client, "filters", m)
	got := testenv.Counters(t, sb)
	for _, c := range filterCases {
		t.Run(c.name, func(t *testing.T) {
			want := 0
			if c.match {
				want = 1
			}
			if n := got["filters/Subscriptions/"+c.name].Accepted; n != want {
				t.Errorf("filter %q took %d messages, want %d", c.filter, n, want)
			}
		})
	}
}

func TestAbandonRedeliversWithGrowingDeliveryCount(t *testing.T) {
	sb, client := start(t, nil)
	send(t, client, topic, event("s7/expired", true))
	r := receiver(t, client, "all", nil)
	first := receiveOne(t, r)
	if err := r.AbandonMessage(bounded(t), first, nil); err != nil {
		t.Fatalf("AbandonMessage: %v", err)
	}
	again := receiveOne(t, r)
	if again.MessageID != "s7/expired" || again.DeliveryCount != 2 || *again.SequenceNumber != *first.SequenceNumber {
		t.Errorf("redelivered %q with delivery count %d, sequence %d; want s7/expired, 2, %d",
			again.MessageID, again.DeliveryCount, *again.SequenceNumber, *first.SequenceNumber)
	}
	if err := r.CompleteMessage(bounded(t), again, nil); err != nil {
		t.Fatalf("CompleteMessage: %v", err)
	}
	checkCounters(t, sb, map[string]services.Counters{
		topic + "/Subscriptions/all": {Accepted: 1, Delivered: 2, Abandoned: 1, Completed: 1},
	})
}

// TestQueueDeadLettersAfterMaxDeliveryCountAndOnRequest: the queue's max delivery count is 2;
// its dead-letter queue holds the message with the reason.
func TestQueueDeadLettersAfterMaxDeliveryCountAndOnRequest(t *testing.T) {
	sb, client := start(t, testEntities)
	send(t, client, queue, event("q1", false))
	r := receiver(t, client, "", nil)
	for range 2 {
		m := receiveOne(t, r)
		if m.MessageID != "q1" {
			t.Fatalf("received %q, want q1 until it is dead-lettered", m.MessageID)
		}
		if err := r.AbandonMessage(bounded(t), m, nil); err != nil {
			t.Fatalf("AbandonMessage: %v", err)
		}
	}
	send(t, client, queue, event("q2", false)) // after q1's end: the SDK may prefetch
	m := receiveOne(t, r)
	if m.MessageID != "q2" {
		t.Fatalf("received %q, want q2", m.MessageID)
	}
	if err := r.DeadLetterMessage(bounded(t), m, &azservicebus.DeadLetterOptions{Reason: to.Ptr("unreadable"), ErrorDescription: to.Ptr("no JSON")}); err != nil {
		t.Fatalf("DeadLetterMessage: %v", err)
	}
	dlq := receiver(t, client, "", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	readDeadLetters(t, dlq, deadLetter{"q1", "MaxDeliveryCountExceeded"}, deadLetter{"q2", "unreadable"})
	checkCounters(t, sb, map[string]services.Counters{
		queue:                       {Accepted: 2, Delivered: 3, Abandoned: 2, DeadLettered: 2},
		queue + "/$DeadLetterQueue": {Accepted: 2, Delivered: 2, Completed: 2},
	})
}

type deadLetter struct{ id, reason string }

// readDeadLetters receives want from a dead-letter queue in order, checks each one's reason, and
// completes it.
func readDeadLetters(t *testing.T, dlq *azservicebus.Receiver, want ...deadLetter) {
	t.Helper()
	for _, w := range want {
		d := receiveOne(t, dlq)
		if d.MessageID != w.id || d.DeadLetterReason == nil || *d.DeadLetterReason != w.reason {
			t.Errorf("dead-letter queue gave %q with reason %v, want %q with %q", d.MessageID, d.DeadLetterReason, w.id, w.reason)
		}
		if err := dlq.CompleteMessage(bounded(t), d, nil); err != nil {
			t.Fatalf("CompleteMessage on the dead-letter queue: %v", err)
		}
	}
}

// TestLockExpiryRedelivers: the queue's lock lasts one second; an unsettled message comes back.
func TestLockExpiryRedelivers(t *testing.T) {
	sb, client := start(t, testEntities)
	send(t, client, queue, event("q3", true))
	r := receiver(t, client, "", nil)
	first := receiveOne(t, r)
	if d := time.Until(*first.LockedUntil); d <= 0 || d > 2*time.Second {
		t.Errorf("locked until %v from now, want within the one-second lock", d)
	}
	again := receiveOne(t, r) // waits out the lock
	var sbErr *azservicebus.Error
	if err := r.CompleteMessage(bounded(t), first, nil); !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeLockLost {
		t.Errorf("CompleteMessage after the lock expired = %v, want an azservicebus.Error with code %s", err, azservicebus.CodeLockLost)
	}
	if again.MessageID != "q3" || again.DeliveryCount != 2 {
		t.Errorf("after the lock expired: %q with delivery count %d, want q3 with 2", again.MessageID, again.DeliveryCount)
	}
	if err := r.CompleteMessage(bounded(t), again, nil); err != nil {
		t.Fatalf("CompleteMessage: %v", err)
	}
	checkCounters(t, sb, map[string]services.Counters{
		queue: {Accepted: 1, Delivered: 2, LockExpired: 1, Completed: 1},
	})
}

// TestRestartOnSamePort: a stopped stand-in comes back on its port, empty, and the client's next
// send reaches it.
func TestRestartOnSamePort(t *testing.T) {
	sb, client := start(t, nil)
	send(t, client, topic, event("s8/canceled", true))
	if err := sb.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	again := testenv.StartServiceBus(t, services.ServiceBusOptions{Port: sb.Port, HTTPPort: sb.HTTPPort})
	send(t, client, topic, event("s9/canceled", true))
	checkCounters(t, again, map[string]services.Counters{topic: {Accepted: 1}})
}

// TestReceiveAndDelete: a pre-settled delivery is gone once received.
func TestReceiveAndDelete(t *testing.T) {
	sb, client := start(t, nil)
	send(t, client, topic, event("s10/canceled", true))
	r := receiver(t, client, "all", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	if m := receiveOne(t, r); m.MessageID != "s10/canceled" || m.DeliveryCount != 1 {
		t.Errorf("received %q with delivery count %d, want s10/canceled with 1", m.MessageID, m.DeliveryCount)
	}
	checkCounters(t, sb, map[string]services.Counters{
		topic + "/Subscriptions/all": {Accepted: 1, Delivered: 1, Completed: 1},
	})
}

// TestUnknownEntityIsRefused: a send to an entity the entities file does not name fails with
// Service Bus's not-found, not a hang.
func TestUnknownEntityIsRefused(t *testing.T) {
	_, client := start(t, nil)
	s, err := client.NewSender("no-such-topic", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	var amqpErr *amqp.Error
	if err := s.SendMessage(bounded(t), event("x", true), nil); !errors.As(err, &amqpErr) || amqpErr.Condition != amqp.ErrCondNotFound {
		t.Errorf("SendMessage to an unknown topic = %v, want an amqp.Error with condition %s", err, amqp.ErrCondNotFound)
	}
}

// TestSubscriptionDeadLettersAfterMaxDeliveryCount: a subscription's dead-letter queue is read at
// <topic>/Subscriptions/<name>/$DeadLetterQueue (the SDK's SubQueueDeadLetter), with the reason.
func TestSubscriptionDeadLettersAfterMaxDeliveryCount(t *testing.T) {
	sb, client := start(t, testEntities)
	send(t, client, dlqTopic, event("d1/failed", false))
	r, err := client.NewReceiverForSubscription(dlqTopic, dlqSub, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	for n := range 2 {
		m := receiveOne(t, r)
		if m.MessageID != "d1/failed" || m.DeliveryCount != uint32(n+1) {
			t.Fatalf("delivery %d: %q with delivery count %d, want d1/failed with %d", n+1, m.MessageID, m.DeliveryCount, n+1)
		}
		if err := r.AbandonMessage(bounded(t), m, nil); err != nil {
			t.Fatalf("AbandonMessage: %v", err)
		}
	}
	dlq, err := client.NewReceiverForSubscription(dlqTopic, dlqSub, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Close(context.Background())
	readDeadLetters(t, dlq, deadLetter{"d1/failed", "MaxDeliveryCountExceeded"})
	sub := dlqTopic + "/Subscriptions/" + dlqSub
	checkCounters(t, sb, map[string]services.Counters{
		sub:                       {Accepted: 1, Delivered: 2, Abandoned: 2, DeadLettered: 1},
		sub + "/$DeadLetterQueue": {Accepted: 1, Delivered: 1, Completed: 1},
	})
}

// TestDeliveryWireTypes reads a peek-lock delivery with go-amqp, below the SDK, where a wrong
// type would not panic the SDK yet (azservicebus message.go type-asserts these without checks):
// a 16-byte delivery tag that is the lock token, x-opt-sequence-number a long, x-opt-enqueued-time
// and x-opt-locked-until timestamps, x-opt-lock-token a UUID.
func TestDeliveryWireTypes(t *testing.T) {
	sb, client := start(t, nil)
	send(t, client, topic, event("w1/failed", false))
	ctx := bounded(t)
	session := rawSession(t, ctx, sb)
	r, err := session.NewReceiver(ctx, topic+"/Subscriptions/all", &amqp.ReceiverOptions{
		SettlementMode: to.Ptr(amqp.ReceiverSettleModeSecond), Credit: 1,
	})
	if err != nil {
		t.Fatalf("NewReceiver: %v", err)
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(m.DeliveryTag) != 16 {
		t.Errorf("delivery tag %x is %d bytes, want 16 (the lock token)", m.DeliveryTag, len(m.DeliveryTag))
	}
	if tok, ok := m.DeliveryAnnotations["x-opt-lock-token"].(amqp.UUID); !ok || string(tok[:]) != string(m.DeliveryTag) {
		t.Errorf("x-opt-lock-token %#v, want the delivery tag %x as a UUID", m.DeliveryAnnotations["x-opt-lock-token"], m.DeliveryTag)
	}
	for _, c := range []struct {
		name string
		ok   func(any) bool
		want string
	}{
		{"x-opt-sequence-number", func(v any) bool { n, ok := v.(int64); return ok && n >= 1 }, "a long ≥ 1"},
		{"x-opt-enqueued-time", func(v any) bool { _, ok := v.(time.Time); return ok }, "a timestamp"},
		{"x-opt-locked-until", func(v any) bool { at, ok := v.(time.Time); return ok && at.After(time.Now()) }, "a future timestamp"},
	} {
		if v := m.Annotations[c.name]; !c.ok(v) {
			t.Errorf("annotation %s = %#v (%T), want %s", c.name, v, v, c.want)
		}
	}
	if err := r.AcceptMessage(ctx, m); err != nil {
		t.Fatalf("AcceptMessage: %v", err)
	}
	checkCounters(t, sb, map[string]services.Counters{
		topic + "/Subscriptions/all": {Accepted: 1, Delivered: 1, Completed: 1},
	})
}
