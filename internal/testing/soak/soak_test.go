package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// Sizes: `make test` runs defaultSessions; `make soak` sets SOAK_SESSIONS=2000.
const (
	defaultSessions = 200
	workers         = 16
)

// eventTypes are the CloudEvent types of design §6, by final state.
var eventTypes = map[liveness.Status]string{
	liveness.StatusCompleted: "Liveness.Session.Completed",
	liveness.StatusFailed:    "Liveness.Session.Failed",
	liveness.StatusAbandoned: "Liveness.Session.Abandoned",
	liveness.StatusExpired:   "Liveness.Session.Expired",
	liveness.StatusCanceled:  "Liveness.Session.Canceled",
}

func envUint(t *testing.T, name string, def uint64) uint64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// TestSoak plays N full sessions (SOAK_SESSIONS, default 200), 16 at a time, while faults strike
// at random (SOAK_SEED replays a run's plans), runs Reconcile as the timer would meanwhile and
// then until nothing is due, and checks the promise of issue 10: every session in one final
// state, exactly one event delivered for it, of that state's type.
func TestSoak(t *testing.T) {
	n := int(envUint(t, "SOAK_SESSIONS", defaultSessions))
	seed := envUint(t, "SOAK_SEED", rand.Uint64())
	t.Logf("soak: %d sessions, seed %d (SOAK_SEED=%d replays it)", n, seed, seed)
	if n < 1 {
		t.Fatal("SOAK_SESSIONS must be at least 1")
	}
	r := newRig(t)
	ctx := t.Context()
	began := time.Now()

	sessions := make([]*session, n)
	for i := range sessions {
		sessions[i] = newSession(i, rand.New(rand.NewPCG(seed, uint64(i))))
	}
	inj := &injector{r: r, counts: map[string]int{}}
	in := &inbox{seen: map[[2]int64]bool{}}
	p := r.play(ctx, sessions, seed, inj, in)
	usersDone := time.Since(began)

	final := r.settle(t, sessions)
	if err := in.drain(ctx, r.serviceBus()); err != nil {
		t.Fatalf("taking the events in: %v", err)
	}
	elapsed := time.Since(began)

	// Faults counted.
	inj.counts["table exchanges spoiled by the three table faults"] = r.proxy.Spoiled()
	for _, s := range sessions {
		if s.callbacks > 1 {
			inj.counts[faultDupCallback]++
		}
	}
	for _, err := range inj.errs {
		t.Errorf("injecting a fault: %v", err)
	}

	c := check(t, sessions, final, in.got, r.tableSessions(t))

	t.Logf("soak: %d sessions in %v (users %v): %.1f sessions/s; seed %d", n, elapsed.Round(time.Millisecond),
		usersDone.Round(time.Millisecond), float64(n)/elapsed.Seconds(), seed)
	t.Logf("soak: faults injected: %s", figures(inj.counts))
	t.Logf("soak: client retries after a refusal, by status: %s; starts made again with a new Idempotency-Key after request_in_progress: %d",
		figures(p.retried), p.restarted)
	t.Logf("soak: Reconcile by the timer during the soak: %d runs (%d could not read the index), %d sessions finalized, %d events resent",
		p.timerRuns, p.timerErrs, p.timerFinalized, p.timerSent)
	t.Logf("soak: final states: %s; rows left inert by failed starts: %d", figures(c.states), c.inert)
	t.Logf("soak: plans: %s; deviated from plan (a lost answer, a step refused past the retries): %d", figures(c.plans), c.deviated)
	t.Logf("soak: events delivered %d (of %d sessions), duplicates %d (besides %d resent across a restart that made the stand-in forget its duplicate history), lost %d, wrong type %d",
		c.delivered, n, c.duplicates, c.acrossRestart, c.lost, c.wrongType)
}

// played is what play counts: the timer's Reconcile runs, those that could not read the index,
// the users' retries after a refusal, by status, and their starts made again.
type played struct {
	timerRuns, timerErrs      int64
	timerFinalized, timerSent int64 // what the timer's runs finalized and resent
	retried                   map[string]int
	restarted                 int // starts made again with a new Idempotency-Key
}

