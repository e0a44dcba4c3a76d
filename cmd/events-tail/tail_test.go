package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/testing/logsink"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

const (
	topic = "liveness-events" // the topic and subscription of the stand-in's entities.json (= infra/)
	all   = topic + "/Subscriptions/all"
)

// tail is a running start() against a stand-in, with what it wrote.
type tail struct {
	sb             *services.ServiceBus
	client         *azservicebus.Client
	stdout, stderr *logsink.Buffer
	cancel         context.CancelFunc
	done           chan error
}

// startTail starts the stand-in and events-tail's start() on it, with the emulator connection
// string in the environment as `make run` gives it, and extra flags.
func startTail(t *testing.T, args ...string) *tail {
	t.Helper()
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	tl := startTailOn(t, sb.ConnectionString(), args...)
	tl.sb, tl.client = sb, testenv.ServiceBusClient(t, sb)
	return tl
}

// startTailOn starts events-tail's start() with the connection string cs in the environment.
func startTailOn(t *testing.T, cs string, args ...string) *tail {
	t.Helper()
	tl := &tail{stdout: &logsink.Buffer{}, stderr: &logsink.Buffer{}, done: make(chan error, 1)}
	env := map[string]string{"SERVICEBUS_CONNECTION_STRING": cs}
	var ctx context.Context
	ctx, tl.cancel = context.WithCancel(t.Context())
	log := slog.New(slog.NewJSONHandler(tl.stderr, nil))
	go func() {
		tl.done <- start(ctx, args, func(k string) string { return env[k] }, tl.stdout, tl.stderr, log)
	}()
	t.Cleanup(func() { tl.cancel(); <-tl.done })
	return tl
}

