package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// finalized starts a session and cancels it (its event sent inline, its Face session revoked),
// then lets its announce and expiry entries come due and runs Reconcile, which drops the expiry
// entry and files the purge entry.
func (a *app) finalized() sessionView {
	a.t.Helper()
	v := a.start(`{"externalReference":"retained"}`)
	a.cancel(v)
	a.passDue(v)
	a.reconcile()
	return v
}

// rowsOf are the keys of every row about session id: its own partition and its due entries.
func (a *app) rowsOf(id string) []string {
	a.t.Helper()
	var keys []string
	for k := range a.rows() {
		if strings.HasPrefix(k, id+"/") || strings.Contains(k, "/"+id+"_") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// workDue is dueFor without the purge entry (retention) that every announced final session has.
func (a *app) workDue(id string) []liveness.DueItem {
	a.t.Helper()
	return slices.DeleteFunc(a.dueFor(id), func(it liveness.DueItem) bool { return it.Reason == liveness.DuePurge })
}

// keyDue is the due entries of the Idempotency-Key key, looking far into the future.
func (a *app) keyDue(key string) []liveness.DueItem {
	a.t.Helper()
	items, err := a.store.ListDue(a.t.Context(), a.clock.Now().Add(365*24*time.Hour), nil, 1000)
	if err != nil {
		a.t.Fatalf("store.ListDue: %v", err)
	}
	return slices.DeleteFunc(items, func(it liveness.DueItem) bool { return it.KeyHash != keyHashOf(key) })
}

func keyHashOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// A final session is deleted RETENTION_DAYS after its final state, by Reconcile through the due
// index: its row, its sent event and its entries. Not a minute before.
func TestRetentionPurgesAFinalSessionAfterItsPeriod(t *testing.T) {
	a := newApp(t, nil)
	v := a.finalized()
	completed := a.storedSession(v.SessionID).CompletedAt
	want := []liveness.DueItem{{SessionID: v.SessionID, Reason: liveness.DuePurge, Due: completed.Add(defaultRetention)}}
	if diff := cmp.Diff(want, a.dueFor(v.SessionID), ignoreETag); diff != "" {
		t.Fatalf("due entries once the final state is announced (-want +got):\n%s", diff)
	}

	a.clock.Set(completed.Add(defaultRetention - time.Minute))
	a.reconcile()
	if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil); g.status != http.StatusOK {
		t.Fatalf("GET a minute before the retention period ends = %d %s, want 200", g.status, g.body)
	}

	a.clock.Set(completed.Add(defaultRetention))
	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 1 due, 0 finalized, 0 events sent, 0 failed, 1 purged, 0 left" {
		t.Errorf("Reconcile at the end of the retention period = %q, want 1 purged", logs)
	}
	if left := a.rowsOf(v.SessionID); len(left) != 0 {
		t.Errorf("rows left of the purged session: %v", left)
	}
	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 0 due, 0 finalized, 0 events sent, 0 failed, 0 purged, 0 left" {
		t.Errorf("the next Reconcile = %q, want nothing left to do", logs)
	}
}

// A purged session is unknown to every endpoint that names it.
func TestRetentionPurgedSessionAnswers404(t *testing.T) {
	a := newApp(t, nil)
	v := a.finalized()
	a.clock.Set(a.storedSession(v.SessionID).CompletedAt.Add(defaultRetention))
	if logs := a.reconcile(); len(logs) != 1 || !strings.Contains(logs[0], " 1 purged") {
		t.Fatalf("Reconcile = %q, want the session purged", logs)
	}
	id := v.SessionID
	callback := a.signedCallback(id) // a link that is valid but for its session
	a.do("GET", "/api/sessions/"+id, nil, nil).wantProblem(t, http.StatusNotFound, "session_not_found")
	a.do("DELETE", "/api/sessions/"+id, nil, nil).wantProblem(t, http.StatusNotFound, "session_not_found")
	a.link(id, nil).wantProblem(t, http.StatusNotFound, "session_not_found")
	a.callback("GET", callback, browserGET).wantPage(t, http.StatusNotFound, "session_not_found")
	a.callback("POST", callback, plainPOST).wantProblem(t, http.StatusNotFound, "session_not_found")
	if left := a.rowsOf(id); len(left) != 0 {
		t.Errorf("the requests to a purged session left rows: %v", left)
	}
}

