package main

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/logsink"
)

// Azure's limits on one invocation: the front end cuts an HTTP request at 230 s, and the host
// kills the whole handler process past functionTimeout (read from host.json). Every endpoint's
// worst case must stay below both by at least hostLimitMargin.
const (
	frontEndLimit   = 230 * time.Second
	hostLimitMargin = 30 * time.Second
)

// functionTimeout is host.json's functionTimeout ("hh:mm:ss").
func functionTimeout(t *testing.T) time.Duration {
	t.Helper()
	raw, err := os.ReadFile("../../host.json")
	if err != nil {
		t.Fatal(err)
	}
	var host struct {
		FunctionTimeout string `json:"functionTimeout"`
	}
	if err := json.Unmarshal(raw, &host); err != nil {
		t.Fatalf("host.json: %v", err)
	}
	var h, m, s int
	if _, err := fmt.Sscanf(host.FunctionTimeout, "%d:%d:%d", &h, &m, &s); err != nil {
		t.Fatalf("host.json functionTimeout %q: %v", host.FunctionTimeout, err)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second
}

// TestEveryEndpointFinishesWithinTheHostLimits builds the handler as run does and adds up each
// endpoint's worst case from the bounds it was built with: what may come before its handler runs
// (the start gate's wait; a client's body, which has until bodyLimit from the request's start),
// then its Budget (its upstream calls at their call bounds, capped by its own budget, and the
// clean-up after). Each must be below the front end's 230 s and functionTimeout with margin.
func TestEveryEndpointFinishesWithinTheHostLimits(t *testing.T) {
	settings := appSettings(t, "http://127.0.0.1:1", freePort(t))
	settings["QUICKLINK_ENDPOINT"] = "http://127.0.0.1:2"
	cfg, err := loadConfig(func(k string) string { return settings[k] })
	if err != nil {
		t.Fatal(err)
	}
	srv, closePub, err := buildServer(t.Context(), cfg, newLogger(cfg.LogLevel, &logsink.Buffer{}, &logsink.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closePub(t.Context()) })
	budgets, err := srv.Budgets()
	if err != nil {
		t.Fatal(err)
	}
	fnTimeout := functionTimeout(t)
	withBody := map[string]bool{"StartSession": true, "IssueLink": true}
	for _, b := range budgets {
		before := startWait
		if withBody[b.Endpoint] {
			before = max(startWait, handlerLimits().body)
		}
		worst := before + b.Total()
		t.Logf("%-13s worst case %v (before the handler %v, work %v, clean-up %v)", b.Endpoint, worst, before, b.Work, b.Tail)
		limit := min(frontEndLimit, fnTimeout)
		if b.Endpoint == "Reconcile" {
			limit = fnTimeout // a timer function: no front end
		}
		if worst > limit-hostLimitMargin {
			t.Errorf("%s: worst case %v, want at most %v (%v less %v of margin)", b.Endpoint, worst, limit-hostLimitMargin, limit, hostLimitMargin)
		}
	}
	if len(budgets) != 7 {
		t.Errorf("%d endpoints budgeted, want 7 (Health, GetSession, StartSession, IssueLink, CancelSession, Callback, Reconcile)", len(budgets))
	}
}
