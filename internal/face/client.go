// Package face is a client for the Azure AI Face v1.2 liveness-session operations: create, get and
// delete a liveness or liveness-with-verify session. It is built on an azcore pipeline, so retries,
// per-try timeouts, logging redaction, telemetry and Entra authentication are azcore's.
package face

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/google/uuid"

	"github.com/liveness-quicklink/functions/internal/upstream"
)

const (
	apiVersionPath = "face/v1.2"
	scope          = "https://cognitiveservices.azure.com/.default"

	headerAPIKey          = "Ocp-Apim-Subscription-Key"
	headerClientRequestID = "client-request-id"

	defaultTotalTimeout  = upstream.DefaultTotalTimeout
	defaultRetryDelay    = upstream.DefaultRetryDelay
	defaultMaxRetryDelay = upstream.DefaultMaxRetryDelay
)

// ClientOptions configures a Client. A nil *ClientOptions means defaults.
type ClientOptions struct {
	// ClientOptions carries azcore's Retry, Transport, Logging, Telemetry, ... settings. Zero retry
	// fields get defaults fit for an HTTP function: 3 retries, 500ms initial delay, 5s cap, and the
	// status codes 408, 429, 500, 502, 503, 504. A Retry-After longer than MaxRetryDelay is not
	// waited for: the 429 is returned at once, and its error carries the hint
	// (upstream.RetryAfter). Logging.IncludeBody is always off.
	azcore.ClientOptions

	// APIKey, if set, authenticates with the Ocp-Apim-Subscription-Key header; otherwise the
	// credential passed to NewClient supplies Entra bearer tokens.
	APIKey string

	// TryTimeout bounds each try; default 10s. It overrides Retry.TryTimeout when set.
	TryTimeout time.Duration

	// TotalTimeout bounds one call, retries and backoff included; default 30s.
	TotalTimeout time.Duration
}

// Client calls the Face liveness-session operations. It is safe for concurrent use.
type Client struct {
	base         string // {endpoint}/face/v1.2
	pl           runtime.Pipeline
	totalTimeout time.Duration
}

// NewClient returns a client for endpoint, e.g. https://x.cognitiveservices.azure.com. cred may be nil
// only when opts.APIKey is set.
func NewClient(endpoint string, cred azcore.TokenCredential, opts *ClientOptions) (*Client, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	base, err := baseURL(endpoint)
	if err != nil {
		return nil, err
	}
	if o.APIKey == "" && cred == nil {
		return nil, errors.New("face: either an API key or a token credential is required")
	}

	var auth policy.Policy
	if o.APIKey != "" {
		auth = runtime.NewKeyCredentialPolicy(azcore.NewKeyCredential(o.APIKey), headerAPIKey,
			&runtime.KeyCredentialPolicyOptions{InsecureAllowCredentialWithHTTP: o.InsecureAllowCredentialWithHTTP})
	} else {
		auth = runtime.NewBearerTokenPolicy(cred, []string{scope},
			&policy.BearerTokenOptions{InsecureAllowCredentialWithHTTP: o.InsecureAllowCredentialWithHTTP})
	}

	co := o.ClientOptions
	co.Retry = upstream.RetryOptions(co.Retry, o.TryTimeout)
	// Bodies carry the session auth token and the verify image; headers may carry the key.
	co.Logging = upstream.LogOptions(co.Logging, headerAPIKey)
	co.Transport = upstream.NoRedirects(co.Transport)

	pl := runtime.NewPipeline("face", "v0.1.0", runtime.PipelineOptions{
		// Safe correlation headers, so a support case can quote them from the log.
		AllowedHeaders: []string{headerClientRequestID, "apim-request-id", "x-ms-error-code"},
		PerCall:        []policy.Policy{clientRequestIDPolicy{}},
		PerRetry:       []policy.Policy{auth},
		Tracing:        runtime.TracingOptions{Namespace: "Microsoft.CognitiveServices"},
	}, &co)

	total := o.TotalTimeout
	if total <= 0 {
		total = defaultTotalTimeout
	}
	return &Client{base: base, pl: pl, totalTimeout: total}, nil
}

func baseURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("face: endpoint %q is not an absolute http(s) URL", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("face: the endpoint must not have a query or fragment")
	}
	return runtime.JoinPaths(strings.TrimRight(endpoint, "/"), apiVersionPath), nil
}

// clientRequestIDPolicy sets a fresh client-request-id per call. It runs before the retry policy,
// so every try of one call carries the same id and the service can tie the retries together.
// A caller may set its own id with policy.WithHTTPHeader.
type clientRequestIDPolicy struct{}

func (clientRequestIDPolicy) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Header.Get(headerClientRequestID) == "" {
		req.Raw().Header.Set(headerClientRequestID, uuid.NewString())
	}
	return req.Next()
}

// do sends req under the client's total timeout and returns the response when its status is one of
// ok; any other status becomes an *azcore.ResponseError, behind an upstream.ResponseError whose
// message leaves the body out (a Face body can hold a session's auth token).
func (c *Client) do(ctx context.Context, method, url string, build func(*policy.Request) error, ok ...int) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.totalTimeout)
	defer cancel()
	req, err := runtime.NewRequest(ctx, method, url)
	if err != nil {
		return nil, err
	}
	req.Raw().Header.Set("Accept", "application/json")
	if build != nil {
		if err := build(req); err != nil {
			return nil, err
		}
	}
	resp, err := c.pl.Do(req)
	if err != nil {
		return nil, err
	}
	// The body download policy has already read the body, so cancel cannot cut it short.
	if !runtime.HasStatusCode(resp, ok...) {
		return nil, upstream.Redact(runtime.NewResponseError(resp))
	}
	return resp, nil
}

// CallBound is the longest one call of c takes, its retries and their backoff included: the
// TotalTimeout it was built with (30 s by default). The handlers add these up into each
// endpoint's worst-case time (handlers.Server.Budgets).
func (c *Client) CallBound() time.Duration { return c.totalTimeout }
