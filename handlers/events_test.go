package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	cloudevent "github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// The Service Bus entities that infra/ deploys and the stand-in mirrors.
const (
	topic        = "liveness-events"
	subAll       = "liveness-events/Subscriptions/all"
	subReview    = "liveness-events/Subscriptions/review"
	waitForever  = 48 * time.Hour // past every entry a test files, retries included
	announceWait = 5 * time.Minute
)

// counters reads the stand-in's counters of the topic and its two subscriptions.
func counters(t *testing.T, sb *services.ServiceBus) (top, all, review services.Counters) {
	t.Helper()
	c := testenv.Counters(t, sb)
	return c[topic], c[subAll], c[subReview]
}

// reportCounters logs what the stand-in counted, for the figures of `go test -v -run TestEvents`.
func reportCounters(t *testing.T, sb *services.ServiceBus) {
	t.Helper()
	top, all, review := counters(t, sb)
	t.Logf("stand-in: topic accepted %d, deduplicated %d; all accepted %d, delivered %d; review accepted %d, delivered %d",
		top.Accepted, top.Deduplicated, all.Accepted, all.Delivered, review.Accepted, review.Delivered)
}

// cancel cancels v and fails t unless the answer is 200.
func (a *app) cancel(v sessionView) {
	a.t.Helper()
	if r := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil); r.status != http.StatusOK {
		a.t.Fatalf("DELETE %s = %d %s, want 200", v.SessionID, r.status, r.body)
	}
}

// checkDelivered checks that msgs are design §6 messages of the CloudEvents with ids want (in that
// order when ordered, else in any): a structured CloudEvent that the CloudEvents SDK reads, its id the MessageID, its type
// the Subject, and typed application properties.
func checkDelivered(t *testing.T, msgs []*azservicebus.ReceivedMessage, want []string, ordered bool) {
	t.Helper()
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.MessageID)
		var ev cloudevent.Event
		if err := ev.UnmarshalJSON(m.Body); err != nil {
			t.Errorf("message %s: body is not a CloudEvent: %v", m.MessageID, err)
			continue
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("message %s: invalid CloudEvent: %v", m.MessageID, err)
		}
		status, _ := m.ApplicationProperties["status"].(string)
		passed, isBool := m.ApplicationProperties["passed"].(bool)
		switch {
		case ev.ID() != m.MessageID:
			t.Errorf("CloudEvent id %q, MessageID %q: want the same", ev.ID(), m.MessageID)
		case m.Subject == nil || *m.Subject != ev.Type():
			t.Errorf("message %s: Subject %v, want the CloudEvent type %s", m.MessageID, m.Subject, ev.Type())
		case m.ContentType == nil || *m.ContentType != "application/cloudevents+json":
			t.Errorf("message %s: ContentType %v, want application/cloudevents+json", m.MessageID, m.ContentType)
		case !strings.HasSuffix(m.MessageID, "/"+status):
			t.Errorf("message %s: status property %q does not match its id", m.MessageID, status)
		case !isBool || passed != (status == "completed" && strings.Contains(string(m.Body), `"passed":true`)):
			t.Errorf("message %s: passed property %#v, want a boolean true only for a passed completion", m.MessageID, m.ApplicationProperties["passed"])
		}
	}
	if !ordered {
		want = slices.Sorted(slices.Values(want))
		slices.Sort(ids)
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("delivered message ids (-want +got):\n%s", diff)
	}
}

