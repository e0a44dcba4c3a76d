package upstream

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Defaults for an upstream call made while an HTTP function waits: each try is bounded, and so is
// the whole call, retries and backoff included, well inside the Functions host's own timeout.
const (
	DefaultTryTimeout    = 10 * time.Second
	DefaultTotalTimeout  = 30 * time.Second
	DefaultRetryDelay    = 500 * time.Millisecond
	DefaultMaxRetryDelay = 5 * time.Second
)

// RetryOptions fills the zero fields of r with the defaults above: 3 retries (azcore's default
// for MaxRetries 0), 500ms initial delay, 5s cap, and the status codes 408, 429, 500, 502, 503,
// 504. tryTimeout, when positive, overrides r.TryTimeout. A negative RetryDelay means no delay, as
// azcore documents (azcore v1.24 itself turns it into MaxRetryDelay).
func RetryOptions(r policy.RetryOptions, tryTimeout time.Duration) policy.RetryOptions {
	switch {
	case tryTimeout > 0:
		r.TryTimeout = tryTimeout
	case r.TryTimeout <= 0:
		r.TryTimeout = DefaultTryTimeout
	}
	switch {
	case r.RetryDelay == 0:
		r.RetryDelay = DefaultRetryDelay
	case r.RetryDelay < 0:
		r.RetryDelay = time.Nanosecond
	}
	if r.MaxRetryDelay == 0 {
		r.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if r.StatusCodes == nil {
		r.StatusCodes = []int{
			http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		}
	}
	return r
}

// LogOptions makes a caller's azcore logging options safe for a call that carries secrets: bodies
// are never logged, and Authorization and secretHeaders are dropped from the allow-list, so that
// no option can make azcore log them.
func LogOptions(l policy.LogOptions, secretHeaders ...string) policy.LogOptions {
	l.IncludeBody = false
	var kept []string
	for _, h := range l.AllowedHeaders {
		secret := strings.EqualFold(h, "Authorization")
		for _, s := range secretHeaders {
			secret = secret || strings.EqualFold(h, s)
		}
		if !secret {
			kept = append(kept, h)
		}
	}
	l.AllowedHeaders = kept
	return l
}

// TotalTimeout is a per-call policy that bounds one call, its retries and their backoff included,
// to d (nothing when d is not positive): for clients whose calls azcore builds inside the SDK
// (aztables), where no caller code sets a deadline around each call. Place it in PerCallPolicies,
// which run before the retry policy. The body download policy reads the body before the
// pipeline returns, so ending the deadline then cuts nothing short.
func TotalTimeout(d time.Duration) policy.Policy { return totalTimeout(d) }

type totalTimeout time.Duration

func (d totalTimeout) Do(req *policy.Request) (*http.Response, error) {
	if d <= 0 {
		return req.Next()
	}
	ctx, cancel := context.WithTimeout(req.Raw().Context(), time.Duration(d))
	defer cancel()
	return req.WithContext(ctx).Next()
}
