// Command events-tail is the example consumer of the app's events (docs/events.md): it receives
// from one subscription of the events topic in peek-lock mode, prints each CloudEvent as one
// compact JSON line on stdout and completes it. A message that is not a structured CloudEvent is
// dead-lettered with a reason, so it neither blocks the subscription nor comes back. Logs are JSON
// lines on stderr, so stdout holds events only (pipe it into jq). When Service Bus cannot be
// reached it says so in one WARN line within probeTimeout and keeps trying; -h prints the usage.
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli runs events-tail and returns its exit status: 0 when ctx ended it or when -h/-help/--help
// asked for the usage (which parseSettings has then written to stderr), 1 on an error.
func cli(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	err := start(ctx, args, getenv, stdout, stderr, log)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	default:
		log.Error("events-tail failed", "error", err)
		return 1
	}
}

// usage is printed above the flags by -h, and after a flag error.
const usage = `Usage: events-tail [-topic name] [-subscription name] [-namespace host]

Prints each CloudEvent of one Service Bus subscription as one JSON line on stdout and completes it;
dead-letters (reason NotACloudEvent) what is not one. Logs are JSON lines on stderr.

Environment (exactly one of the first two):
  SERVICEBUS_CONNECTION_STRING  a connection string; locally the stand-in's emulator form
                                (Endpoint=sb://127.0.0.1:<port>;...;UseDevelopmentEmulator=true;),
                                which make run prints ready to paste
  SERVICEBUS_NAMESPACE          or the namespace's host name (<name>.servicebus.windows.net), signed
                                in with DefaultAzureCredential (az login, a managed identity, or the
                                AZURE_* variables azidentity reads); same as -namespace
  SERVICEBUS_ENTITY             the topic, default liveness-events; same as -topic
  SERVICEBUS_SUBSCRIPTION       the subscription, default all; same as -subscription

Flags:
`

// settings is what start reads from flags and the environment.
type settings struct {
	connectionString string // secret: never logged
	namespace        string
	topic            string
	subscription     string
}

// parseSettings reads args and the environment; it writes the usage to stderr when asked for it
// (and returns flag.ErrHelp) or when a flag is wrong.
func parseSettings(args []string, getenv func(string) string, stderr io.Writer) (settings, error) {
	fs := flag.NewFlagSet("events-tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
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
func start(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, log *slog.Logger) error {
	s, err := parseSettings(args, getenv, stderr)
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
	reach, err := newProbe(s)
	if err != nil {
		return err
	}
	if err := run(ctx, r, reach, stdout, log); err != nil {
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
