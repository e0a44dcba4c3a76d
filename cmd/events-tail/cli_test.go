package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// unreachable is the message of events-tail's warning that it cannot reach Service Bus.
const unreachable = "events-tail: cannot reach Service Bus; still trying"

// TestHelpExitsZeroWithTheUsage: -h and its spellings print the usage, naming every environment
// variable events-tail reads, and exit 0 without an error line; a wrong flag still exits 1.
func TestHelpExitsZeroWithTheUsage(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string // in the ERROR line, when wantCode is 1
	}{
		{[]string{"-h"}, 0, ""},
		{[]string{"-help"}, 0, ""},
		{[]string{"--help"}, 0, ""},
		{[]string{"-subscription", "review", "-h"}, 0, ""},
		{[]string{"-nosuch"}, 1, "flag provided but not defined: -nosuch"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cli(t.Context(), tt.args, func(string) string { return "" }, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tt.wantCode, &stderr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing (it holds events only)", &stdout)
			}
			out := stderr.String()
			for _, want := range []string{"Usage: events-tail", "SERVICEBUS_CONNECTION_STRING", "SERVICEBUS_NAMESPACE",
				"SERVICEBUS_ENTITY", "SERVICEBUS_SUBSCRIPTION", "-subscription", "-topic", "-namespace"} {
				if !strings.Contains(out, want) {
					t.Errorf("the usage lacks %q:\n%s", want, out)
				}
			}
			gotErr := strings.Contains(out, `"level":"ERROR"`)
			switch {
			case tt.wantCode == 0 && gotErr:
				t.Errorf("an ERROR line after the usage asked for:\n%s", out)
			case tt.wantCode == 1 && (!gotErr || !strings.Contains(out, tt.wantErr)):
				t.Errorf("no ERROR line with %q:\n%s", tt.wantErr, out)
			}
		})
	}
}

// TestSaysWhenServiceBusCannotBeReached: pointed at a port nothing listens on, or at a listener
// that never speaks, events-tail logs one warning within 15 s (the SDK alone retries in silence
// for as long as each receive window lasts) and keeps running; the warning quotes no key.
func TestSaysWhenServiceBusCannotBeReached(t *testing.T) {
	const key = "do-not-log-this-key-7f3a"
	tests := []struct {
		name string
		port func(t *testing.T) int
	}{
		{"nothing listens", closedPort},
		{"a listener that never speaks", func(t *testing.T) int { return testenv.SilentPort(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs := fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=%s;UseDevelopmentEmulator=true;", tt.port(t), key)
			tl := startTailOn(t, cs)
			deadline := time.Now().Add(15 * time.Second)
			for !strings.Contains(tl.stderr.String(), unreachable) {
				if time.Now().After(deadline) {
					t.Fatalf("no warning %q within 15 s; stderr:\n%s", unreachable, tl.stderr)
				}
				time.Sleep(100 * time.Millisecond)
			}
			select {
			case err := <-tl.done:
				tl.done <- err
				t.Fatalf("start returned %v, want it to keep trying", err)
			case <-time.After(time.Second):
			}
			var warnings int
			for _, l := range strings.Split(strings.TrimSpace(tl.stderr.String()), "\n") {
				var rec struct{ Level, Msg, Error string }
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatalf("stderr line is not JSON: %q", l)
				}
				if rec.Msg == unreachable {
					warnings++
					if rec.Level != "WARN" || !strings.Contains(rec.Error, "127.0.0.1") {
						t.Errorf("warning %q: want level WARN and an error naming the address", l)
					}
				}
			}
			if warnings != 1 {
				t.Errorf("%d warnings %q, want 1; stderr:\n%s", warnings, unreachable, tl.stderr)
			}
			if strings.Contains(tl.stderr.String(), key) {
				t.Errorf("stderr quotes the SharedAccessKey:\n%s", tl.stderr)
			}
			tl.cancel()
		})
	}
}

// closedPort is a loopback port that was free a moment ago and that nothing listens on now.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}
