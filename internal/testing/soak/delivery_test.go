package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// delivered is one message taken from the subscription.
type delivered struct {
	messageID string
	ceID      string // the CloudEvent's id
	ceType    string
	subject   string // the CloudEvent's subject: the session id
	epoch     int    // which run of the stand-in delivered it
	seq       int64  // its sequence number there: a redelivery has the same one
}

// inbox takes in every message the subscription `all` accepted, one stand-in run (epoch) at a
// time: the stand-in keeps messages in memory, so the test takes them before each restart.
type inbox struct {
	epoch int
	taken int // messages taken in this epoch (distinct sequence numbers)
	seen  map[[2]int64]bool
	got   []delivered
}

// accepted is what the subscription `all` of sb has taken in since it started.
func accepted(sb *services.ServiceBus) (int, error) {
	c, err := sb.Counters()
	if err != nil {
		return 0, err
	}
	return c[topic+"/Subscriptions/"+subscription].Accepted, nil
}

// drain receives and completes messages until every message the subscription accepted in this
// epoch was taken. Nothing may be sending meanwhile (the caller holds the pause barrier, or the
// soak is over).
func (in *inbox) drain(ctx context.Context, sb *services.ServiceBus) error {
	want, err := accepted(sb)
	if err != nil {
		return err
	}
	if in.taken >= want {
		return nil
	}
	client, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), nil)
	if err != nil {
		return err
	}
	defer client.Close(context.Background())
	rcv, err := client.NewReceiverForSubscription(topic, subscription, nil)
	if err != nil {
		return err
	}
	defer rcv.Close(context.Background())
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for in.taken < want {
		// Exactly as many credits as messages left: none arrives past the call to be released.
		msgs, err := rcv.ReceiveMessages(ctx, min(want-in.taken, 64), nil)
		if err != nil {
			return fmt.Errorf("after %d of %d messages: %w", in.taken, want, err)
		}
		for _, m := range msgs {
			if err := rcv.CompleteMessage(ctx, m, nil); err != nil {
				return fmt.Errorf("completing %s: %w", m.MessageID, err)
			}
			var seq int64
			if m.SequenceNumber != nil {
				seq = *m.SequenceNumber
			}
			key := [2]int64{int64(in.epoch), seq}
			if in.seen[key] {
				continue // a redelivery of what was taken already, not a second message
			}
			in.seen[key] = true
			in.taken++
			var ce struct {
				ID      string `json:"id"`
				Type    string `json:"type"`
				Subject string `json:"subject"`
			}
			if err := json.Unmarshal(m.Body, &ce); err != nil {
				return fmt.Errorf("message %s is not a CloudEvent: %w", m.MessageID, err)
			}
			in.got = append(in.got, delivered{messageID: m.MessageID, ceID: ce.ID, ceType: ce.Type, subject: ce.Subject,
				epoch: in.epoch, seq: seq})
		}
	}
	return nil
}

// restartServiceBus takes in what the stand-in holds, stops it, lets the soak run on without it
// for down, and starts it again on the same ports. Requests and Reconcile are paused only while
// the messages are taken and the stand-in stops.
func (r *rig) restartServiceBus(ctx context.Context, in *inbox, down time.Duration) error {
	r.pause.Lock()
	old := r.serviceBus()
	err := in.drain(ctx, old)
	if err == nil {
		r.sbDown.Store(true)
		err = old.Stop()
	}
	r.pause.Unlock()
	if err != nil {
		return err
	}
	time.Sleep(down)
	sb, err := services.StartServiceBus(services.ServiceBusOptions{Root: r.root, Port: old.Port, HTTPPort: old.HTTPPort})
	if err != nil {
		return fmt.Errorf("restarting the Service Bus stand-in on port %d: %w", old.Port, err)
	}
	r.sbMu.Lock()
	r.sb = sb
	r.sbMu.Unlock()
	r.sbDown.Store(false)
	in.epoch++
	in.taken = 0
	return nil
}
