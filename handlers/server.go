// Package handlers holds the HTTP handlers of the Functions custom handler: one file per function,
// the routing that mirrors functions/*/function.json, and the one table that maps errors to HTTP.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/liveness-quicklink/functions/internal/callbackurl"
	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/quicklink"
)

// FaceSessions is what the handlers need of the Face liveness API.
type FaceSessions interface {
	Create(ctx context.Context, kind face.Kind, req face.CreateRequest) (*face.Session, error)
	Get(ctx context.Context, kind face.Kind, sessionID string) (*face.Session, error)
	Delete(ctx context.Context, kind face.Kind, sessionID string) error
}

var _ FaceSessions = (*face.Client)(nil)

// SessionStore is what the handlers need of the session table. *store.Store implements it;
// cmd/handler, which passes one to New, stops compiling when the two drift apart (handlers does
// not import the store, so that it does not depend on aztables).
type SessionStore interface {
	CreateSession(ctx context.Context, s *liveness.Session) error
	DiscardSession(ctx context.Context, id string) error
	GetSession(ctx context.Context, id string) (*liveness.Session, error)
	UpdateSession(ctx context.Context, s *liveness.Session) error
	Finalize(ctx context.Context, s *liveness.Session, event []byte) error
	MarkFaceDeleted(ctx context.Context, s *liveness.Session) error
	PendingEvent(ctx context.Context, sessionID string) (event []byte, found bool, err error)
	MarkEventSent(ctx context.Context, sessionID string) error
	PurgeSession(ctx context.Context, s *liveness.Session) error

	ReserveIdempotencyKey(ctx context.Context, rec *liveness.IdempotencyRecord) (*liveness.IdempotencyRecord, error)
	CompleteIdempotencyKey(ctx context.Context, rec *liveness.IdempotencyRecord) error
	ReleaseIdempotencyKey(ctx context.Context, rec *liveness.IdempotencyRecord) error
	GetIdempotencyKey(ctx context.Context, keyHash string) (*liveness.IdempotencyRecord, error)

	AddDue(ctx context.Context, item liveness.DueItem) error
	ListDue(ctx context.Context, now time.Time, after *liveness.DueItem, max int) ([]liveness.DueItem, error)
	DeleteDue(ctx context.Context, item liveness.DueItem) error
}

// EventPublisher is what the handlers need of Service Bus: send stored events (events.Marshal's
// bytes) to the topic. Publish returns nil when every event was sent, else an error that names
// the events not sent by index (*events.PublishError); an event it does not name was sent.
type EventPublisher interface {
	Publish(ctx context.Context, events [][]byte) error
}

var _ EventPublisher = (*events.Publisher)(nil)

// QuickLinks is what the handlers need of the quick link service: a session's auth token
// swapped for the id of its single-use link (POST /api/quicklink).
type QuickLinks interface {
	Create(ctx context.Context, authToken string) (quicklink.ID, error)
}

var _ QuickLinks = (*quicklink.Client)(nil)

// Deps are the Server's dependencies, each behind the narrow interface the handlers use.
type Deps struct {
	Face       FaceSessions
	QuickLinks QuickLinks
	Store      SessionStore
	// Events publishes to Service Bus; nil leaves every event unsent in the outbox (and its
	// announce entry due): for tests and tools that have no Service Bus.
	Events EventPublisher
}

// Settings are the configuration values the handlers read.
type Settings struct {
	// PublicBaseURL is the app's base URL (no trailing slash): the CloudEvents source and the base
	// of callback URLs.
	PublicBaseURL string
	// QuickLinkEndpoint is the quick link service's base URL (QUICKLINK_ENDPOINT, no trailing
	// slash): links are composed on it.
	QuickLinkEndpoint string
	// Callbacks signs callback URLs and verifies them (CALLBACK_SIGNING_KEYS).
	Callbacks *callbackurl.Signer
	// AbandonAfter is ABANDON_AFTER_SECONDS: how long after a user returned without a finished
	// attempt Reconcile records the session abandoned (design §4).
	AbandonAfter time.Duration
	// Retention is RETENTION_DAYS: how long after its final state a session, with its sent event,
	// is kept before Reconcile deletes it (default 30 days).
	Retention   time.Duration
	DefaultMode liveness.Mode
	// AllowedReturnOrigins are normalized origins (see origin.Normalize).
	AllowedReturnOrigins []string
	DeleteFaceSessions   bool
}

