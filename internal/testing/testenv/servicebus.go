package testenv

import (
	"context"
	"testing"

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
