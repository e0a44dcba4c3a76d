package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// The stand-in's entities mirror infra/: topic liveness-events, subscriptions all and review
// (passed = false).
const (
	testTopic  = "liveness-events"
	subAll     = testTopic + "/Subscriptions/all"
	subReview  = testTopic + "/Subscriptions/review"
	secretKey  = "pUbLiShEr-SeCrEt-KeY=" // the stand-in ignores it; it must never show in an error
	sendBudget = 20 * time.Second
)

func startServiceBus(t *testing.T, port, httpPort int) *services.ServiceBus {
	t.Helper()
	return testenv.StartServiceBus(t, services.ServiceBusOptions{Port: port, HTTPPort: httpPort})
}

// connString is the emulator form with a key of our own, to check it never leaks.
func connString(port int) string {
	return "Endpoint=sb://127.0.0.1:" + strconv.Itoa(port) +
		";SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + secretKey + ";UseDevelopmentEmulator=true;"
}

func newPublisher(t *testing.T, port int, opts *PublisherOptions) *Publisher {
	t.Helper()
	p, err := NewPublisher(testTopic, ConnectionString(connString(port)), opts)
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func bounded(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// finished is the stored event of a session taken to status by Finish, as fixtures_test builds them.
func finished(t *testing.T, id string, status liveness.Status, o *liveness.Outcome) []byte {
	t.Helper()
	created := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s := liveness.Session{
		ID: id, Kind: liveness.KindLiveness, Mode: liveness.ModePassiveActive, Status: liveness.StatusLinkIssued,
		TTLSeconds: 600, CreatedAt: created, ExpiresAt: created.Add(10 * time.Minute), LinkIssuedAt: created,
	}
	if err := s.Finish(status, o, created.Add(time.Minute)); err != nil {
		t.Fatalf("Finish(%s): %v", status, err)
	}
	b, err := Marshal(&s, fixtureSource)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}

func sessionID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	for _, e := range emittedEvents(t) {
		if e.name == name {
			return e.body
		}
	}
	t.Fatalf("no fixture %q", name)
	return nil
}

// receiveAll receives want messages from a subscription, completing them, and returns their
// bodies by MessageID; the stand-in's counters tell whether more arrived.
func receiveAll(t *testing.T, sb *services.ServiceBus, sub string, want int) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, m := range testenv.Receive(t, sb, testTopic, sub, want) {
		got[m.MessageID] = string(m.Body)
	}
	return got
}