// Options tune a Server; nil means defaults.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// NewID returns a new random UUID string (default deviceCorrelationId).
	NewID func() string
	// MaxBodyBytes caps request bodies (default fits a 6 MB image in base64).
	MaxBodyBytes int64
	// ExpiryGrace is added to a session's TTL before Reconcile expires it.
	ExpiryGrace time.Duration
	// IdempotencyWindow is how long an Idempotency-Key is remembered (default 24 h).
	IdempotencyWindow time.Duration
	// ReconcileBatch is how many due entries Reconcile reads from the index at a time (a page);
	// a run reads page after page until its budget ends.
	ReconcileBatch int
	// Ready reports whether dependencies answer, for Health; nil means always ready.
	Ready func(ctx context.Context) error
	// CallbackPoll bounds how long a Callback keeps reading a Face session that is Running
	// (default 3 s; design §3: a few seconds at most).
	CallbackPoll time.Duration
	// ReconcileBudget bounds one Reconcile run (default 3.5 minutes, inside host.json's
	// functionTimeout of 5; see Budgets).
	ReconcileBudget time.Duration
}

// Server serves every function of the app.
type Server struct {
	face       FaceSessions
	quickLinks QuickLinks
	store      SessionStore
	events     EventPublisher // nil: events stay unsent in the outbox
	settings   Settings
	opts       Options
	log        *slog.Logger

	readiness readiness
	starting  bool // a placeholder that answers ErrStarting (see Starting)

	faceWatch *faceWatch         // the Face signal of Health; nil without a Face client
	sends     sendPause          // inline sends skipped after one failed
	polls     singleflight.Group // one Face poll per session for the callbacks that wait on it
	linkTurns linkTurns          // IssueLink requests for one session take turns
}

const defaultMaxBodyBytes = 9 << 20 // 6 MB of image is 8 MB of base64, plus the other fields

// New returns a Server with its dependencies (see Deps for what a nil one means).
func New(deps Deps, settings Settings, opts *Options) *Server {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = func() string { return uuid.NewString() }
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = defaultMaxBodyBytes
	}
	if o.ExpiryGrace <= 0 {
		o.ExpiryGrace = 2 * time.Minute
	}
	if o.IdempotencyWindow <= 0 {
		o.IdempotencyWindow = 24 * time.Hour
	}
	if o.ReconcileBatch <= 0 {
		o.ReconcileBatch = 100
	}
	if o.ReconcileBudget <= 0 {
		o.ReconcileBudget = reconcileBudget
	}
	if o.CallbackPoll <= 0 {
		o.CallbackPoll = defaultCallbackPoll
	}
	if settings.AbandonAfter <= 0 {
		settings.AbandonAfter = 120 * time.Second
	}
	if settings.Retention <= 0 {
		settings.Retention = defaultRetention
	}
	s := &Server{face: deps.Face, quickLinks: deps.QuickLinks, store: deps.Store, events: deps.Events,
		settings: settings, opts: o, log: o.Logger}
	if deps.Face != nil {
		s.faceWatch = &faceWatch{next: deps.Face, now: o.Now}
		s.face = s.faceWatch
	}
	return s
}

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

// Bounds of work detached from its request (see detached).
const (
	startBudget  = 90 * time.Second // below inFlightTimeout, so a reserved key never looks abandoned while in use
	cancelBudget = 60 * time.Second
)

// detached gives a request's work a context that outlives the caller: once a request has changed
// something outside (created or deleted a Face session), what follows must be recorded even when
// the client hangs up. It is bounded, so nothing runs on forever.
func detached(r *http.Request, limit time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), limit)
}
