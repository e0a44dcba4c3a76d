package handlers

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

func TestSendPause(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	failed := fmt.Errorf("send: %w", events.ErrSendFailed)
	invalid := fmt.Errorf("send: %w", events.ErrInvalidEvent)
	type send struct {
		started, ended time.Duration // after t0
		err            error
		cut            bool // the sender's own context ended (its caller left, a budget ran out)
	}
	tests := []struct {
		name   string
		sends  []send
		at     time.Duration // when paused is asked, after t0
		paused bool
	}{
		{"nothing sent", nil, 0, false},
		{"a failure pauses", []send{{0, 5 * time.Second, failed, false}}, 10 * time.Second, true},
		{"for 30 s from its end", []send{{0, 5 * time.Second, failed, false}}, 35 * time.Second, false},
		{"a success ends it", []send{{0, 5 * time.Second, failed, false}, {6 * time.Second, 7 * time.Second, nil, false}}, 8 * time.Second, false},
		{"an invalid event does not pause", []send{{0, time.Second, invalid, false}}, 2 * time.Second, false},
		// A batch that started before an inline send and failed after that send succeeded says
		// nothing about the topic now.
		{"a slow failure after a later success", []send{{time.Second, 2 * time.Second, nil, false}, {0, 10 * time.Second, failed, false}}, 11 * time.Second, false},
		{"a failure after an earlier success", []send{{0, time.Second, nil, false}, {2 * time.Second, 3 * time.Second, failed, false}}, 4 * time.Second, true},
		// A send its own caller cut short says nothing about Service Bus.
		{"a send cut by its caller", []send{{0, time.Second, failed, true}}, 2 * time.Second, false},
		{"a failure, then a cut send", []send{{0, time.Second, failed, false}, {2 * time.Second, 3 * time.Second, failed, true}}, 4 * time.Second, true},
		// The clock stepped back an hour after the failure: the pause must not last the hour.
		{"the clock steps back", []send{{0, time.Second, failed, false}}, -time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p sendPause
			for _, s := range tt.sends {
				ctx, cancel := context.WithCancel(t.Context())
				if s.cut {
					cancel()
				}
				p.record(ctx, t0.Add(s.started), t0.Add(s.ended), s.err)
				cancel()
			}
			err := p.paused(t0.Add(tt.at))
			if got := errors.Is(err, errSendPaused); got != tt.paused {
				t.Errorf("paused at %v = %v, want paused %v", tt.at, err, tt.paused)
			}
		})
	}
}

// TestReconcileDuringASendPause: a run that meets sends paused (a send failed moments ago) leaves
// the announce entries due as they were, neither failed nor filed later with a longer wait, and
// the first run after the pause sends their events.
func TestReconcileDuringASendPause(t *testing.T) {
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	a := newApp(t, &appOptions{ServiceBus: sb})
	v := a.start(``)
	a.srv.sends.record(t.Context(), a.clock.Now(), a.clock.Now(), events.ErrSendFailed) // the cancel's send skipped
	a.cancel(v)
	a.clock.Advance(announceWait)
	a.srv.sends.record(t.Context(), a.clock.Now(), a.clock.Now(), events.ErrSendFailed)
	before := a.dueFor(v.SessionID)

	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 1 due, 0 finalized, 0 events sent, 0 failed, 0 purged, 1 left" {
		t.Errorf("Reconcile while sends pause = %q, want the announce entry left, not failed", logs)
	}
	if after := a.dueFor(v.SessionID); !reflect.DeepEqual(after, before) {
		t.Errorf("due entries after the paused run = %+v, want them as they were %+v", after, before)
	}
	if row, _ := a.outbox(v.SessionID); row.Sent {
		t.Fatalf("event sent while sends pause")
	}

	a.clock.Advance(sendPauseFor)
	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 1 due, 0 finalized, 1 events sent, 0 failed, 0 purged, 0 left" {
		t.Errorf("Reconcile after the pause = %q, want the event sent", logs)
	}
	a.wantOneEventEach(sb, v.SessionID+"/canceled")
}