func TestPublishCanceledAndExpiredOnceEachAndReviewOnlyFailures(t *testing.T) {
	sb := startServiceBus(t, 0, 0)
	p := newPublisher(t, sb.Port, nil)
	canceled, expired, passed := fixture(t, "canceled"), fixture(t, "expired"), fixture(t, "completed realface")
	if err := p.Publish(bounded(t, sendBudget), [][]byte{canceled, expired, passed}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	all := map[string]string{
		"92a3b4c5-d6e7-4f89-8102-132435465768/canceled":  string(canceled),
		"708192a3-b4c5-4d67-8f80-910213243546/expired":   string(expired),
		"6f1c2a4e-8d3b-4c7a-9e21-5b0d7f3a1c88/completed": string(passed),
	}
	if diff := cmp.Diff(all, receiveAll(t, sb, "all", 3)); diff != "" {
		t.Errorf("all received (-want +got):\n%s", diff)
	}
	review := map[string]string{ // passed = false only
		"92a3b4c5-d6e7-4f89-8102-132435465768/canceled": string(canceled),
		"708192a3-b4c5-4d67-8f80-910213243546/expired":  string(expired),
	}
	if diff := cmp.Diff(review, receiveAll(t, sb, "review", 2)); diff != "" {
		t.Errorf("review received (-want +got):\n%s", diff)
	}
	want := map[string]services.Counters{
		testTopic: {Accepted: 3},
		subAll:    {Accepted: 3, Delivered: 3, Completed: 3},
		subReview: {Accepted: 2, Delivered: 2, Completed: 2},
	}
	got := testenv.Counters(t, sb)
	for entity, w := range want {
		if diff := cmp.Diff(w, got[entity]); diff != "" {
			t.Errorf("counters of %s (-want +got):\n%s", entity, diff)
		}
	}
}

// TestPublishSameEventTwice: a resend (an ambiguous send retried, or Reconcile sending an event
// the finish path already sent) is dropped by the topic's duplicate detection.
func TestPublishSameEventTwice(t *testing.T) {
	for _, tc := range []struct {
		name  string
		calls [][][]byte
	}{
		{"two calls", [][][]byte{{nil}, {nil}}},
		{"one call", [][][]byte{{nil, nil}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := startServiceBus(t, 0, 0)
			p := newPublisher(t, sb.Port, nil)
			canceled := fixture(t, "canceled")
			for _, call := range tc.calls {
				for i := range call {
					call[i] = canceled
				}
				if err := p.Publish(bounded(t, sendBudget), call); err != nil {
					t.Fatalf("Publish: %v", err)
				}
			}
			if got := receiveAll(t, sb, "all", 1); len(got) != 1 {
				t.Errorf("all received %d messages, want 1", len(got))
			}
			got := testenv.Counters(t, sb)
			if diff := cmp.Diff(services.Counters{Accepted: 1, Deduplicated: 1}, got[testTopic]); diff != "" {
				t.Errorf("counters of %s (-want +got):\n%s", testTopic, diff)
			}
			if diff := cmp.Diff(services.Counters{Accepted: 1, Delivered: 1, Completed: 1}, got[subAll]); diff != "" {
				t.Errorf("counters of %s (-want +got):\n%s", subAll, diff)
			}
		})
	}
}

// TestPublishManyInOneCall sends more events than fit one batch of a 256 KB entity (Standard).
func TestPublishManyInOneCall(t *testing.T) {
	sb := startServiceBus(t, 0, 0)
	p := newPublisher(t, sb.Port, nil)
	const n = 600
	events := make([][]byte, n)
	failed := &liveness.Outcome{AttemptCount: 1, ModelVersion: "2024-11-15",
		Failure: &liveness.Failure{Code: "FaceWithMaskDetected", Message: "Mask detected on the face image."}}
	size := 0
	for i := range events {
		if i%3 == 0 {
			events[i] = finished(t, sessionID(i), liveness.StatusFailed, failed)
		} else {
			events[i] = finished(t, sessionID(i), liveness.StatusCanceled, nil)
		}
		size += len(events[i])
	}
	if size < 300_000 {
		t.Fatalf("the events total %d bytes; the test needs more than one 256 KB batch", size)
	}
	if err := p.Publish(bounded(t, sendBudget), events); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := testenv.Counters(t, sb)
	for entity, want := range map[string]int{testTopic: n, subAll: n, subReview: n} {
		if diff := cmp.Diff(services.Counters{Accepted: want}, got[entity]); diff != "" {
			t.Errorf("counters of %s (-want +got):\n%s", entity, diff)
		}
	}
}

// TestPublishRefusesInvalidEvents: an event NewMessage refuses is reported by its index as
// ErrInvalidEvent and never sent; the valid events of the same call are sent.
func TestPublishRefusesInvalidEvents(t *testing.T) {
	sb := startServiceBus(t, 0, 0)
	p := newPublisher(t, sb.Port, nil)
	canceled := fixture(t, "canceled")
	longID := strings.Repeat("a", 120)
	tooLong := edit(t, edit(t, edit(t, canceled, "data.sessionId", longID), "subject", longID), "id", longID+"/canceled")
	// Bigger than any Service Bus message (1 MB is the Premium batch limit), yet a valid event.
	huge := edit(t, canceled, "data.externalReference", strings.Repeat("x", 2<<20))
	cases := []struct {
		name   string
		events [][]byte
		want   map[int]error // index → sentinel; every other index is sent
		sent   int
	}{
		{"not JSON", [][]byte{[]byte("Liveness.Session.Canceled")}, map[int]error{0: ErrInvalidEvent}, 0},
		{"open status", [][]byte{edit(t, canceled, "data.status", "linkIssued")}, map[int]error{0: ErrInvalidEvent}, 0},
		{"id too long", [][]byte{tooLong}, map[int]error{0: ErrMessageIDTooLong}, 0},
		{"too large for an empty batch", [][]byte{huge}, map[int]error{0: ErrEventTooLarge}, 0},
		{"invalid among valid", [][]byte{fixture(t, "expired"), []byte("{}"), canceled},
			map[int]error{1: ErrInvalidEvent}, 2},
	}
	sent := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := p.Publish(bounded(t, sendBudget), c.events)
			var perr *PublishError
			if !errors.As(err, &perr) {
				t.Fatalf("Publish = %v, want a *PublishError", err)
			}
			if !errors.Is(err, ErrInvalidEvent) || errors.Is(err, ErrSendFailed) {
				t.Errorf("Publish = %v, want ErrInvalidEvent only (permanent)", err)
			}
			if perr.Total != len(c.events) || len(perr.Events) != len(c.want) {
				t.Errorf("PublishError lists %d of %d events, want %d of %d: %v", len(perr.Events), perr.Total, len(c.want), len(c.events), err)
			}
			for i := range c.events {
				if w := c.want[i]; w == nil && perr.Err(i) != nil || w != nil && !errors.Is(perr.Err(i), w) {
					t.Errorf("event %d: error %v, want %v", i, perr.Err(i), w)
				}
			}
			if len(err.Error()) > 2000 {
				t.Errorf("error message is %d characters long; it should name the fault, not quote the event", len(err.Error()))
			}
			sent += c.sent
			if got := testenv.Counters(t, sb)[testTopic]; got.Accepted != sent {
				t.Errorf("topic accepted %d messages in all, want %d", got.Accepted, sent)
			}
		})
	}
}