// play runs the users (who strike their sessions' faults) and the timer until every session was played, restarting the
// Service Bus stand-in at a third and two thirds of the way.
func (r *rig) play(ctx context.Context, sessions []*session, seed uint64, inj *injector, in *inbox) played {
	t := r.t
	n := len(sessions)
	faultsCtx, stopFaults := context.WithCancel(ctx)
	defer stopFaults()
	var background sync.WaitGroup
	var timerRuns, timerErrs, timerFinalized, timerSent atomic.Int64
	background.Go(func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-faultsCtx.Done():
				return
			case <-tick.C:
			}
			timerRuns.Add(1)
			res, err := r.reconcile(faultsCtx)
			if err != nil && faultsCtx.Err() == nil {
				timerErrs.Add(1) // the index unreadable (a table fault): the next tick retries
			}
			timerFinalized.Add(int64(res.Finalized))
			timerSent.Add(int64(res.Sent))
		}
	})

	u := &user{r: r, faults: inj, retries: 10, maxWait: 2 * time.Second, stats: &clientStats{retried: map[int]int{}},
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	restartAt := map[int64]bool{int64(n / 3): true}
	if n >= 100 {
		restartAt[int64(2*n/3)] = true
	}
	var restartMu sync.Mutex // one restart at a time: both touch the inbox
	var restarts sync.WaitGroup
	var done atomic.Int64
	queue := make(chan *session)
	var users sync.WaitGroup
	for range workers {
		users.Go(func() {
			for s := range queue {
				u.run(s, seed)
				if restartAt[done.Add(1)] {
					restarts.Go(func() {
						restartMu.Lock()
						defer restartMu.Unlock()
						inj.count(faultSBRestart)
						if err := r.restartServiceBus(ctx, in, time.Second); err != nil {
							t.Errorf("restarting the Service Bus stand-in: %v", err)
						}
					})
				}
			}
		})
	}
	for _, s := range sessions {
		queue <- s
	}
	close(queue)
	users.Wait()
	restarts.Wait()
	stopFaults()
	background.Wait()
	inj.clear()
	p := played{restarted: u.stats.restarted, timerRuns: timerRuns.Load(), timerErrs: timerErrs.Load(),
		timerFinalized: timerFinalized.Load(), timerSent: timerSent.Load(), retried: map[string]int{}}
	for status, k := range u.stats.retried {
		p.retried[strconv.Itoa(status)] = k
	}
	return p
}

// settle moves the clock past every session's TTL and runs Reconcile until nothing is due: two
// runs in a row, an hour apart (past every retry delay), that find nothing. It returns the final
// state of every session the users started, read from the table around the fault proxy.
func (r *rig) settle(t *testing.T, sessions []*session) map[string]*liveness.Session {
	t.Helper()
	r.clock.Advance(ttlSeconds*time.Second + 10*time.Minute) // past the TTL and the expiry grace
	quiet := 0
	for run := 0; quiet < 2; run++ {
		if run == 60 {
			t.Fatalf("Reconcile still finds due work after %d runs an hour apart", run)
		}
		res, err := r.reconcile(t.Context())
		if err != nil {
			t.Fatalf("Reconcile after the soak: %v", err)
		}
		if res.Due == 0 && res.Failed == 0 {
			quiet++
		} else {
			quiet = 0
			t.Logf("soak: Reconcile after the soak: %d due, %d finalized, %d events sent, %d failed, %d purged, %d left",
				res.Due, res.Finalized, res.Sent, res.Failed, res.Purged, res.Left)
		}
		r.clock.Advance(time.Hour)
	}
	final := map[string]*liveness.Session{}
	for _, s := range sessions {
		if s.id == "" {
			continue
		}
		sess, err := r.direct.GetSession(t.Context(), s.id)
		if err != nil {
			t.Errorf("session %d (%s): reading it: %v", s.index, s.id, err)
			continue
		}
		final[s.id] = sess
	}
	return final
}

