package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/testing/logsink"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// TestMakeRunPrintsEachEvent runs `make run` with the handler behind a wrapper that records its
// environment: devstack must start the Service Bus stand-in on the chosen ports, give the handler
// its emulator connection string and topic, name both addresses in its summary, and print an event
// sent to the topic with the real SDK as one "event   |" line, completed by events-tail.
func TestMakeRunPrintsEachEvent(t *testing.T) {
	bin := buildAll(t)
	envRecord := filepath.Join(t.TempDir(), "handler.env")
	handler := writeScript(t, "handler", fmt.Sprintf("env > '%s'\nexec '%s'\n", envRecord, filepath.Join(bin, "handler")))
	p := freePorts(t)
	d := startDevstack(t, filepath.Join(bin, "devstack"), append([]string{"-handler", handler,
		"-events-tail", filepath.Join(bin, "events-tail")}, p.runArgs()...)...)

	out := d.output.String()
	for _, want := range []string{fmt.Sprintf("amqp://127.0.0.1:%d", p.sb), fmt.Sprintf("http://127.0.0.1:%d/counters", p.sbHTTP)} {
		if !strings.Contains(out, want) {
			t.Errorf("devstack's summary lacks %q:\n%s", want, out)
		}
	}
	sb := &services.ServiceBus{Port: p.sb, HTTPPort: p.sbHTTP}
	env := readEnv(t, envRecord)
	want := map[string]string{"SERVICEBUS_CONNECTION_STRING": sb.ConnectionString(), "SERVICEBUS_ENTITY": "liveness-events", "SERVICEBUS_NAMESPACE": ""}
	got := map[string]string{}
	for k := range want {
		got[k] = env[k]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the handler's Service Bus settings (-want +got):\n%s", diff)
	}

	body := canceledEvent(t, "5e7a1f60-0c2d-4b8e-9f31-d6a4c2b8e017")
	msg, err := events.NewMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := testenv.ServiceBusClient(t, sb).NewSender("liveness-events", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sender.SendMessage(ctx, msg, nil); err != nil {
		t.Fatalf("send: %v", err)
	}
	_ = sender.Close(ctx)

	line := d.waitForLine(t, "event line", 30*time.Second, func(l string) bool {
		return strings.HasPrefix(l, "event   | ") && strings.Contains(l, "5e7a1f60-0c2d-4b8e-9f31-d6a4c2b8e017")
	})
	var printed, sent map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "event   | ")), &printed); err != nil {
		t.Fatalf("the event line is not the CloudEvent's JSON: %v\n%s", err, line)
	}
	_ = json.Unmarshal(body, &sent)
	if diff := cmp.Diff(sent, printed); diff != "" {
		t.Errorf("printed event (-sent +printed):\n%s", diff)
	}
	waitCompleted(t, sb, "liveness-events/Subscriptions/all", 1)
	d.interrupt(t, map[string]int{"azurite": p.tables, "face stand-in": p.face, "handler": p.app,
		"Service Bus stand-in": p.sb, "Service Bus counters": p.sbHTTP})
}

// When events-tail exits on its own, devstack prints its last words, marked, and says so; the app
// keeps answering.
func TestMakeRunSaysWhenEventsTailExits(t *testing.T) {
	bin := buildAll(t)
	tail := writeScript(t, "events-tail", "echo 'cannot reach the namespace' >&2\nexit 3\n")
	p := freePorts(t)
	d := startDevstack(t, filepath.Join(bin, "devstack"), append([]string{"-handler", filepath.Join(bin, "handler"),
		"-events-tail", tail}, p.runArgs()...)...)

	d.waitForLine(t, "marked stderr line of events-tail", 10*time.Second, func(l string) bool {
		return l == "tail-log| cannot reach the namespace"
	})
	warning := d.waitForLine(t, "word that events-tail exited", 10*time.Second, func(l string) bool {
		return strings.Contains(l, "events-tail exited") && strings.Contains(l, "exit status 3")
	})
	// The stand-in keeps messages in memory: restarting make run would lose the waiting events, so
	// the advice is events-tail's command line, to run by hand.
	if strings.Contains(warning, "restart make run") {
		t.Errorf("the warning advises restarting make run, which loses the waiting events:\n%s", warning)
	}
	sb := &services.ServiceBus{Port: p.sb, HTTPPort: p.sbHTTP}
	d.waitForLine(t, "events-tail command line for the all subscription after the warning", 10*time.Second, func(l string) bool {
		return l == "  SERVICEBUS_NAMESPACE= SERVICEBUS_CONNECTION_STRING='"+sb.ConnectionString()+"' "+tail+" -topic liveness-events -subscription all"
	})
	runPrintedCommands(t, d)
	d.interrupt(t, map[string]int{"azurite": p.tables, "face stand-in": p.face, "handler": p.app,
		"Service Bus stand-in": p.sb, "Service Bus counters": p.sbHTTP})
}