// TestPublishStandInDownThenRestarted: with the stand-in stopped Publish fails within its context
// with ErrSendFailed (transient, no secret in the text); after a restart on the same port the same
// Publisher delivers, the SDK recovering its link and connection.
func TestPublishStandInDownThenRestarted(t *testing.T) {
	sb := startServiceBus(t, 0, 0)
	p := newPublisher(t, sb.Port, &PublisherOptions{Client: &azservicebus.ClientOptions{
		RetryOptions: azservicebus.RetryOptions{RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 200 * time.Millisecond},
	}})
	first, second := fixture(t, "canceled"), fixture(t, "expired")
	if err := p.Publish(bounded(t, sendBudget), [][]byte{first}); err != nil {
		t.Fatalf("Publish before the stop: %v", err)
	}
	if err := sb.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	const budget = 3 * time.Second
	start := time.Now()
	err := p.Publish(bounded(t, budget), [][]byte{second})
	if took := time.Since(start); took > budget+2*time.Second {
		t.Errorf("Publish with the stand-in down took %v, want at most its context's %v (+2 s)", took, budget)
	}
	if !errors.Is(err, ErrSendFailed) || errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("Publish with the stand-in down = %v, want ErrSendFailed only (transient)", err)
	}
	if strings.Contains(err.Error(), secretKey) {
		t.Errorf("the error quotes the connection string's key: %v", err)
	}

	sb = startServiceBus(t, sb.Port, sb.HTTPPort)
	if err := p.Publish(bounded(t, sendBudget), [][]byte{second}); err != nil {
		t.Fatalf("Publish after the restart: %v", err)
	}
	if diff := cmp.Diff(map[string]string{
		"708192a3-b4c5-4d67-8f80-910213243546/expired": string(second),
	}, receiveAll(t, sb, "all", 1)); diff != "" {
		t.Errorf("all received after the restart (-want +got):\n%s", diff)
	}
}

// refusingCredential fails every token request and counts them.
type refusingCredential struct{ calls int }

func (c *refusingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls++
	return azcore.AccessToken{}, errors.New("no token in this test")
}

// TestNewPublisherDoesNotDial: constructing touches no network and asks for no token, so it
// cannot slow the handler's start; a bad connection string is refused without being quoted.
func TestNewPublisherDoesNotDial(t *testing.T) {
	cred := &refusingCredential{}
	for _, c := range []struct {
		name string
		conn Connection
	}{
		{"connection string to a closed port", ConnectionString(connString(1))},
		{"Entra ID", EntraID("sb-liveness.servicebus.windows.net", cred)},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			p, err := NewPublisher(testTopic, c.conn, nil)
			if err != nil {
				t.Fatalf("NewPublisher: %v", err)
			}
			if took := time.Since(start); took > 100*time.Millisecond {
				t.Errorf("NewPublisher took %v; it must not dial", took)
			}
			if err := p.Close(context.Background()); err != nil {
				t.Errorf("Close of a Publisher that never sent: %v", err)
			}
		})
	}
	if cred.calls != 0 {
		t.Errorf("NewPublisher asked the credential for %d tokens, want 0 (lazy)", cred.calls)
	}

	for _, c := range []struct {
		name   string
		entity string
		conn   Connection
	}{
		{"malformed connection string", testTopic, ConnectionString("Endpoint=sb://127.0.0.1:1;SharedAccessKey=" + secretKey)},
		{"no connection", testTopic, Connection{}},
		{"namespace without a credential", testTopic, EntraID("sb-liveness.servicebus.windows.net", nil)},
		{"no entity", "", ConnectionString(connString(1))},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewPublisher(c.entity, c.conn, nil)
			if err == nil {
				_ = p.Close(context.Background())
				t.Fatal("NewPublisher succeeded, want an error")
			}
			if strings.Contains(err.Error(), secretKey) {
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}

// TestConnectionPrintsRedacted: a Connection in a log line or %v never shows the key.
func TestConnectionPrintsRedacted(t *testing.T) {
	c := ConnectionString(connString(5672))
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.LogValue().String()} {
		if strings.Contains(s, secretKey) || strings.Contains(s, "Endpoint") {
			t.Errorf("Connection prints %q", s)
		}
	}
}