// TestEventsOncePerFinalState: a canceled, an expired and a completed session each reach the
// `all` subscription as exactly one message, Reconcile's later runs send nothing again, and the
// `review` subscription (passed = false) gets only the two that did not pass.
func TestEventsOncePerFinalState(t *testing.T) {
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	a := newApp(t, &appOptions{ServiceBus: sb})
	canceled, expired, completed := a.start(``), a.start(``), a.start(``)
	if err := a.stub.AddAttempt(completed.SessionID, facestub.Attempt{Decision: "realface"}); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	a.cancel(canceled)
	a.sentEvent(canceled.SessionID) // by the request itself, right after the commit
	if top, _, _ := counters(t, sb); top.Accepted != 1 {
		t.Errorf("topic accepted %d messages after the cancel, want its event", top.Accepted)
	}
	a.passDue(expired) // the three share a TTL
	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 4 due, 2 finalized, 0 events sent, 0 failed, 0 purged, 0 left" {
		// 3 expiry entries and the cancel's announce entry; finish sends, not the batched resend.
		t.Errorf("Reconcile = %q, want 2 sessions finalized", logs)
	}
	a.sentEvent(expired.SessionID)
	a.sentEvent(completed.SessionID)
	a.clock.Advance(waitForever)
	for range 2 {
		if logs := a.reconcile(); len(logs) != 1 || !strings.Contains(logs[0], " 0 events sent, 0 failed, 0 purged, 0 left") {
			t.Errorf("a later Reconcile = %q, want no event sent again and nothing failed", logs)
		}
	}

	top, all, review := counters(t, sb)
	if top.Accepted != 3 || top.Deduplicated != 0 || all.Accepted != 3 || review.Accepted != 2 {
		t.Errorf("accepted: topic %d (deduplicated %d), all %d, review %d; want 3 (0), 3, 2", top.Accepted, top.Deduplicated, all.Accepted, review.Accepted)
	}
	checkDelivered(t, testenv.Receive(t, sb, topic, "all", 3), []string{
		canceled.SessionID + "/canceled", expired.SessionID + "/expired", completed.SessionID + "/completed",
	}, false)
	wantReview := []string{canceled.SessionID + "/canceled", expired.SessionID + "/expired"}
	got := testenv.Receive(t, sb, topic, "review", 2)
	checkDelivered(t, got, wantReview, false)
	if _, all, review = counters(t, sb); all.Delivered != 3 || all.Completed != 3 || review.Delivered != 2 {
		t.Errorf("delivered: all %d (completed %d), review %d; want exactly 3 (3) and 2", all.Delivered, all.Completed, review.Delivered)
	}
	for _, v := range []sessionView{canceled, expired, completed} {
		a.sentEvent(v.SessionID)
		if due := a.workDue(v.SessionID); len(due) != 0 {
			t.Errorf("due entries of %s after its event was sent = %v, want none but its purge", v.SessionID, due)
		}
	}
	reportCounters(t, sb)
}

