package store

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/redirecttrap"
)

// TestTableCallsFollowNoRedirect: a redirect from the table endpoint is an error, and the
// request's SharedKey signature goes nowhere else.
func TestTableCallsFollowNoRedirect(t *testing.T) {
	trap := redirecttrap.New(t, http.StatusTemporaryRedirect)
	svc, err := NewServiceClientFromConnectionString("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
		"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
		"TableEndpoint=" + trap.URL + "/devstoreaccount1;")
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := New(ctx, svc, nil); err == nil {
		t.Errorf("New against a redirecting endpoint: no error")
	}
	if n := trap.Reached(); n != 0 {
		t.Errorf("the redirect target got %d requests (with the signature), want 0", n)
	}
}
