package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/liveness-quicklink/functions/handlers"
	"github.com/liveness-quicklink/functions/internal/callbackurl"
	"github.com/liveness-quicklink/functions/internal/config"
	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/faulthooks"
	"github.com/liveness-quicklink/functions/internal/origin"
	"github.com/liveness-quicklink/functions/internal/quicklink"
	"github.com/liveness-quicklink/functions/internal/store"
)

func loadConfig(getenv func(string) string) (*config.Config, error) { return config.Load(getenv) }

// build wires the configuration to the constructors. Nothing here reads the environment. Besides
// the handler it returns closePublisher, which closes the Service Bus publisher (its AMQP
// connection): the caller calls it once no request can publish any more, after the HTTP server
// drained. On an error nothing is left open.
func build(ctx context.Context, cfg *config.Config, log *slog.Logger) (h http.Handler, closePublisher func(context.Context) error, err error) {
	srv, closePublisher, err := buildServer(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	return srv.Handler(), closePublisher, nil
}

// buildServer is build's Server, before its routes: its Budgets are those of the handler the host
// runs.
func buildServer(ctx context.Context, cfg *config.Config, log *slog.Logger) (srv *handlers.Server, closePublisher func(context.Context) error, err error) {
	cred, err := credential(cfg)
	if err != nil {
		return nil, nil, err
	}
	faceOpts := &face.ClientOptions{APIKey: cfg.FaceAPIKey}
	// Credentials travel over plain http only to a stand-in on this machine.
	if u, err := url.Parse(cfg.FaceEndpoint); err == nil && u.Scheme == "http" && origin.IsLoopback(u.Hostname()) {
		faceOpts.InsecureAllowCredentialWithHTTP = true
	}
	faceClient, err := face.NewClient(cfg.FaceEndpoint, cred, faceOpts)
	if err != nil {
		return nil, nil, fmt.Errorf("face client: %w", err)
	}
	links, err := quicklink.NewClient(cfg.QuickLinkEndpoint, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("quick link client: %w", err)
	}
	signer, err := callbackurl.NewSigner(cfg.CallbackSigningKeys)
	if err != nil {
		return nil, nil, fmt.Errorf("callback signer: %w", err)
	}
	tables, err := tablesClient(cfg, cred)
	if err != nil {
		return nil, nil, err
	}
	initCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hooks := faulthooks.Timing() // zero (the defaults) outside the fault suite's build
	st, err := store.New(initCtx, tables, &store.Options{Logger: log, AnnounceDelay: hooks.AnnounceDelay})
	if err != nil {
		return nil, nil, fmt.Errorf("session store: %w", err)
	}
	// Made last, so that a failed attempt above leaves no publisher behind; it does not dial.
	pub, err := publisher(cfg, cred)
	if err != nil {
		return nil, nil, err
	}
	go connectPublisher(ctx, pub, cfg.ServiceBusEntity, log)
	srv = handlers.New(handlers.Deps{Face: faceClient, QuickLinks: links, Store: st, Events: pub}, handlers.Settings{
		PublicBaseURL:        cfg.PublicBaseURL.String(),
		QuickLinkEndpoint:    cfg.QuickLinkEndpoint,
		Callbacks:            signer,
		AbandonAfter:         cfg.AbandonAfter,
		Retention:            cfg.Retention,
		DefaultMode:          cfg.DefaultMode,
		AllowedReturnOrigins: cfg.ReturnURLAllowedOrigins,
		DeleteFaceSessions:   cfg.DeleteFaceSessions,
	}, &handlers.Options{Logger: log, Ready: st.Ping, ExpiryGrace: hooks.ExpiryGrace})
	return srv, pub.Close, nil
}

// credential is the Entra ID identity for every Azure call: the user-assigned managed identity
// named by AZURE_CLIENT_ID, else the default chain (developer sign-in locally). Building it makes
// no network call; nil when nothing needs it.
func credential(cfg *config.Config) (azcore.TokenCredential, error) {
	if cfg.FaceAPIKey != "" && cfg.TablesConnectionString != "" && cfg.ServiceBusConnectionString != "" {
		return nil, nil
	}
	if cfg.AzureClientID != "" {
		return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
			ID: azidentity.ClientID(cfg.AzureClientID),
		})
	}
	return azidentity.NewDefaultAzureCredential(nil)
}

func tablesClient(cfg *config.Config, cred azcore.TokenCredential) (*aztables.ServiceClient, error) {
	if cfg.TablesConnectionString != "" {
		return store.NewServiceClientFromConnectionString(cfg.TablesConnectionString)
	}
	return store.NewServiceClient(cfg.TablesEndpoint, cred)
}

// publisher is the one Service Bus publisher of the process: the connection string when set
// (locally the emulator form), else Entra ID to the namespace with the credential every other
// Azure call uses.
func publisher(cfg *config.Config, cred azcore.TokenCredential) (*events.Publisher, error) {
	conn := events.EntraID(cfg.ServiceBusNamespace, cred)
	if cfg.ServiceBusConnectionString != "" {
		conn = events.ConnectionString(cfg.ServiceBusConnectionString)
	}
	return events.NewPublisher(cfg.ServiceBusEntity, conn, &events.PublisherOptions{Client: &azservicebus.ClientOptions{
		// The handlers send an event inline, right after a final state commits, within their own
		// timeout, and a send that fails leaves the event in the outbox for Reconcile: waiting
		// longer inside a request buys nothing but a slower answer. The SDK's defaults (3 retries,
		// 4 s doubling up to 120 s) would outlast any request; 2 retries about 0.2 s and 0.6 s apart
		// ride over a link the service just detached or a brief connection loss.
		RetryOptions: azservicebus.RetryOptions{MaxRetries: 2, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: time.Second},
	}})
}

// publisherConnectTimeout bounds the warm-up connection at start.
const publisherConnectTimeout = 30 * time.Second

// connectPublisher opens the publisher's connection ahead of the first event, off every request's
// path, and says in the log whether Service Bus answered: a wrong namespace, a missing role or a
// stopped stand-in shows at start, not only when a session ends. A failure changes nothing else:
// Publish connects by itself, and events wait in the outbox meanwhile.
func connectPublisher(ctx context.Context, pub *events.Publisher, entity string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, publisherConnectTimeout)
	defer cancel()
	if err := pub.Connect(ctx); err != nil {
		log.Warn("Service Bus not reachable yet; events wait in the outbox until a send succeeds",
			slog.String("entity", entity), slog.String("error", err.Error()))
		return
	}
	log.Info("Service Bus publisher connected", slog.String("entity", entity))
}