// The outbox row of an event not yet sent is the outcome's only copy: retention never deletes it,
// nor its session; the purge entry is filed again for later.
func TestRetentionKeepsASessionWhoseEventIsUnsent(t *testing.T) {
	a := newApp(t, nil)
	short := a.variant(t, func(s *Settings, _ *Options) { s.Retention = time.Second })
	v := a.start(`{"externalReference":"unsent"}`)
	a.cancel(v)
	row := fmt.Sprintf(`{"PartitionKey":%q,"RowKey":"event","Sent":false}`, v.SessionID)
	if _, err := a.table.UpdateEntity(t.Context(), []byte(row), nil); err != nil {
		t.Fatalf("marking the event unsent: %v", err)
	}
	a.clock.Advance(30 * time.Second) // past the retention, before the announce entry
	a.addDue(v.SessionID, liveness.DuePurge, a.clock.Now())

	if logs := short.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 1 due, 0 finalized, 0 events sent, 1 failed, 0 purged, 1 left" {
		t.Errorf("Reconcile = %q, want the purge failed and left", logs)
	}
	if out, found := a.outbox(v.SessionID); !found || out.Sent {
		t.Fatalf("event row: found %v, sent %v; want kept, unsent", found, out.Sent)
	}
	a.storedSession(v.SessionID)
	var purge []liveness.DueItem
	for _, d := range a.dueFor(v.SessionID) {
		if d.Reason == liveness.DuePurge {
			purge = append(purge, d)
		}
	}
	if len(purge) != 1 || purge[0].Attempts != 1 || !purge[0].Due.After(a.clock.Now()) {
		t.Errorf("purge entries after the refusal = %+v, want one, filed again for later", purge)
	}

	// Once the announce entry has sent the event, the purge goes through. The purge entry the
	// announce entry files meanwhile finds no session on the next run and is dropped.
	a.clock.Advance(2 * time.Minute)
	if logs := short.reconcile(); len(logs) != 1 || !strings.Contains(logs[0], " 1 purged, 0 left") {
		t.Errorf("Reconcile once the event can be sent = %q, want the session purged", logs)
	}
	a.passDue(v)
	short.reconcile()
	if left := a.rowsOf(v.SessionID); len(left) != 0 {
		t.Errorf("rows left once the event was sent and the purge came due again: %v", left)
	}
}

// Two Reconcile runs racing over the same purge entries delete each session once, count it once,
// and neither fails.
func TestRetentionRacingRunsPurgeOnce(t *testing.T) {
	a := newApp(t, nil)
	other := a.variant(t, func(*Settings, *Options) {})
	const n = 6
	var ids []string
	for range n {
		ids = append(ids, a.finalized().SessionID)
	}
	a.clock.Advance(defaultRetention + time.Minute)
	var wg sync.WaitGroup
	logs := make([][]string, 2)
	for i, run := range []*app{a, other} {
		wg.Go(func() { logs[i] = run.reconcile() })
	}
	wg.Wait()
	purged := 0
	for _, l := range logs {
		var due, fin, sent, failed, p, left int
		if len(l) != 1 {
			t.Fatalf("Reconcile logs = %q", l)
		}
		if _, err := fmt.Sscanf(l[0], "reconcile: %d due, %d finalized, %d events sent, %d failed, %d purged, %d left", &due, &fin, &sent, &failed, &p, &left); err != nil {
			t.Fatalf("Reconcile log %q: %v", l[0], err)
		}
		if failed != 0 || left != 0 {
			t.Errorf("a racing run = %q, want nothing failed or left", l[0])
		}
		purged += p
	}
	if purged != n {
		t.Errorf("sessions purged by the two runs = %d, want %d (each once): %q", purged, n, logs)
	}
	for _, id := range ids {
		if left := a.rowsOf(id); len(left) != 0 {
			t.Errorf("rows left of %s: %v", id, left)
		}
	}
}

