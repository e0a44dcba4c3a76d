// Command events-tail is the example consumer of the app's events (docs/events.md): it receives
// from one subscription of the events topic in peek-lock mode, prints each CloudEvent as one
// compact JSON line on stdout and completes it. A message that is not a structured CloudEvent is
// dead-lettered with a reason, so it neither blocks the subscription nor comes back. Logs are JSON
// lines on stderr, so stdout holds events only (pipe it into jq).
//
// Connection, from the environment (a secret never goes in a flag, where ps shows it):
//
//	SERVICEBUS_CONNECTION_STRING  a connection string; locally the emulator form with
//	                              UseDevelopmentEmulator=true (the stand-in, internal/standin/servicebus)
//	SERVICEBUS_NAMESPACE          or the namespace's host name (<name>.servicebus.windows.net), signed in
//	                              with azidentity's DefaultAzureCredential (az login, a managed identity…)
//
// Exactly one of the two must be set. Flags -topic (env SERVICEBUS_ENTITY, default liveness-events)
// and -subscription (env SERVICEBUS_SUBSCRIPTION, default all) choose what to read.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := start(ctx, os.Args[1:], os.Getenv, os.Stdout, log); err != nil {
		log.Error("events-tail failed", "error", err)
		stop()
		os.Exit(1)
	}
}

// settings is what start reads from flags and the environment.
type settings struct {
	connectionString string // secret: never logged
	namespace        string
	topic            string
	subscription     string
}

func parseSettings(args []string, getenv func(string) string) (settings, error) {
	fs := flag.NewFlagSet("events-tail", flag.ContinueOnError)
	s := settings{connectionString: getenv("SERVICEBUS_CONNECTION_STRING")}
	fs.StringVar(&s.namespace, "namespace", getenv("SERVICEBUS_NAMESPACE"),
		"the namespace's host name, <name>.servicebus.windows.net (env SERVICEBUS_NAMESPACE)")
	fs.StringVar(&s.topic, "topic", envOr(getenv, "SERVICEBUS_ENTITY", "liveness-events"), "the topic (env SERVICEBUS_ENTITY)")
	fs.StringVar(&s.subscription, "subscription", envOr(getenv, "SERVICEBUS_SUBSCRIPTION", "all"),
		"the topic's subscription (env SERVICEBUS_SUBSCRIPTION)")
	if err := fs.Parse(args); err != nil {
		return settings{}, err
	}
	switch {
	case fs.NArg() > 0:
		return settings{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	case s.connectionString == "" && s.namespace == "":
		return settings{}, errors.New("set SERVICEBUS_CONNECTION_STRING (local) or SERVICEBUS_NAMESPACE (Azure)")
	case s.connectionString != "" && s.namespace != "":
		return settings{}, errors.New("set only one of SERVICEBUS_CONNECTION_STRING and SERVICEBUS_NAMESPACE")
	case s.connectionString != "" && !strings.HasPrefix(strings.ToLower(s.connectionString), "endpoint=sb://"):
		return settings{}, errors.New("SERVICEBUS_CONNECTION_STRING must start with Endpoint=sb://")
	case strings.ContainsAny(s.namespace, "/:"):
		return settings{}, errors.New("SERVICEBUS_NAMESPACE must be a host name such as <name>.servicebus.windows.net")
	case s.topic == "" || s.subscription == "":
		return settings{}, errors.New("the topic and the subscription must not be empty")
	}
	return s, nil
}

// start connects, tails until ctx ends, and closes the receiver and the client.
func start(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	s, err := parseSettings(args, getenv)
	if err != nil {
		return err
	}
	client, err := newClient(s)
	if err != nil {
		return err
	}
	defer closeBounded(log, "client", client.Close)
	r, err := client.NewReceiverForSubscription(s.topic, s.subscription, nil) // peek-lock is the default
	if err != nil {
		return fmt.Errorf("receiver for %s/Subscriptions/%s: %w", s.topic, s.subscription, err)
	}
	defer closeBounded(log, "receiver", r.Close)
	log.Info("events-tail receiving", "topic", s.topic, "subscription", s.subscription, "auth", authName(s))
	if err := run(ctx, r, stdout, log); err != nil {
		return fmt.Errorf("%s/Subscriptions/%s: %w", s.topic, s.subscription, err)
	}
	log.Info("events-tail stopped")
	return nil
}

func newClient(s settings) (*azservicebus.Client, error) {
	if s.connectionString != "" {
		c, err := azservicebus.NewClientFromConnectionString(s.connectionString, nil)
		if err != nil {
			return nil, fmt.Errorf("SERVICEBUS_CONNECTION_STRING: %w", err)
		}
		return c, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("DefaultAzureCredential: %w", err)
	}
	c, err := azservicebus.NewClient(s.namespace, cred, nil)
	if err != nil {
		return nil, fmt.Errorf("SERVICEBUS_NAMESPACE %s: %w", s.namespace, err)
	}
	return c, nil
}

func authName(s settings) string {
	if s.connectionString != "" {
		return "connection string"
	}
	return "DefaultAzureCredential for " + s.namespace
}

// closeBounded closes with its own deadline: ctx is already canceled when we get here.
func closeBounded(log *slog.Logger, what string, close func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if err := close(ctx); err != nil {
		log.Warn("events-tail: closing the "+what+" failed", "error", err)
	}
}

func envOr(getenv func(string) string, name, fallback string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return fallback
}