// TestEventsWhileServiceBusIsDown: with the stand-in stopped, cancels still answer 200 at once
// and their events stay unsent; Reconcile runs meanwhile keep the entries; after a restart on the
// same port one Reconcile run sends them all in one batch, oldest first, each delivered once.
func TestEventsWhileServiceBusIsDown(t *testing.T) {
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	a := newApp(t, &appOptions{ServiceBus: sb})
	sessions := []sessionView{a.start(``), a.start(``), a.start(``)}
	if err := sb.Stop(); err != nil {
		t.Fatalf("stop the stand-in: %v", err)
	}
	for _, v := range sessions {
		start := time.Now()
		a.cancel(v)
		if took := time.Since(start); took > sendTimeout+2*time.Second {
			t.Errorf("DELETE with Service Bus down took %v, want at most the send timeout %v (+2 s)", took, sendTimeout)
		}
		if row, found := a.outbox(v.SessionID); !found || row.Sent {
			t.Errorf("event of %s with Service Bus down: recorded %v, sent %v; want recorded, unsent", v.SessionID, found, row.Sent)
		}
		a.clock.Advance(time.Minute) // one due bucket each, so "oldest first" is an order
	}
	if !strings.Contains(string(a.logs.Bytes()), `"msg":"event left to Reconcile"`) {
		t.Errorf("no log line says the event was left to Reconcile")
	}

	a.clock.Advance(announceWait)
	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 3 due, 0 finalized, 0 events sent, 3 failed, 0 purged, 3 left" {
		t.Errorf("Reconcile with Service Bus down = %q, want the 3 announce entries failed (kept for later)", logs)
	}
	for _, v := range sessions {
		if due := a.dueFor(v.SessionID); !slices.ContainsFunc(due, func(d liveness.DueItem) bool { return d.Reason == liveness.DueAnnounce }) {
			t.Errorf("due entries of %s after a failed send = %v, want its announce entry kept", v.SessionID, due)
		}
	}

	sb = testenv.StartServiceBus(t, services.ServiceBusOptions{Port: sb.Port, HTTPPort: sb.HTTPPort})
	a.clock.Advance(2 * time.Hour) // past the entries' retry delay, and the sessions' expiry
	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 6 due, 0 finalized, 3 events sent, 0 failed, 0 purged, 0 left" {
		t.Errorf("Reconcile after the restart = %q, want the 3 events sent", logs)
	}
	a.clock.Advance(waitForever)
	a.reconcile()
	var want []string
	for _, v := range sessions {
		want = append(want, v.SessionID+"/canceled")
		a.sentEvent(v.SessionID)
	}
	checkDelivered(t, testenv.Receive(t, sb, topic, "all", 3), want, true)
	if top, all, _ := counters(t, sb); top.Accepted != 3 || top.Deduplicated != 0 || all.Delivered != 3 {
		t.Errorf("after the restart: topic accepted %d (deduplicated %d), all delivered %d; want 3 (0), 3", top.Accepted, top.Deduplicated, all.Delivered)
	}
	if strings.Contains(string(a.logs.Bytes()), "past the resend horizon") {
		t.Errorf("a resend within the horizon was logged as past it")
	}
	reportCounters(t, sb)
}

// TestEventsResendIsDeduplicated: when the send reached the topic but marking the row sent
// failed, Reconcile resends the same bytes under the same MessageID and the topic drops the copy.
func TestEventsResendIsDeduplicated(t *testing.T) {
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	a := newApp(t, &appOptions{ServiceBus: sb})
	v := a.start(``)
	proxy := a.throughProxy(t)
	proxy.Inject(faultproxy.Rule{Method: "PATCH", Path: "RowKey='event'", Fault: faultproxy.Refuse, Times: 100})
	a.cancel(v)
	if row, found := a.outbox(v.SessionID); !found || row.Sent {
		t.Fatalf("event row after a failed mark: recorded %v, sent %v; want recorded, unsent", found, row.Sent)
	}
	proxy.Clear()

	a.clock.Advance(announceWait)
	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 1 due, 0 finalized, 1 events sent, 0 failed, 0 purged, 0 left" {
		t.Errorf("Reconcile = %q, want the event sent again", logs)
	}
	a.sentEvent(v.SessionID)
	checkDelivered(t, testenv.Receive(t, sb, topic, "all", 1), []string{v.SessionID + "/canceled"}, true)
	if top, all, _ := counters(t, sb); top.Accepted != 1 || top.Deduplicated != 1 || all.Delivered != 1 {
		t.Errorf("topic accepted %d, deduplicated %d, all delivered %d; want 1, 1, 1", top.Accepted, top.Deduplicated, all.Delivered)
	}
	reportCounters(t, sb)
}

// TestEventsPastTheResendHorizonAreStillSent: an event unsent for longer than ResendHorizon is
// sent all the same (never lost), with a warning that duplicate detection may no longer cover it.
func TestEventsPastTheResendHorizonAreStillSent(t *testing.T) {
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	a := newApp(t, &appOptions{ServiceBus: sb})
	v := a.start(``)
	if err := sb.Stop(); err != nil {
		t.Fatalf("stop the stand-in: %v", err)
	}
	a.cancel(v)
	sb = testenv.StartServiceBus(t, services.ServiceBusOptions{Port: sb.Port, HTTPPort: sb.HTTPPort})
	a.clock.Advance(ResendHorizon + time.Hour) // the session's expiry entry is due too
	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 2 due, 0 finalized, 1 events sent, 0 failed, 0 purged, 0 left" {
		t.Errorf("Reconcile = %q, want the late event sent", logs)
	}
	checkDelivered(t, testenv.Receive(t, sb, topic, "all", 1), []string{v.SessionID + "/canceled"}, true)
	lines := slices.DeleteFunc(strings.Split(string(a.logs.Bytes()), "\n"), func(l string) bool {
		return !strings.Contains(l, "past the resend horizon")
	})
	if len(lines) != 1 || !strings.Contains(lines[0], `"level":"WARN"`) || !strings.Contains(lines[0], v.SessionID) {
		t.Errorf("log lines about the late resend = %q, want one WARN naming the session", lines)
	}
	reportCounters(t, sb)
}

