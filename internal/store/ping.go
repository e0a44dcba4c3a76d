package store

import (
	"context"
	"errors"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Ping reports whether the table answers and accepts our credentials: a read of a row that never
// exists costs one cheap request, and its 404 (but not a missing table's) is the healthy answer.
// It makes one try, never retries: a probe answers at once, and a throttled answer (429, 503
// ServerBusy) comes back as such for the caller to tell from a table that does not answer.
func (s *Store) Ping(ctx context.Context) error {
	ctx = policy.WithRetryOptions(ctx, policy.RetryOptions{MaxRetries: -1})
	_, err := s.table.GetEntity(ctx, "health", "ping", nil)
	var re *azcore.ResponseError
	if err == nil || (errors.As(err, &re) && re.StatusCode == http.StatusNotFound && re.ErrorCode != string(aztables.TableNotFound)) {
		return nil
	}
	return unavailable("ping", err)
}
