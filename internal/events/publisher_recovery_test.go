package events

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// TestPublishRecoversFromServiceFaults: one Publisher with the SDK's default options keeps
// publishing across what Service Bus does to a long-lived sender: its link detached (idle
// detach), its connection cut, the namespace gone and back. Each Publish after a fault succeeds
// within sendBudget and the topic takes exactly that one message (a resend would show as
// accepted twice or deduplicated).
func TestPublishRecoversFromServiceFaults(t *testing.T) {
	sb := startServiceBus(t, 0, 0)
	p := newPublisher(t, sb.Port, nil)
	steps := []struct {
		name  string
		fault func(t *testing.T)
	}{
		{"first publish", func(*testing.T) {}},
		{"after the topic's links were detached", func(t *testing.T) {
			if err := sb.Detach(testTopic); err != nil {
				t.Fatal(err)
			}
		}},
		{"after the connections were dropped", func(t *testing.T) {
			if err := sb.DropConnections(); err != nil {
				t.Fatal(err)
			}
		}},
		{"after a stop and restart on the same ports", func(t *testing.T) {
			if err := sb.Stop(); err != nil {
				t.Fatal(err)
			}
			sb = startServiceBus(t, sb.Port, sb.HTTPPort)
		}},
		{"after another detach, on the restarted stand-in", func(t *testing.T) {
			if err := sb.Detach(testTopic); err != nil {
				t.Fatal(err)
			}
		}},
	}
	accepted := 0 // since the last (re)start: the stand-in keeps nothing across one
	for i, step := range steps {
		restarted := sb
		step.fault(t)
		if sb != restarted {
			accepted = 0
		}
		start := time.Now()
		if err := p.Publish(bounded(t, sendBudget), [][]byte{finished(t, sessionID(i), liveness.StatusCanceled, nil)}); err != nil {
			t.Fatalf("Publish %s (after %v): %v", step.name, time.Since(start).Round(time.Millisecond), err)
		}
		accepted++
		got := testenv.Counters(t, sb)
		if diff := cmp.Diff(services.Counters{Accepted: accepted}, got[testTopic]); diff != "" {
			t.Errorf("%s: counters of %s (-want +got):\n%s", step.name, testTopic, diff)
		}
		if diff := cmp.Diff(services.Counters{Accepted: accepted}, got[subAll]); diff != "" {
			t.Errorf("%s: counters of %s (-want +got):\n%s", step.name, subAll, diff)
		}
	}
	want := map[string]string{}
	for i := len(steps) - 2; i < len(steps); i++ {
		want[sessionID(i)+"/canceled"] = string(finished(t, sessionID(i), liveness.StatusCanceled, nil))
	}
	if diff := cmp.Diff(want, receiveAll(t, sb, "all", len(want))); diff != "" {
		t.Errorf("all received after the restart (-want +got):\n%s", diff)
	}
}