// tableSessions are the ids of every session row in the table, read around the fault proxy.
func (r *rig) tableSessions(t *testing.T) []string {
	t.Helper()
	sel := "PartitionKey"
	pager := r.table.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: ptr("RowKey eq 'session'"), Select: &sel})
	var ids []string
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatalf("listing the session rows: %v", err)
		}
		for _, e := range page.Entities {
			var row struct{ PartitionKey string }
			if err := json.Unmarshal(e, &row); err != nil {
				t.Fatalf("a session row: %v", err)
			}
			ids = append(ids, row.PartitionKey)
		}
	}
	return ids
}

func ptr[T any](v T) *T { return &v }

// tally is what check counted.
type tally struct {
	states, plans                                                   map[string]int
	deviated, delivered, duplicates, acrossRestart, lost, wrongType int
	inert                                                           int // rows of failed starts
}

// check asserts the soak's promise and counts its figures.
func check(t *testing.T, sessions []*session, final map[string]*liveness.Session, got []delivered, rows []string) tally {
	t.Helper()
	c := tally{states: map[string]int{}, plans: map[string]int{}}
	byID := map[string]*session{}
	for _, s := range sessions {
		c.plans[string(s.plan)]++
		for _, e := range s.errs {
			t.Errorf("session %d (%s, %s): %s", s.index, s.id, s.plan, e)
		}
		if s.id != "" {
			byID[s.id] = s
		}
		if s.deviated != "" {
			c.deviated++
		}
	}
	// Every session started is in the table; a row no user was answered is what a failed start
	// could not delete (inert by design: no due entry names it, so no event ever will).
	inTable := map[string]bool{}
	for _, id := range rows {
		inTable[id] = true
		if byID[id] == nil {
			c.inert++
		}
	}
	for id, s := range byID {
		if !inTable[id] {
			t.Errorf("session %d (%s): no row in the table", s.index, id)
		}
	}

	firstEpoch := map[string]int{} // MessageID → the stand-in run that first delivered it
	bySubject := map[string][]delivered{}
	for _, d := range got {
		if e, ok := firstEpoch[d.messageID]; ok {
			if e == d.epoch {
				c.duplicates++
				t.Errorf("event %s delivered twice by one run of the stand-in", d.messageID)
			} else {
				c.acrossRestart++
			}
			continue
		}
		firstEpoch[d.messageID] = d.epoch
		c.delivered++
		bySubject[d.subject] = append(bySubject[d.subject], d)
	}
	for id, s := range byID {
		sess := final[id]
		if sess == nil {
			t.Errorf("session %d (%s): not in the table", s.index, id)
			continue
		}
		c.states[string(sess.Status)]++
		if !sess.Status.Final() {
			t.Errorf("session %d (%s, %s): %s, want a final state", s.index, id, s.plan, sess.Status)
		}
		if s.deviated == "" && len(s.errs) == 0 && sess.Status != s.want {
			t.Errorf("session %d (%s, %s): %s, want %s", s.index, id, s.plan, sess.Status, s.want)
		}
		evs := bySubject[id]
		switch {
		case len(evs) == 0:
			c.lost++
			t.Errorf("session %d (%s, %s): no event delivered", s.index, id, sess.Status)
			continue
		case len(evs) > 1:
			c.duplicates += len(evs) - 1
			t.Errorf("session %d (%s): %d events delivered: %v", s.index, id, len(evs), evs)
		}
		d := evs[0]
		if want := events.MessageID(id, sess.Status); d.messageID != want || d.ceID != want || d.ceType != eventTypes[sess.Status] {
			c.wrongType++
			t.Errorf("session %d (%s): event id %s (CloudEvent %s) of type %s, want %s of type %s",
				s.index, id, d.messageID, d.ceID, d.ceType, want, eventTypes[sess.Status])
		}
		delete(bySubject, id)
	}
	for id, evs := range bySubject {
		t.Errorf("events for a session no user started (%s): %v", id, evs)
	}
	return c
}

// figures formats counts as "name n, name n" in name order.
func figures(counts map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
