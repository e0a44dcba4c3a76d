package store

import (
	"net"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// A SAS-authenticated client carries the signature in every request's query. When the table
// service cannot be reached, net/http's *url.Error quotes the whole URL, query included; upstream()
// wraps that error unchanged, and the handlers log err.Error() (problem, health check).
func TestTransportErrorsDoNotEchoTheSAS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every request fails in the transport

	const sig = "c2FzLXNpZ25hdHVyZS1zZWNyZXQ"
	svc, err := aztables.NewServiceClientWithNoCredential(
		"http://"+addr+"/devstoreaccount1?sv=2019-02-02&ss=t&srt=sco&sp=rwdlacu&se=2099-01-01T00:00:00Z&sig="+sig,
		&aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	_, err = New(t.Context(), svc, nil)
	if err == nil {
		t.Fatal("New against a closed port succeeded")
	}
	if strings.Contains(err.Error(), sig) {
		t.Errorf("a store error reveals the SAS signature: %.400s", err)
	}
}