// TestMakeRunPrintsAnEventsTailLineThatWorks: on ports of its own (as with SERVICEBUS_PORT=15672),
// devstack's summary prints an events-tail command for the review subscription that, pasted into
// a shell as printed, receives an event sent to the topic with the real SDK.
func TestMakeRunPrintsAnEventsTailLineThatWorks(t *testing.T) {
	bin := buildAll(t)
	p := freePorts(t)
	d := startDevstack(t, filepath.Join(bin, "devstack"), append([]string{"-handler", filepath.Join(bin, "handler"),
		"-events-tail", filepath.Join(bin, "events-tail")}, p.runArgs()...)...)
	sb := &services.ServiceBus{Port: p.sb, HTTPPort: p.sbHTTP}

	var line string
	for _, l := range strings.Split(d.output.String(), "\n") {
		if strings.Contains(l, "events-tail") && strings.HasSuffix(l, "-subscription review") {
			line = strings.TrimSpace(l)
		}
	}
	if line == "" {
		t.Fatalf("devstack's summary has no events-tail line for -subscription review:\n%s", d.output.String())
	}
	if !strings.Contains(line, sb.ConnectionString()) {
		t.Errorf("the events-tail line %q lacks the stand-in's connection string %q", line, sb.ConnectionString())
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	var stdout, stderr logsink.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, so that the bound stops events-tail too, not only the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	defer func() { cancel(); <-waited }()

	const id = "0b8d6c2e-4f1a-4e7b-9c35-7a2d1e6f9b40"
	msg, err := events.NewMessage(canceledEvent(t, id)) // canceled: passed = false, so review gets it
	if err != nil {
		t.Fatal(err)
	}
	sender, err := testenv.ServiceBusClient(t, sb).NewSender("liveness-events", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.SendMessage(ctx, msg, nil); err != nil {
		t.Fatalf("send: %v", err)
	}
	_ = sender.Close(ctx)

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), `"id":"`+id+`/canceled"`) {
		select {
		case err := <-waited:
			waited <- err
			t.Fatalf("the printed events-tail line ended (%v) before printing the event; stderr:\n%s", err, &stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the printed events-tail line printed no event %s within 30 s; stdout:\n%s\nstderr:\n%s", id, &stdout, &stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitCompleted(t, sb, "liveness-events/Subscriptions/review", 1)
	cancel()
	<-waited
	waited <- nil
	d.interrupt(t, map[string]int{"azurite": p.tables, "face stand-in": p.face, "handler": p.app,
		"Service Bus stand-in": p.sb, "Service Bus counters": p.sbHTTP})
}

// canceledEvent is the event body the app emits for session id canceled now.
func canceledEvent(t *testing.T, id string) []byte {
	t.Helper()
	now := time.Now().UTC()
	s := liveness.Session{ID: id, Kind: liveness.KindLiveness, Mode: liveness.ModePassiveActive, Status: liveness.StatusCreated,
		ExternalReference: "order-42", TTLSeconds: 600, CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(9 * time.Minute)}
	if err := s.Finish(liveness.StatusCanceled, nil, now); err != nil {
		t.Fatal(err)
	}
	body, err := events.Marshal(&s, "http://localhost:7071")
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// waitCompleted waits until entity's completed count reaches want.
func waitCompleted(t *testing.T, sb *services.ServiceBus, entity string, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c := testenv.Counters(t, sb)[entity]
		if c.Completed >= want {
			if c.Completed != want || c.Delivered != want {
				t.Errorf("%s counters %+v, want %d delivered and completed", entity, c, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s counters %+v: events-tail did not complete %d message(s) within 15 s", entity, c, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeScript writes an executable shell script called name.
func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

// readEnv reads the output of env(1).
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the handler's environment was not recorded: %v", err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	return env
}
