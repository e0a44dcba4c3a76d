// Package quicklink is a client for the Azure AI Face quick link service (reference §8,
// liveness.face.azure.com, preview): it exchanges a liveness session's auth token for the `s`
// value of a single-use link, and composes the link the end user opens. It is built on an azcore
// pipeline, like the Face client: retries with backoff, per-try and total timeouts, throttling
// hints (internal/upstream) and logging without bodies are azcore's and upstream's.
//
// The session auth token, the `s` value and the link are bearer secrets. The token is only ever
// put in the request's Authorization header, which azcore never logs; ID and Link redact
// themselves wherever they are printed, logged or marshaled; errors never quote an answer.
package quicklink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/liveness-quicklink/functions/internal/origin"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// ClientOptions configures a Client. A nil *ClientOptions means defaults.
type ClientOptions struct {
	// ClientOptions carries azcore's Retry, Transport, Logging, Telemetry, ... settings. Zero retry
	// fields get the Face client's defaults (upstream.RetryOptions): 3 retries, 500ms initial
	// delay, 5s cap, statuses 408, 429, 500, 502, 503, 504, and transient network errors. A
	// Retry-After (or retry-after-ms) longer than MaxRetryDelay is not waited for: the 429 comes
	// back at once with the hint (upstream.RetryAfter). Logging.IncludeBody is always off, and
	// Authorization is never a logged header. InsecureAllowCredentialWithHTTP is not consulted:
	// the token goes over http to a loopback host only, whatever it says (see NewClient).
	azcore.ClientOptions

	// TryTimeout bounds each try; default 10s. It overrides Retry.TryTimeout when set.
	TryTimeout time.Duration

	// TotalTimeout bounds one call, retries and backoff included; default 30s.
	TotalTimeout time.Duration
}

// Client calls POST {endpoint}/api/quicklink. It is safe for concurrent use.
type Client struct {
	url          string // {endpoint}/api/quicklink
	pl           runtime.Pipeline
	totalTimeout time.Duration
}

// NewClient returns a client for endpoint, QUICKLINK_ENDPOINT (design §7; default
// https://liveness.face.azure.com). The endpoint must be an absolute https URL, or http for a
// loopback host (a local stand-in): every call sends a session's auth token, which must not
// cross a network in clear text. It must have no query or fragment.
func NewClient(endpoint string, opts *ClientOptions) (*Client, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(endpoint)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return nil, fmt.Errorf("quicklink: endpoint %q is not an absolute http(s) URL", endpoint)
	case u.Scheme == "http" && !origin.IsLoopback(u.Hostname()):
		return nil, fmt.Errorf("quicklink: endpoint %q must use https (http only for a loopback host): the call carries a session's auth token", endpoint)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("quicklink: the endpoint must not have user info, a query or a fragment")
	}

	co := o.ClientOptions
	co.Retry = upstream.RetryOptions(co.Retry, o.TryTimeout)
	co.Logging = upstream.LogOptions(co.Logging) // a 200 answer holds the link's secret
	co.Transport = upstream.NoRedirects(co.Transport)
	pl := runtime.NewPipeline("quicklink", "v0.1.0", runtime.PipelineOptions{}, &co)

	total := o.TotalTimeout
	if total <= 0 {
		total = upstream.DefaultTotalTimeout
	}
	return &Client{
		url:          runtime.JoinPaths(strings.TrimRight(endpoint, "/"), "api/quicklink"),
		pl:           pl,
		totalTimeout: total,
	}, nil
}

// Create exchanges authToken, the authToken of a Face liveness session (reference §7: valid
// authTokenTimeToLiveInSeconds, default 600s), for the `s` value of a single-use quick link:
// POST {endpoint}/api/quicklink with "authorization: Bearer <authToken>" and an empty body
// (reference §8 step 2). The answer must be 200 with the shape ParseAnswer accepts.
//
// Errors, none of which holds the token, the answer's body or the `s` value:
//   - an upstream.ResponseError (an *azcore.ResponseError underneath) for any status other than
//     2xx, after retries for 408, 429 and 5xx; the service's error bodies are undocumented;
//   - ErrUnexpectedAnswer for a 2xx other than 200 or a 200 that is not a quick link;
//   - context.DeadlineExceeded (or the caller's context error) when the total timeout, or the
//     caller's deadline, ran out first; a transport error when the service could not be reached;
//   - an error before anything is sent when authToken is empty or not a bearer token (RFC 6750
//     b64token characters), since it is the app's own value.
func (c *Client) Create(ctx context.Context, authToken string) (ID, error) {
	if !isB64Token(authToken) {
		return ID{}, errors.New("quicklink: the session auth token is empty or not a bearer token")
	}
	ctx, cancel := context.WithTimeout(ctx, c.totalTimeout)
	defer cancel()
	req, err := runtime.NewRequest(ctx, http.MethodPost, c.url)
	if err != nil {
		return ID{}, fmt.Errorf("quicklink: create: %w", err)
	}
	req.Raw().Header.Set("Accept", "application/json")
	// Set on the request, not by a credential policy: the token belongs to one session and one
	// call. azcore's logging never writes Authorization, and NewClient refused clear-text hosts.
	req.Raw().Header.Set("Authorization", "Bearer "+authToken)

	resp, err := c.pl.Do(req)
	if err != nil {
		return ID{}, fmt.Errorf("quicklink: create: %w", err)
	}
	// The body download policy has already read the body, so cancel cannot cut it short.
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		// Not an azcore.ResponseError: its message quotes the body, which here may hold the link.
		return ID{}, fmt.Errorf("quicklink: create: %w: status %d, want 200", ErrUnexpectedAnswer, resp.StatusCode)
	default:
		return ID{}, fmt.Errorf("quicklink: create: %w", upstream.Redact(runtime.NewResponseError(resp)))
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return ID{}, fmt.Errorf("quicklink: create: reading the answer: %w", err)
	}
	id, err := ParseAnswer(body)
	if err != nil {
		return ID{}, fmt.Errorf("quicklink: create: %w", err)
	}
	return id, nil
}

// isB64Token reports whether s is an RFC 6750 §2.1 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_"
// / "~" / "+" / "/" ) *"=". Checking it keeps a damaged token from splitting the header, and
// from reaching a transport error message.
func isB64Token(s string) bool {
	t := strings.TrimRight(s, "=")
	if t == "" {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~+/", c)) {
			return false
		}
	}
	return true
}

// CallBound is the longest one call of c takes, its retries and their backoff included: the
// TotalTimeout it was built with (30 s by default). The handlers add these up into each
// endpoint's worst-case time (handlers.Server.Budgets).
func (c *Client) CallBound() time.Duration { return c.totalTimeout }