// stop cancels the tail's context and wants start to return nil within a few seconds.
func (tl *tail) stop(t *testing.T) {
	t.Helper()
	tl.cancel()
	select {
	case err := <-tl.done:
		tl.done <- err // for the cleanup
		if err != nil {
			t.Errorf("start returned %v after its context was canceled, want nil; stderr:\n%s", err, tl.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("start did not return within 10 s of its context being canceled; stderr:\n%s", tl.stderr)
	}
}

func (tl *tail) send(t *testing.T, msgs ...*azservicebus.Message) {
	t.Helper()
	s, err := tl.client.NewSender(topic, nil)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	defer s.Close(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, m := range msgs {
		if err := s.SendMessage(ctx, m, nil); err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
	}
}

// waitCounters polls the stand-in until the entity's counters are want, or fails after 20 s.
func (tl *tail) waitCounters(t *testing.T, entity string, want services.Counters) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := tl.sb.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if c[entity] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters of %s (-want +got):\n%s\nstderr:\n%s", entity, cmp.Diff(want, c[entity]), tl.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// docExamples are the events of docs/events.md, as the app emits them (internal/events keeps
// them true).
func docExamples(t *testing.T) [][]byte {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range regexp.MustCompile("(?s)<!-- example: [^>]*-->\n```json\n(.*?)```").FindAllSubmatch(doc, -1) {
		out = append(out, m[1])
	}
	if len(out) < 2 {
		t.Fatalf("docs/events.md holds %d examples, want at least 2", len(out))
	}
	return out
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestPrintsEachEventAsOneLineAndCompletesIt: the app's events, sent as the app's messages, come
// out as one compact JSON line each, in order, each a valid CloudEvent, and each is completed.
func TestPrintsEachEventAsOneLineAndCompletesIt(t *testing.T) {
	tl := startTail(t)
	var want []string
	for _, body := range docExamples(t)[:2] {
		m, err := events.NewMessage(body)
		if err != nil {
			t.Fatalf("events.NewMessage: %v", err)
		}
		tl.send(t, m)
		want = append(want, compact(t, body))
	}
	tl.waitCounters(t, all, services.Counters{Accepted: 2, Delivered: 2, Completed: 2})
	tl.stop(t)

	got := strings.Split(strings.TrimSuffix(tl.stdout.String(), "\n"), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stdout lines (-want +got):\n%s", diff)
	}
	for _, line := range got {
		var e event.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Errorf("line %q: not a CloudEvent for sdk-go: %v", line, err)
		} else if err := e.Validate(); err != nil {
			t.Errorf("line %q: invalid CloudEvent: %v", line, err)
		}
	}
	tl.waitCounters(t, all+"/$DeadLetterQueue", services.Counters{})
}

// TestDeadLettersWhatIsNotACloudEvent: a body that is not a structured CloudEvent goes to the
// subscription's dead-letter queue with the reason and what is missing; nothing of it is printed
// or logged, and the event after it is printed as usual.
func TestDeadLettersWhatIsNotACloudEvent(t *testing.T) {
	tl := startTail(t)
	const marker = "tok-3f9c1b" // stands for anything a stray body may hold
	good := docExamples(t)[0]
	m, err := events.NewMessage(good)
	if err != nil {
		t.Fatalf("events.NewMessage: %v", err)
	}
	tl.send(t, &azservicebus.Message{MessageID: to.Ptr("stray-1"), Body: []byte(`{"specversion":"1.0","id":"x","type":"` + marker + `"}`)}, m)
	tl.waitCounters(t, all, services.Counters{Accepted: 2, Delivered: 2, Completed: 1, DeadLettered: 1})
	tl.stop(t)

	if got, want := tl.stdout.String(), compact(t, good)+"\n"; got != want {
		t.Errorf("stdout = %q, want only the event %q", got, want)
	}
	if strings.Contains(tl.stderr.String(), marker) {
		t.Errorf("the logs quote the refused body:\n%s", tl.stderr)
	}
	if !strings.Contains(tl.stderr.String(), `"reason":"NotACloudEvent"`) {
		t.Errorf("the logs do not report the dead-lettering:\n%s", tl.stderr)
	}

	dlq, err := tl.client.NewReceiverForSubscription(topic, "all", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Close(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	msgs, err := dlq.ReceiveMessages(ctx, 1, nil)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("dead-letter queue: %d messages, %v; want 1", len(msgs), err)
	}
	d := msgs[0]
	if got := [3]string{d.MessageID, deref(d.DeadLetterReason), deref(d.DeadLetterErrorDescription)}; got != [3]string{"stray-1", "NotACloudEvent", "no source string"} {
		t.Errorf("dead-lettered (id, reason, description) = %q, want stray-1, NotACloudEvent, no source string", got)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestStopsWhenItsContextEnds: an idle tail returns nil soon after a cancel (SIGINT, SIGTERM).
func TestStopsWhenItsContextEnds(t *testing.T) {
	tl := startTail(t)
	tl.waitCounters(t, all, services.Counters{})
	time.Sleep(500 * time.Millisecond) // let it reach its receive
	tl.stop(t)
	if out := tl.stdout.String(); out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
	if !strings.Contains(tl.stderr.String(), "events-tail stopped") {
		t.Errorf("no stop line in the logs:\n%s", tl.stderr)
	}
	if strings.Contains(tl.stderr.String(), unreachable) {
		t.Errorf("a reachable stand-in was reported unreachable:\n%s", tl.stderr)
	}
}

// TestKeepsTailingAcrossAStandInRestart: a lost connection is retried, not fatal; after the
// stand-in comes back on its port, the next event is printed.
func TestKeepsTailingAcrossAStandInRestart(t *testing.T) {
	tl := startTail(t)
	tl.waitCounters(t, all, services.Counters{})
	time.Sleep(500 * time.Millisecond) // let it reach its receive
	if err := tl.sb.Stop(); err != nil {
		t.Fatal(err)
	}
	tl.sb = testenv.StartServiceBus(t, services.ServiceBusOptions{Port: tl.sb.Port, HTTPPort: tl.sb.HTTPPort})
	body := docExamples(t)[0]
	m, err := events.NewMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	tl.send(t, m)
	tl.waitCounters(t, all, services.Counters{Accepted: 1, Delivered: 1, Completed: 1})
	tl.stop(t)
	if got, want := tl.stdout.String(), compact(t, body)+"\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

// TestUnknownSubscriptionIsAnError: a subscription the topic does not have ends the tail with an
// error that names it, rather than retrying for ever.
func TestUnknownSubscriptionIsAnError(t *testing.T) {
	tl := startTail(t, "-subscription", "nosuch")
	select {
	case err := <-tl.done:
		tl.done <- err
		if err == nil || !strings.Contains(err.Error(), "liveness-events/Subscriptions/nosuch") {
			t.Errorf("start = %v, want an error naming liveness-events/Subscriptions/nosuch", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("start still runs 30 s after receiving from a missing subscription; stderr:\n%s", tl.stderr)
	}
}

func TestCheckCloudEvent(t *testing.T) {
	tests := []struct {
		name, body, line, problem string
	}{
		{"minimal", `{"specversion":"1.0","id":"a","type":"t","source":"/s"}`, `{"specversion":"1.0","id":"a","type":"t","source":"/s"}` + "\n", ""},
		{"compacted, order kept", "{\n  \"type\": \"t\",\n  \"id\": \"a\",\n  \"source\": \"/s\",\n  \"specversion\": \"1.0\",\n  \"data\": {\"n\": 1}\n}\n",
			`{"type":"t","id":"a","source":"/s","specversion":"1.0","data":{"n":1}}` + "\n", ""},
		{"not JSON", `hello`, "", "the body is not a JSON object"},
		{"empty", ``, "", "the body is not a JSON object"},
		{"array", `[{"specversion":"1.0"}]`, "", "the body is not a JSON object"},
		{"null", `null`, "", "no specversion string"},
		{"no specversion", `{"id":"a","type":"t","source":"/s"}`, "", "no specversion string"},
		{"specversion 0.3", `{"specversion":"0.3","id":"a","type":"t","source":"/s"}`, "", "specversion is not 1.0"},
		{"no id", `{"specversion":"1.0","type":"t","source":"/s"}`, "", "no id string"},
		{"empty id", `{"specversion":"1.0","id":"","type":"t","source":"/s"}`, "", "no id string"},
		{"numeric id", `{"specversion":"1.0","id":7,"type":"t","source":"/s"}`, "", "no id string"},
		{"no type", `{"specversion":"1.0","id":"a","source":"/s"}`, "", "no type string"},
		{"no source", `{"specversion":"1.0","id":"a","type":"t"}`, "", "no source string"},
		{"source null", `{"specversion":"1.0","id":"a","type":"t","source":null}`, "", "no source string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, problem := checkCloudEvent([]byte(tt.body))
			if string(line) != tt.line || problem != tt.problem {
				t.Errorf("checkCloudEvent(%q) = %q, %q; want %q, %q", tt.body, line, problem, tt.line, tt.problem)
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	const cs = "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true;"
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    settings
		wantErr string
	}{
		{"connection string, defaults", nil, map[string]string{"SERVICEBUS_CONNECTION_STRING": cs},
			settings{connectionString: cs, topic: "liveness-events", subscription: "all"}, ""},
		{"namespace, env names", nil, map[string]string{"SERVICEBUS_NAMESPACE": "sb-x.servicebus.windows.net", "SERVICEBUS_ENTITY": "t", "SERVICEBUS_SUBSCRIPTION": "review"},
			settings{namespace: "sb-x.servicebus.windows.net", topic: "t", subscription: "review"}, ""},
		{"flags win over env", []string{"-topic", "t2", "-subscription", "s2", "-namespace", "n.servicebus.windows.net"}, map[string]string{"SERVICEBUS_ENTITY": "t"},
			settings{namespace: "n.servicebus.windows.net", topic: "t2", subscription: "s2"}, ""},
		{"neither", nil, nil, settings{}, "set SERVICEBUS_CONNECTION_STRING (local) or SERVICEBUS_NAMESPACE (Azure)"},
		{"both", nil, map[string]string{"SERVICEBUS_CONNECTION_STRING": cs, "SERVICEBUS_NAMESPACE": "n.servicebus.windows.net"},
			settings{}, "set only one of SERVICEBUS_CONNECTION_STRING and SERVICEBUS_NAMESPACE"},
		{"not a connection string", nil, map[string]string{"SERVICEBUS_CONNECTION_STRING": "https://x"},
			settings{}, "SERVICEBUS_CONNECTION_STRING must start with Endpoint=sb://"},
		{"namespace as URL", nil, map[string]string{"SERVICEBUS_NAMESPACE": "sb://n.servicebus.windows.net/"},
			settings{}, "SERVICEBUS_NAMESPACE must be a host name such as <name>.servicebus.windows.net"},
		{"empty subscription", []string{"-subscription="}, map[string]string{"SERVICEBUS_CONNECTION_STRING": cs},
			settings{}, "the topic and the subscription must not be empty"},
		{"stray argument", []string{"all"}, map[string]string{"SERVICEBUS_CONNECTION_STRING": cs},
			settings{}, `unexpected arguments ["all"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSettings(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if gotErr := errString(err); gotErr != tt.wantErr {
				t.Fatalf("error = %q, want %q", gotErr, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(settings{})); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