// TestEventsWithASilentServiceBus: a namespace that accepts TCP and never answers (a black-holing
// network path) holds no request past the send timeout: the first cancel waits that long at
// most, the next ones not at all (sends pause after a failure), and Reconcile's batch is bounded
// too; every event stays unsent, its entry kept.
func TestEventsWithASilentServiceBus(t *testing.T) {
	a := newApp(t, nil)
	pub := silentPublisher(t)
	// As cmd/handler does at start: a warm-up that holds the SDK's link lock while it dials.
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // ends as the test does
		defer cancel()
		_ = pub.Connect(ctx)
	}()
	a.serveWithEvents(t, pub)

	sessions := []sessionView{a.start(``), a.start(``), a.start(``)}
	for i, v := range sessions {
		limit := time.Second // paused after the first failure
		if i == 0 {
			limit = sendTimeout + 2*time.Second
		}
		start := time.Now()
		a.cancel(v)
		if took := time.Since(start); took > limit {
			t.Errorf("DELETE %d with a silent Service Bus took %v, want at most %v", i+1, took, limit)
		}
		if row, found := a.outbox(v.SessionID); !found || row.Sent {
			t.Errorf("event of DELETE %d: recorded %v, sent %v; want recorded, unsent", i+1, found, row.Sent)
		}
	}
	a.clock.Advance(announceWait) // the pause is over: Reconcile tries the topic again
	start := time.Now()
	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 3 due, 0 finalized, 0 events sent, 3 failed, 0 purged, 3 left" {
		t.Errorf("Reconcile with a silent Service Bus = %q, want the 3 announce entries failed (kept)", logs)
	}
	if took := time.Since(start); took > resendTimeout+2*time.Second {
		t.Errorf("Reconcile with a silent Service Bus took %v, want at most its resend timeout %v (+2 s)", took, resendTimeout)
	}
	if !strings.Contains(string(a.logs.Bytes()), errSendPaused.Error()) {
		t.Errorf("no log line says a send was skipped while paused")
	}
}

// silentPublisher is a publisher to a namespace that accepts TCP and never answers (a
// black-holing network path), closed when t ends.
func silentPublisher(t *testing.T) *events.Publisher {
	t.Helper()
	cs := "Endpoint=sb://127.0.0.1:" + strconv.Itoa(testenv.SilentPort(t)) +
		";SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=c2lsZW50;UseDevelopmentEmulator=true;"
	pub, err := events.NewPublisher(topic, events.ConnectionString(cs), nil)
	if err != nil {
		t.Fatalf("events.NewPublisher: %v", err)
	}
	t.Cleanup(func() { _ = pub.Close(context.Background()) })
	return pub
}

// serveWithEvents makes a's server one that publishes through pub, served at a.url (with the
// contract and secret checks of the harness), its other dependencies and settings as they were.
func (a *app) serveWithEvents(t *testing.T, pub EventPublisher) {
	t.Helper()
	opts := a.srv.opts
	a.srv = New(Deps{Face: a.face, QuickLinks: a.srv.quickLinks, Store: a.store, Events: pub}, a.srv.settings, &opts)
	hs := httptest.NewServer(a.api.Middleware(t, noSecrets(t, a.secrets, a.srv.Handler())))
	t.Cleanup(hs.Close)
	a.url = hs.URL
}
