package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/liveness-quicklink/functions/internal/testing/services"
)

const (
	// defaultEntity is the handler's own default for SERVICEBUS_ENTITY (local.settings.json.example).
	defaultEntity = "liveness-events"
	// tailSubscription is the subscription events-tail reads: the one without a filter, so every
	// event shows in the terminal.
	tailSubscription = "all"
	// handSubscription is the one the summary's by-hand events-tail line reads: not
	// tailSubscription, whose messages a second consumer would share with the one make run starts.
	handSubscription = "review"
)

// startServiceBus starts the Service Bus stand-in on p's ports, as the tests do, and points the
// settings at it: the emulator connection string, and the topic, which must be one the stand-in's
// entities file (the mirror of infra/) declares.
func (st *stack) startServiceBus(root string, p ports) error {
	entity := st.settings["SERVICEBUS_ENTITY"]
	if entity == "" {
		entity = defaultEntity
	}
	topics, err := standInTopics(filepath.Join(root, services.ServiceBusEntities))
	if err != nil {
		return err
	}
	if !slices.Contains(topics, entity) {
		return fmt.Errorf("SERVICEBUS_ENTITY is %q, but the Service Bus stand-in has only the topics %q (%s)", entity, topics, services.ServiceBusEntities)
	}
	out := prefixed("sbus")
	st.sb, err = services.StartServiceBus(services.ServiceBusOptions{Root: root, Port: p.sb, HTTPPort: p.sbHTTP, Output: out})
	if err != nil {
		out.Close()
		return err
	}
	st.watch("Service Bus stand-in", st.sb.Process(), out)
	st.settings["SERVICEBUS_CONNECTION_STRING"] = st.sb.ConnectionString()
	st.settings["SERVICEBUS_ENTITY"] = entity
	// The connection string is the local way; a namespace from the developer's settings would be
	// Azure's, and the handler takes only one of the two.
	st.settings["SERVICEBUS_NAMESPACE"] = ""
	return nil
}

// standInTopics are the topic names of the stand-in's entities file.
func standInTopics(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the Service Bus stand-in's entities: %w", err)
	}
	var f struct {
		Topics []struct{ Name string } `json:"topics"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	names := make([]string, 0, len(f.Topics))
	for _, t := range f.Topics {
		names = append(names, t.Name)
	}
	return names, nil
}

// startEventsTail starts the events consumer (cmd/events-tail) on the stand-in's unfiltered
// subscription: each event it prints comes out as "event   | {...}", its own log lines as
// "tail-log| ...". Unlike the other children, its exit does not stop the stack (the app works
// without it), but it is reported: otherwise events would silently stop showing.
func (st *stack) startEventsTail(log *slog.Logger, bin string) error {
	out, logs := prefixed("event"), prefixed("tail-log")
	p, err := services.Start(services.Command{
		Name: "events-tail", Path: bin, Args: []string{"-subscription", tailSubscription},
		// The namespace is emptied: one set in the developer's shell would make it refuse to choose.
		Env: []string{
			"SERVICEBUS_CONNECTION_STRING=" + st.settings["SERVICEBUS_CONNECTION_STRING"],
			"SERVICEBUS_ENTITY=" + st.settings["SERVICEBUS_ENTITY"],
			"SERVICEBUS_NAMESPACE=",
		},
		Output: out, Stderr: logs,
	})
	if err != nil {
		out.Close()
		logs.Close()
		return err
	}
	st.children = append(st.children, p)
	st.tailBin = bin
	go func() {
		<-p.Done()
		out.Close()
		logs.Close()
		if !st.stopping.Load() {
			// Not "restart make run": the stand-in keeps messages in memory, so a restart would lose
			// the very events waiting on the subscription. The line goes out whole, unquoted, to paste.
			log.Warn("events-tail exited: events are no longer printed here; they wait on the subscription in the stand-in's memory (restarting make run loses them); the app keeps running; to see them, run this in another shell",
				slog.String("subscription", st.settings["SERVICEBUS_ENTITY"]+"/"+tailSubscription), slog.String("exit", exitText(p.Err())))
			fmt.Println("  " + st.tailCommand(tailSubscription))
		}
	}()
	return nil
}

// tailCommand is a shell line that runs the events consumer on subscription of the stand-in's
// topic, as a user pastes it. The connection string is safe to print: its SharedAccessKey is the
// placeholder services.ServiceBus.ConnectionString always holds (the SDK requires one, the stand-in
// ignores it). SERVICEBUS_NAMESPACE is emptied, as for make run's own events-tail: one exported
// for Azure (the README does) would make events-tail refuse to choose.
func (st *stack) tailCommand(subscription string) string {
	return "SERVICEBUS_NAMESPACE= SERVICEBUS_CONNECTION_STRING=" + shellQuote(st.sb.ConnectionString()) + " " +
		shellQuote(st.tailBin) + " -topic " + shellQuote(st.settings["SERVICEBUS_ENTITY"]) + " -subscription " + shellQuote(subscription)
}

// shellQuote is s as one POSIX shell word: as is when it holds only characters no shell treats
// specially, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// exitText is how a process ended, for a log line ("exit status 0" rather than a nil error).
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
