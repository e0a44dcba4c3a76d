package servicebus

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/go-amqp"

	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// The SDK refreshes a claim no sooner than 2 minutes after the last one (azservicebus v1.11.0,
// internal/namespace.go, nextClaimRefreshDuration: expiry − 10 min, at least 2 min; a connection
// string's key token counts as expiring in 15 min, internal/sbauth/token_provider.go getSASToken,
// so the refresh comes after 5 min; a SharedAccessSignature string is never refreshed). A test
// cannot wait for that, so these tests send the repeated put-tokens a refresh sends: several on one
// $cbs link pair through go-amqp (TestCBSPutTokenAnsweredEveryTime), and the SDK's own claims
// for several links on one connection (TestCBSClaimsOnOneConnection).

// rawSession is a go-amqp session on its own connection to sb, below the SDK, closed when t ends.
func rawSession(t *testing.T, ctx context.Context, sb *services.ServiceBus) *amqp.Session {
	t.Helper()
	conn, err := amqp.Dial(ctx, "amqp://127.0.0.1:"+strconv.Itoa(sb.Port), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	session, err := conn.NewSession(ctx, nil)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	return session
}

func putTokens(t *testing.T, sb *services.ServiceBus) int {
	t.Helper()
	n, err := sb.CBSPutTokens()
	if err != nil {
		t.Fatalf("CBSPutTokens: %v", err)
	}
	return n
}

// TestCBSPutTokenAnsweredEveryTime sends put-tokens on one $cbs sender and reply receiver, as the
// SDK's refresh does, and checks each reply the way the SDK's RPC link reads it (internal/rpc.go):
// correlation-id the request's message-id as a string, status-code an int32 2xx.
func TestCBSPutTokenAnsweredEveryTime(t *testing.T) {
	sb, _ := start(t, nil)
	ctx := bounded(t)
	session := rawSession(t, ctx, sb)
	const replyTo = "$cbs-reply-to-test"
	sender, err := session.NewSender(ctx, "$cbs", nil)
	if err != nil {
		t.Fatalf("NewSender($cbs): %v", err)
	}
	receiver, err := session.NewReceiver(ctx, "$cbs", &amqp.ReceiverOptions{
		TargetAddress:             replyTo,
		SettlementMode:            to.Ptr(amqp.ReceiverSettleModeFirst),
		RequestedSenderSettleMode: to.Ptr(amqp.SenderSettleModeSettled),
		Credit:                    1000,
	})
	if err != nil {
		t.Fatalf("NewReceiver($cbs): %v", err)
	}
	const n = 4
	for i := range n {
		id := fmt.Sprintf("9f0c2a4e-0000-4000-8000-%012d", i)
		audience := "amqp://127.0.0.1:" + strconv.Itoa(sb.Port) + "/" + topic
		if i%2 == 1 {
			audience += "/$management"
		}
		req := &amqp.Message{
			Properties: &amqp.MessageProperties{MessageID: id, ReplyTo: to.Ptr(replyTo)},
			ApplicationProperties: map[string]any{
				"operation":  "put-token",
				"type":       "servicebus.windows.net:sastoken",
				"name":       audience,
				"expiration": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
			},
			Value: "SharedAccessSignature sr=x&sig=y&se=1&skn=RootManageSharedAccessKey",
		}
		if err := sender.Send(ctx, req, nil); err != nil {
			t.Fatalf("put-token %d: Send: %v", i, err)
		}
		reply, err := receiver.Receive(ctx, nil)
		if err != nil {
			t.Fatalf("put-token %d: no reply: %v", i, err)
		}
		if reply.Properties == nil || reply.Properties.CorrelationID != any(id) {
			t.Errorf("put-token %d: reply properties %+v, want correlation-id the string %q", i, reply.Properties, id)
		}
		if code, ok := reply.ApplicationProperties["status-code"].(int32); !ok || code < 200 || code > 299 {
			t.Errorf("put-token %d: status-code %#v (%T), want an int32 2xx", i, reply.ApplicationProperties["status-code"], reply.ApplicationProperties["status-code"])
		}
	}
	if got := putTokens(t, sb); got != n {
		t.Errorf("the stand-in counts %d put-tokens answered, want %d", got, n)
	}
}

// TestCBSClaimsOnOneConnection: one SDK client opens senders one after the other on its one
// connection; each negotiates its two claims (entity and $management) and every send goes through.
func TestCBSClaimsOnOneConnection(t *testing.T) {
	sb, client := start(t, nil)
	const links = 3
	for i := range links {
		send(t, client, topic, event("claims/"+strconv.Itoa(i), true))
	}
	if got, want := putTokens(t, sb), 2*links; got != want {
		t.Errorf("put-tokens answered = %d, want %d (two claims per sender)", got, want)
	}
	checkCounters(t, sb, map[string]services.Counters{topic: {Accepted: links}})
}
