package testenv

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// StartServiceBus starts the Service Bus stand-in with o (o.Root defaults to the repository root;
// zero ports are free ones) and stops it when tb ends. Restarting on the same ports is a second
// call with the first one's Port and HTTPPort.
func StartServiceBus(tb testing.TB, o services.ServiceBusOptions) *services.ServiceBus {
	tb.Helper()
	if o.Root == "" {
		o.Root = RepoRoot(tb)
	}
	sb, err := services.StartServiceBus(o)
	if err != nil {
		tb.Fatalf("testenv: start the Service Bus stand-in: %v", err)
	}
	tb.Cleanup(func() { _ = sb.Stop() })
	return sb
}

// ServiceBusClient is an azservicebus client of sb through its emulator connection string,
// closed when tb ends.
func ServiceBusClient(tb testing.TB, sb *services.ServiceBus) *azservicebus.Client {
	tb.Helper()
	client, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), nil)
	if err != nil {
		tb.Fatalf("testenv: Service Bus client: %v", err)
	}
	tb.Cleanup(func() { _ = client.Close(context.Background()) })
	return client
}

// Counters are sb's per-entity counters now; tb fails when they cannot be read.
func Counters(tb testing.TB, sb *services.ServiceBus) map[string]services.Counters {
	tb.Helper()
	c, err := sb.Counters()
	if err != nil {
		tb.Fatalf("testenv: Service Bus counters: %v", err)
	}
	return c
}

// EnvServiceBusConnectionString names the variable that points tests at a Service Bus stand-in
// already running; MainWithServiceBus sets it for the test binary.
const EnvServiceBusConnectionString = "SERVICEBUS_TEST_CONNECTION_STRING"

// SharedServiceBus is the emulator connection string of the stand-in that MainWithServiceBus
// started for the test binary, else of a new one started for tb. Tests that count messages start
// their own with StartServiceBus instead: the shared one's counters add up every test's events.
func SharedServiceBus(tb testing.TB) string {
	tb.Helper()
	if cs := os.Getenv(EnvServiceBusConnectionString); cs != "" {
		return cs
	}
	return StartServiceBus(tb, services.ServiceBusOptions{}).ConnectionString()
}

// MainWithServiceBus is Main with, besides the shared Azurite, one Service Bus stand-in for the
// whole test binary (see SharedServiceBus). Call it from TestMain.
func MainWithServiceBus(m *testing.M) {
	if os.Getenv(EnvServiceBusConnectionString) != "" {
		Main(m)
		return
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		os.Exit(1)
	}
	sb, err := services.StartServiceBus(services.ServiceBusOptions{Root: root})
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: start the Service Bus stand-in: %v\n", err)
		os.Exit(1)
	}
	os.Setenv(EnvServiceBusConnectionString, sb.ConnectionString())
	// Main exits the process: stop the stand-in when the binary's tests are done, before that.
	code := withAzurite(m)
	// The figure of what the binary's tests sent through it (shown by go test -v).
	if c, err := sb.Counters(); err == nil {
		for _, name := range slices.Sorted(maps.Keys(c)) {
			if n := c[name]; n.Accepted+n.Deduplicated > 0 {
				fmt.Printf("testenv: shared Service Bus stand-in: %s accepted %d, deduplicated %d, delivered %d\n", name, n.Accepted, n.Deduplicated, n.Delivered)
			}
		}
	}
	if err := sb.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stopping the Service Bus stand-in: %v\n", err)
	}
	os.Exit(code)
}

// Receive takes want messages from subscription sub of topic on sb, completing each, in the order
// they arrive; tb fails when they do not all arrive within 20 s.
func Receive(tb testing.TB, sb *services.ServiceBus, topic, sub string, want int) []*azservicebus.ReceivedMessage {
	tb.Helper()
	r, err := ServiceBusClient(tb, sb).NewReceiverForSubscription(topic, sub, nil)
	if err != nil {
		tb.Fatalf("testenv: receiver for %s/%s: %v", topic, sub, err)
	}
	defer r.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []*azservicebus.ReceivedMessage
	for len(got) < want {
		msgs, err := r.ReceiveMessages(ctx, 1, nil) // one credit at a time: the SDK releases what arrives past a call
		if err != nil {
			tb.Fatalf("testenv: receive from %s/%s after %d of %d messages: %v", topic, sub, len(got), want, err)
		}
		for _, m := range msgs {
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				tb.Fatalf("testenv: complete a message of %s/%s: %v", topic, sub, err)
			}
			got = append(got, m)
		}
	}
	return got
}

// SilentPort is the port of a 127.0.0.1 listener that accepts TCP connections and never sends a
// byte, as a namespace behind a black-holing network path would; closed when tb ends.
func SilentPort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testenv: silent listener: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}
