package services

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

func TestStartServiceBusListensAndStopLeavesNothing(t *testing.T) {
	sb, err := StartServiceBus(ServiceBusOptions{Root: repoRoot(t)})
	if err != nil {
		t.Fatalf("StartServiceBus: %v", err)
	}
	for name, p := range map[string]int{"AMQP": sb.Port, "HTTP": sb.HTTPPort} {
		if p == 0 || !listening(p) {
			t.Errorf("the %s port %d does not listen", name, p)
		}
	}
	if want := "Endpoint=sb://127.0.0.1:"; !strings.HasPrefix(sb.ConnectionString(), want) || !strings.Contains(sb.ConnectionString(), "UseDevelopmentEmulator=true;") {
		t.Errorf("connection string %q: want the emulator form on 127.0.0.1", sb.ConnectionString())
	}
	c, err := sb.Counters()
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	if _, ok := c["liveness-events/Subscriptions/review"]; !ok {
		t.Errorf("counters %v name no liveness-events/Subscriptions/review: the repository's entities file was not used", c)
	}
	if err := sb.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := syscall.Kill(sb.Process().Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the stand-in (pid %d) still exists after Stop: kill(0) = %v", sb.Process().Pid(), err)
	}
	if listening(sb.Port) {
		t.Errorf("port %d still accepts connections after Stop", sb.Port)
	}
}

// TestStartServiceBusOnATakenPortSaysSo: a port the caller chose that another process holds is
// a clear error, not a hang until the ready timeout.
func TestStartServiceBusOnATakenPortSaysSo(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sb, err := StartServiceBus(ServiceBusOptions{Root: repoRoot(t), Port: l.Addr().(*net.TCPAddr).Port})
	if err == nil {
		_ = sb.Stop()
		t.Fatal("StartServiceBus on a taken port succeeded")
	}
	if !strings.Contains(err.Error(), "EADDRINUSE") {
		t.Errorf("StartServiceBus on a taken port: %v; want the stand-in's EADDRINUSE", err)
	}
}

// TestServiceBusFaultKnobs: the put-token count grows with every claim the SDK negotiates; after
// Detach or DropConnections the SDK's next send recovers (renegotiating its claims), and the
// message is taken once.
func TestServiceBusFaultKnobs(t *testing.T) {
	sb, err := StartServiceBus(ServiceBusOptions{Root: repoRoot(t)})
	if err != nil {
		t.Fatalf("StartServiceBus: %v", err)
	}
	t.Cleanup(func() { _ = sb.Stop() })
	client, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close(context.Background()) })
	const topic = "liveness-events"
	sender, err := client.NewSender(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	putTokens := func() int {
		t.Helper()
		n, err := sb.CBSPutTokens()
		if err != nil {
			t.Fatalf("CBSPutTokens: %v", err)
		}
		return n
	}
	if n := putTokens(); n != 0 {
		t.Errorf("put-tokens before any link = %d, want 0", n)
	}
	steps := []struct {
		name  string
		fault func() error
	}{
		{"first send", func() error { return nil }},
		{"after Detach of the topic", func() error { return sb.Detach(topic) }},
		{"after DropConnections", sb.DropConnections},
	}
	for i, step := range steps {
		before := putTokens()
		if err := step.fault(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		err := sender.SendMessage(ctx, &azservicebus.Message{MessageID: to.Ptr(strconv.Itoa(i)), Body: []byte("{}")}, nil)
		cancel()
		if err != nil {
			t.Fatalf("SendMessage %s: %v", step.name, err)
		}
		// A new link negotiates two claims: the entity and its $management node.
		if got := putTokens() - before; got != 2 {
			t.Errorf("%s: %d put-tokens answered, want 2 (the link was (re)opened)", step.name, got)
		}
		c, err := sb.Counters()
		if err != nil {
			t.Fatal(err)
		}
		// Deduplicated counts a transfer taken on a link already detached, then resent.
		if got := c[topic]; got.Accepted != i+1 || got.Deduplicated != 0 {
			t.Errorf("%s: the topic accepted %d messages in all and deduplicated %d, want %d and 0", step.name, got.Accepted, got.Deduplicated, i+1)
		}
	}
	for _, entity := range []string{"", "no-such-topic"} {
		if err := sb.Detach(entity); err == nil {
			t.Errorf("Detach(%q) succeeded, want an error naming the bad entity", entity)
		}
	}
}

// TestServiceBusConnectionsCountsOpenAMQPConnections: a client that connected shows as one open
// connection until it closes, so tests can tell that a process closed its Service Bus client.
func TestServiceBusConnectionsCountsOpenAMQPConnections(t *testing.T) {
	sb, err := StartServiceBus(ServiceBusOptions{Root: repoRoot(t)})
	if err != nil {
		t.Fatalf("StartServiceBus: %v", err)
	}
	defer sb.Stop()
	wantOpen := func(when string, want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, err := sb.Connections()
			if err != nil {
				t.Fatalf("Connections %s: %v", when, err)
			}
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Connections %s = %d, want %d", when, n, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wantOpen("before any client", 0)

	client, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := client.NewSender("liveness-events", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := sender.SendMessage(ctx, &azservicebus.Message{Body: []byte("{}")}, nil); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	wantOpen("after a send", 1)

	if err := client.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantOpen("after the client closed", 0)
}