// An Idempotency-Key record is deleted once its window is over, through its own due entry, and
// the same key then starts a new session. A record reserved again meanwhile keeps its new window.
func TestRetentionForgetsIdempotencyKeysAfterTheirWindow(t *testing.T) {
	a := newApp(t, nil)
	body := []byte(`{"externalReference":"keyed"}`)
	key := map[string]string{"Idempotency-Key": "retained-" + randomHex(t, 8)}
	first := a.do("POST", "/api/sessions", body, key)
	if first.status != http.StatusCreated {
		t.Fatalf("POST = %d %s, want 201", first.status, first.body)
	}
	window := a.srv.opts.IdempotencyWindow
	want := []liveness.DueItem{{KeyHash: keyHashOf(key["Idempotency-Key"]), Reason: liveness.DueForgetKey, Due: a.clock.Now().Add(window)}}
	if diff := cmp.Diff(want, a.keyDue(key["Idempotency-Key"]), ignoreETag); diff != "" {
		t.Fatalf("due entries of the key (-want +got):\n%s", diff)
	}

	// Within the window, Reconcile leaves the record: a replay answers the same session.
	a.clock.Advance(window - time.Minute)
	a.reconcile()
	if r := a.do("POST", "/api/sessions", body, key); r.status != http.StatusOK || r.session(t).SessionID != first.session(t).SessionID {
		t.Fatalf("replay within the window = %d %s, want 200 and the same session", r.status, r.body)
	}

	// Past the window, before Reconcile, the key is taken again: the old entry must not delete
	// the new record, whose window is open.
	a.clock.Advance(2 * time.Minute)
	second := a.do("POST", "/api/sessions", body, key)
	if second.status != http.StatusCreated || second.session(t).SessionID == first.session(t).SessionID {
		t.Fatalf("the key past its window = %d %s, want 201 and a new session", second.status, second.body)
	}
	a.reconcile()
	if r := a.do("POST", "/api/sessions", body, key); r.status != http.StatusOK || r.session(t).SessionID != second.session(t).SessionID {
		t.Errorf("replay after Reconcile = %d %s, want 200 and the second session (its window is open)", r.status, r.body)
	}
	if _, err := a.store.GetIdempotencyKey(t.Context(), keyHashOf(key["Idempotency-Key"])); err != nil {
		t.Errorf("the new record: %v, want it kept", err)
	}

	// Past the new window, Reconcile deletes it and its entry.
	a.clock.Advance(window + time.Minute)
	a.reconcile()
	if _, err := a.store.GetIdempotencyKey(t.Context(), keyHashOf(key["Idempotency-Key"])); err == nil || !strings.Contains(err.Error(), liveness.ErrNotFound.Error()) {
		t.Errorf("the record past its window: %v, want not found", err)
	}
	if left := a.keyDue(key["Idempotency-Key"]); len(left) != 0 {
		t.Errorf("entries of the forgotten key: %+v", left)
	}
}

// The run's report says what it left: entries that failed and were filed again, and entries it
// read but did not get to when a dependency down stopped it.
func TestReconcileReportsWhatItLeft(t *testing.T) {
	a := newApp(t, nil)
	var last sessionView
	for range 5 {
		last = a.start(`{"externalReference":"left"}`)
	}
	a.passDue(last)
	a.stub.SetFaults(facestub.Faults{ServerErrors: 1000})
	if logs := a.reconcile(); len(logs) != 1 || logs[0] != "reconcile: 5 due, 0 finalized, 0 events sent, 3 failed, 0 purged, 5 left" {
		t.Errorf("Reconcile with Face down = %q, want 3 failed (then stopped) and all 5 left", logs)
	}
	if !strings.Contains(a.logs.String(), `"msg":"reconcile: run"`) || !strings.Contains(a.logs.String(), `"left":5`) {
		t.Errorf("no run log line with what was left:\n%s", a.logs.String())
	}
}
