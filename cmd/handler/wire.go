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

	"github.com/liveness-quicklink/functions/handlers"
	"github.com/liveness-quicklink/functions/internal/config"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/origin"
	"github.com/liveness-quicklink/functions/internal/store"
)

func loadConfig(getenv func(string) string) (*config.Config, error) { return config.Load(getenv) }

// build wires the configuration to the constructors. Nothing here reads the environment.
func build(ctx context.Context, cfg *config.Config, log *slog.Logger) (http.Handler, error) {
	cred, err := credential(cfg)
	if err != nil {
		return nil, err
	}
	faceOpts := &face.ClientOptions{APIKey: cfg.FaceAPIKey}
	// Credentials travel over plain http only to a stand-in on this machine.
	if u, err := url.Parse(cfg.FaceEndpoint); err == nil && u.Scheme == "http" && origin.IsLoopback(u.Hostname()) {
		faceOpts.InsecureAllowCredentialWithHTTP = true
	}
	faceClient, err := face.NewClient(cfg.FaceEndpoint, cred, faceOpts)
	if err != nil {
		return nil, fmt.Errorf("face client: %w", err)
	}
	tables, err := tablesClient(cfg, cred)
	if err != nil {
		return nil, err
	}
	initCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := store.New(initCtx, tables, &store.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("session store: %w", err)
	}
	srv := handlers.New(faceClient, st, nil, handlers.Settings{
		PublicBaseURL:        cfg.PublicBaseURL.String(),
		DefaultMode:          cfg.DefaultMode,
		AllowedReturnOrigins: cfg.ReturnURLAllowedOrigins,
		DeleteFaceSessions:   cfg.DeleteFaceSessions,
	}, &handlers.Options{Logger: log, Ready: st.Ping})
	return srv.Handler(), nil
}

// credential is the Entra ID identity for every Azure call: the user-assigned managed identity
// named by AZURE_CLIENT_ID, else the default chain (developer sign-in locally). Building it makes
// no network call; nil when nothing needs it.
func credential(cfg *config.Config) (azcore.TokenCredential, error) {
	if cfg.FaceAPIKey != "" && cfg.TablesConnectionString != "" {
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
