package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

const tableBaseName = "sessions"

// Options configures a Store. The zero value is the production configuration.
type Options struct {
	// TablePrefix is prepended to the table name "sessions": letters and digits, starting with a
	// letter (Azure's rule for table names). Tests use it to isolate themselves.
	TablePrefix string

	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Logger receives what the store skips rather than fails on (an unreadable due row); nil
	// discards it.
	Logger *slog.Logger

	// AnnounceDelay is how long after Finalize its announce entry comes due, so that Reconcile
	// publishes the event and revokes the Face session if the request that finished the session
	// could not; zero means one minute.
	AnnounceDelay time.Duration

	// NewWriteID returns the id that one logical write (an insert, a conditional update, a
	// Finalize) stores on its row, so that a retry meeting that row (409 on an insert, 412 on an
	// update, a transaction answered with a conflict) can tell its own committed write from
	// another writer's. Ids must differ between writes; nil means crypto/rand.Text.
	NewWriteID func() string
}

// Store is the session store. It is safe for concurrent use.
type Store struct {
	table         *aztables.Client
	now           func() time.Time
	log           *slog.Logger
	announceDelay time.Duration
	newWriteID    func() string
}

var tablePrefixPattern = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]{0,54})?$`)

// New returns a Store on client, creating its table if it does not exist.
func New(ctx context.Context, client *aztables.ServiceClient, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("store: nil service client")
	}
	if opts == nil {
		opts = &Options{}
	}
	if !tablePrefixPattern.MatchString(opts.TablePrefix) {
		return nil, fmt.Errorf("store: table prefix %q: want up to 55 letters and digits, starting with a letter", opts.TablePrefix)
	}
	s := &Store{
		table:         client.NewClient(opts.TablePrefix + tableBaseName),
		now:           opts.Now,
		announceDelay: opts.AnnounceDelay,
		log:           opts.Logger,
		newWriteID:    opts.NewWriteID,
	}
	if s.newWriteID == nil {
		s.newWriteID = rand.Text
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.announceDelay <= 0 {
		s.announceDelay = time.Minute
	}
	if _, err := s.table.CreateTable(ctx, nil); err != nil {
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.ErrorCode != string(aztables.TableAlreadyExists) {
			return nil, unavailable("create table", err)
		}
	}
	return s, nil
}

// NewServiceClientFromConnectionString returns a client for a storage connection string (Azurite's
// or an account key's), with this package's retry and timeout policy (see CallTimeout).
func NewServiceClientFromConnectionString(s string) (*aztables.ServiceClient, error) {
	c, err := aztables.NewServiceClientFromConnectionString(s, clientOptions(defaultBounds()))
	if err != nil {
		// The SDK's message does not echo the string; it holds a key, so neither do we.
		return nil, fmt.Errorf("store: tables connection string: %w", err)
	}
	return c, nil
}

// NewServiceClient returns a client for https://<account>.table.core.windows.net authenticated with
// cred (a managed identity in Azure), with this package's retry and timeout policy (see
// CallTimeout).
func NewServiceClient(endpoint string, cred azcore.TokenCredential) (*aztables.ServiceClient, error) {
	c, err := aztables.NewServiceClient(endpoint, cred, clientOptions(defaultBounds()))
	if err != nil {
		return nil, fmt.Errorf("store: tables endpoint %q: %w", endpoint, err)
	}
	return c, nil
}

// Bounds of one table call made by a client of NewServiceClient or
// NewServiceClientFromConnectionString. Every Store method makes at most a few such calls in a
// row, each bounded on its own, so a table service that hangs fails a request instead of holding
// it: the handlers' time budgets (handlers.Server.Budgets) add these up.
const (
	// CallTimeout bounds one call, its retries and their backoff included.
	CallTimeout = 30 * time.Second
	// TryTimeout bounds each try of a call.
	TryTimeout = 10 * time.Second
)

// bounds are the timeouts and backoff of clientOptions; tests shorten them.
type bounds struct {
	call, try, delay, maxDelay time.Duration
}

// defaultBounds are the production bounds: 200 ms first delay, 3 s largest.
func defaultBounds() bounds {
	return bounds{call: CallTimeout, try: TryTimeout, delay: 200 * time.Millisecond, maxDelay: 3 * time.Second}
}

// clientOptions bounds every call: 3 retries with azcore's exponential backoff and jitter on 408,
// 429, 5xx and transport errors, honouring a Retry-After (or x-ms-retry-after-ms) up to the
// largest delay (a longer hint is not waited for: the error carries it, see upstream.RetryAfter),
// each try limited to b.try and the whole call to b.call.
func clientOptions(b bounds) *aztables.ClientOptions {
	return &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{
			MaxRetries:    3,
			TryTimeout:    b.try,
			RetryDelay:    b.delay,
			MaxRetryDelay: b.maxDelay,
			StatusCodes: []int{
				http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
				http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
			},
		},
		PerCallPolicies: []policy.Policy{upstream.TotalTimeout(b.call), takeRow{}},
		Telemetry:       policy.TelemetryOptions{ApplicationID: "liveness-quicklink"},
		// A followed redirect would resend the request's signature or token (see upstream.NoRedirects).
		Transport: upstream.NoRedirects(nil),
	}}
}

func (s *Store) nowUTC() time.Time { return s.now().UTC() }

func validSessionID(id string) error {
	if !liveness.ValidSessionID(id) {
		return liveness.Invalid("sessionId", "not a session id")
	}
	return nil
}

// CallBound is the longest one table call takes, its retries and their backoff included
// (CallTimeout), for a Store on a client of NewServiceClient or
// NewServiceClientFromConnectionString. The handlers add these up into each endpoint's worst-case
// time (handlers.Server.Budgets).
func (s *Store) CallBound() time.Duration { return CallTimeout }
