package upstream

import (
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/liveness-quicklink/functions/internal/testing/redirecttrap"
)

// TestNoRedirects: every redirect status comes back as the answer, and the target sees nothing,
// whatever transport the caller gave.
func TestNoRedirects(t *testing.T) {
	caller := &http.Client{}
	transports := []struct {
		name string
		in   policy.Transporter
	}{
		{"default", nil},
		{"caller's http.Client", caller},
	}
	for _, tr := range transports {
		for _, status := range []int{301, 302, 303, 307, 308} {
			t.Run(tr.name+"/"+http.StatusText(status), func(t *testing.T) {
				trap := redirecttrap.New(t, status)
				req, _ := http.NewRequest(http.MethodPost, trap.URL, nil)
				req.Header.Set("Authorization", "Bearer secret")
				resp, err := NoRedirects(tr.in).Do(req)
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != status {
					t.Errorf("status = %d, want the redirect %d itself", resp.StatusCode, status)
				}
				if n := trap.Reached(); n != 0 {
					t.Errorf("the redirect target got %d requests, want 0", n)
				}
				if caller.CheckRedirect != nil {
					t.Errorf("NoRedirects changed the caller's client")
				}
			})
		}
	}
}
