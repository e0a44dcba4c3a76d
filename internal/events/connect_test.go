package events

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

func TestConnectOpensTheConnectionBeforeAnyPublish(t *testing.T) {
	sb := startServiceBus(t, 0, 0)
	p := newPublisher(t, sb.Port, nil)
	if n, err := sb.Connections(); err != nil || n != 0 {
		t.Fatalf("Connections after NewPublisher = %d, %v; want 0 (NewPublisher does not dial)", n, err)
	}
	if err := p.Connect(bounded(t, sendBudget)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if n, err := sb.Connections(); err != nil || n != 1 {
		t.Errorf("Connections after Connect = %d, %v; want 1", n, err)
	}
}

func TestConnectToNothingIsASendFailureWithoutTheKey(t *testing.T) {
	port := closedPort(t)
	p := newPublisher(t, port, &PublisherOptions{Client: &azservicebus.ClientOptions{
		RetryOptions: azservicebus.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond},
	}})
	err := p.Connect(bounded(t, sendBudget))
	if !errors.Is(err, ErrSendFailed) {
		t.Fatalf("Connect to a closed port = %v, want ErrSendFailed", err)
	}
	if strings.Contains(err.Error(), secretKey) {
		t.Errorf("Connect's error quotes the SAS key: %v", err)
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
