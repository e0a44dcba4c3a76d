package store

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// tryTimeout is the proxied store's per-try timeout: short, so that a Stall costs a second.
const tryTimeout = time.Second

// proxied is a fixture whose second store, on the same table, talks to Azurite through a fault
// proxy with the production retry policy (only its timings shortened).
type proxied struct {
	*fixture
	faulty *Store
	proxy  *faultproxy.Proxy
}

func newProxied(t *testing.T, opts *Options) *proxied {
	t.Helper()
	f := newFixture(t, opts)
	p, connStr := faultproxy.InFront(t, testenv.StartAzurite(t).ConnectionString())
	copts := clientOptions(defaultBounds())
	copts.Retry.TryTimeout = tryTimeout
	copts.Retry.RetryDelay, copts.Retry.MaxRetryDelay = 10*time.Millisecond, 50*time.Millisecond
	svc, err := aztables.NewServiceClientFromConnectionString(connStr, copts)
	if err != nil {
		t.Fatalf("proxied service client: %v", err)
	}
	o := Options{TablePrefix: strings.TrimSuffix(f.table, tableBaseName)}
	if opts != nil {
		o.Now, o.NewWriteID, o.AnnounceDelay = opts.Now, opts.NewWriteID, opts.AnnounceDelay
	}
	faulty, err := New(t.Context(), svc, &o)
	if err != nil {
		t.Fatalf("New through the proxy: %v", err)
	}
	return &proxied{fixture: f, faulty: faulty, proxy: p}
}

// etagOf is the ETag of a row as the service holds it now.
func (f *fixture) etagOf(t *testing.T, pk, rk string) string {
	t.Helper()
	resp, err := f.raw.GetEntity(t.Context(), pk, rk, nil)
	if err != nil {
		t.Fatalf("reading row (%s, %s): %v", pk, rk, err)
	}
	return string(resp.ETag)
}

// writeCase is one write of the store: setup prepares what it needs through the healthy store,
// act does the write through the faulty one, check asserts that it took effect as reported.
type writeCase struct {
	name  string
	rule  faultproxy.Rule // which exchange to spoil; Fault and Times are set per fault
	act   func(t *testing.T, p *proxied) (check func(t *testing.T))
	fresh bool // the write checks the row's version: its retry meets its own write (409/412)
}

var sessionPath = "RowKey='session'"

func writeCases() []writeCase {
	return []writeCase{
		{
			name: "reserve idempotency key", fresh: true,
			rule: faultproxy.Rule{Method: "POST", Body: `"RowKey":"idempotency"`},
			act: func(t *testing.T, p *proxied) func(*testing.T) {
				rec := newRecord()
				existing, err := p.faulty.ReserveIdempotencyKey(t.Context(), rec)
				if err != nil || existing != nil {
					t.Fatalf("Reserve = %+v, %v; want nil, nil: the reservation is this request's own", existing, err)
				}
				return func(t *testing.T) {
					if want := p.etagOf(t, rec.KeyHash, rowIdempotency); rec.ETag != want {
						t.Errorf("rec.ETag = %q, want the row's %q", rec.ETag, want)
					}
				}
			},
		},
		{
			name: "complete idempotency key", fresh: true,
			rule: faultproxy.Rule{Method: "PUT", Path: "RowKey='idempotency'"},
			act: func(t *testing.T, p *proxied) func(*testing.T) {
				rec := newRecord()
				if _, err := p.store.ReserveIdempotencyKey(t.Context(), rec); err != nil {
					t.Fatalf("Reserve: %v", err)
				}
				rec.SessionID = newSession().ID
				if err := p.faulty.CompleteIdempotencyKey(t.Context(), rec); err != nil {
					t.Fatalf("Complete = %v, want nil: the new version is this request's own", err)
				}
				return func(t *testing.T) {
					if want := p.etagOf(t, rec.KeyHash, rowIdempotency); rec.ETag != want {
						t.Errorf("rec.ETag = %q, want the row's %q", rec.ETag, want)
					}
					if got := p.rawRow(t, rec.KeyHash, rowIdempotency)["SessionID"]; got != rec.SessionID {
						t.Errorf("row's SessionID = %v, want %s", got, rec.SessionID)
					}
				}
			},
		},
		{
			name: "release idempotency key",
			rule: faultproxy.Rule{Method: "DELETE", Path: "RowKey='idempotency'"},
			act: func(t *testing.T, p *proxied) func(*testing.T) {
				rec := newRecord()
				if _, err := p.store.ReserveIdempotencyKey(t.Context(), rec); err != nil {
					t.Fatalf("Reserve: %v", err)
				}
				if err := p.faulty.ReleaseIdempotencyKey(t.Context(), rec); err != nil {
					t.Fatalf("Release = %v, want nil: the row is gone, as asked", err)
				}
				return func(t *testing.T) {
					if _, err := p.raw.GetEntity(t.Context(), rec.KeyHash, rowIdempotency, nil); err == nil {
						t.Error("the reservation still exists")
					}
				}
			},
		},
		{
			name: "create session", fresh: true,
			rule: faultproxy.Rule{Method: "POST", Body: `"RowKey":"session"`},
			act: func(t *testing.T, p *proxied) func(*testing.T) {
				sess := newSession()
				if err := p.faulty.CreateSession(t.Context(), sess); err != nil {
					t.Fatalf("CreateSession = %v, want nil: the row is this request's own", err)
				}
				return func(t *testing.T) {
					if want := p.etagOf(t, sess.ID, rowSession); sess.ETag != want {
						t.Errorf("sess.ETag = %q, want the row's %q", sess.ETag, want)
					}
				}
			},
		},
		{
			name: "update session", fresh: true,
			rule: faultproxy.Rule{Method: "PUT", Path: sessionPath},
			act: func(t *testing.T, p *proxied) func(*testing.T) {
				sess := p.createSession(t, newSession())
				sess.Status, sess.LinkIssuedAt = liveness.StatusLinkIssued, sess.CreatedAt.Add(time.Second)
				if err := p.faulty.UpdateSession(t.Context(), sess); err != nil {
					t.Fatalf("UpdateSession = %v, want nil: the new version is this request's own", err)
				}
				return func(t *testing.T) {
					if want := p.etagOf(t, sess.ID, rowSession); sess.ETag != want {
						t.Errorf("sess.ETag = %q, want the row's %q", sess.ETag, want)
					}
					if got := p.rawRow(t, sess.ID, rowSession)["Status"]; got != string(liveness.StatusLinkIssued) {
						t.Errorf("row's Status = %v, want linkIssued", got)
					}
				}
			},
		},
		{
			name: "finalize (transaction)", fresh: true,
			rule: faultproxy.Rule{Method: "POST", Path: "$batch"},
			act: func(t *testing.T, p *proxied) func(*testing.T) {
				final := finalCopy(p.createSession(t, newSession()), "realface")
				if err := p.faulty.Finalize(t.Context(), final, []byte(`{"n":1}`)); err != nil {
					t.Fatalf("Finalize = %v, want nil: the commit is this request's own", err)
				}
				return func(t *testing.T) {
					if want := p.etagOf(t, final.ID, rowSession); final.ETag != want {
						t.Errorf("sess.ETag = %q, want the row's %q", final.ETag, want)
					}
					if ev, found, err := p.store.PendingEvent(t.Context(), final.ID); err != nil || !found || string(ev) != `{"n":1}` {
						t.Errorf("PendingEvent = %s, %v, %v; want the finalized event", ev, found, err)
					}
				}
			},
		},
		{
			name: "mark face deleted (merge)",
			rule: faultproxy.Rule{Method: "PATCH", Path: sessionPath},
			act: func(t *testing.T, p *proxied) func(*testing.T) {
				final := finalCopy(p.createSession(t, newSession()), "realface")
				if err := p.store.Finalize(t.Context(), final, []byte(`{}`)); err != nil {
					t.Fatalf("Finalize: %v", err)
				}
				if err := p.faulty.MarkFaceDeleted(t.Context(), final); err != nil {
					t.Fatalf("MarkFaceDeleted = %v, want nil", err)
				}
				return func(t *testing.T) {
					if got := p.rawRow(t, final.ID, rowSession)["FaceDeleted"]; got != true {
						t.Errorf("row's FaceDeleted = %v, want true", got)
					}
				}
			},
		},
		{
			name: "mark event sent (merge)",
			rule: faultproxy.Rule{Method: "PATCH", Path: "RowKey='event'"},
			act: func(t *testing.T, p *proxied) func(*testing.T) {
				final := finalCopy(p.createSession(t, newSession()), "realface")
				if err := p.store.Finalize(t.Context(), final, []byte(`{}`)); err != nil {
					t.Fatalf("Finalize: %v", err)
				}
				if err := p.faulty.MarkEventSent(t.Context(), final.ID); err != nil {
					t.Fatalf("MarkEventSent = %v, want nil", err)
				}
				return func(t *testing.T) {
					if _, found, err := p.store.PendingEvent(t.Context(), final.ID); err != nil || found {
						t.Errorf("PendingEvent = found %v, %v; want the event marked sent", found, err)
					}
				}
			},
		},
		{
			name: "add due (upsert)",
			rule: faultproxy.Rule{Method: "PUT", Path: "_expire'"},
			act: func(t *testing.T, p *proxied) func(*testing.T) {
				item := liveness.DueItem{SessionID: newSession().ID, Reason: liveness.DueExpire, Due: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
				if err := p.faulty.AddDue(t.Context(), item); err != nil {
					t.Fatalf("AddDue = %v, want nil", err)
				}
				return func(t *testing.T) { p.rawRow(t, duePartition(item.Due), dueRowKey(item)) }
			},
		},
		{
			name: "re-file due (upsert, then delete of the listed version)",
			rule: faultproxy.Rule{Method: "DELETE", Path: "_expire'"},
			act: func(t *testing.T, p *proxied) func(*testing.T) {
				due := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
				item := liveness.DueItem{SessionID: newSession().ID, Reason: liveness.DueExpire, Due: due}
				if err := p.store.AddDue(t.Context(), item); err != nil {
					t.Fatalf("AddDue: %v", err)
				}
				listed, err := p.store.ListDue(t.Context(), due, nil, 10)
				if err != nil || len(listed) != 1 {
					t.Fatalf("ListDue = %v, %v; want the one entry", listed, err)
				}
				next := item
				next.Due, next.Attempts = due.Add(time.Hour), 1
				if err := p.faulty.AddDue(t.Context(), next); err != nil {
					t.Fatalf("AddDue (re-file) = %v, want nil", err)
				}
				if err := p.faulty.DeleteDue(t.Context(), listed[0]); err != nil {
					t.Fatalf("DeleteDue of the listed version = %v, want nil", err)
				}
				return func(t *testing.T) {
					if _, err := p.raw.GetEntity(t.Context(), duePartition(due), dueRowKey(item), nil); err == nil {
						t.Error("the listed entry still exists")
					}
					if got := p.rawRow(t, duePartition(next.Due), dueRowKey(next))["Attempts"]; fmt.Sprint(got) != "1" {
						t.Errorf("re-filed entry's Attempts = %v, want 1", got)
					}
				}
			},
		},
	}
}

// Every write whose answer is lost after it committed — the connection reset, a 500 in place of
// the answer, the answer held past the client's timeout — is retried by the SDK and must report
// what happened: a success, with the row's ETag. Inserts and conditional updates meet their own
// write on the retry (409, 412); they also recognize it when every try's answer is lost.
func TestWriteMeetsItsOwnEarlierSuccess(t *testing.T) {
	faults := []struct {
		name      string
		fault     faultproxy.Fault
		times     int
		freshOnly bool
	}{
		{"answer lost", faultproxy.Lose, 1, false},
		{"500 after the commit", faultproxy.Fail, 1, false},
		{"answer delayed past the try timeout", faultproxy.Stall, 1, false},
		{"every try's answer lost", faultproxy.Lose, 4, true}, // MaxRetries+1 tries
	}
	for _, wc := range writeCases() {
		for _, fl := range faults {
			if fl.freshOnly && !wc.fresh {
				continue
			}
			t.Run(wc.name+"/"+fl.name, func(t *testing.T) {
				t.Parallel()
				p := newProxied(t, nil)
				rule := wc.rule
				rule.Fault, rule.Times = fl.fault, fl.times
				p.proxy.Inject(rule)
				check := wc.act(t, p)
				if p.proxy.Pending() != 0 {
					t.Fatalf("the fault was not injected (%d pending): the test proves nothing", p.proxy.Pending())
				}
				check(t)
			})
		}
	}
}

// When the write's answer is lost and the row cannot be read back, nobody can tell whether the
// write committed: the answer is ErrUpstreamUnavailable (a 503), never a conflict or an
// "already exists" that may be the caller's own success.
func TestWriteThatCannotTellIsUnavailable(t *testing.T) {
	tests := []struct {
		name  string
		write faultproxy.Rule
		read  string // the row whose reads are refused
		act   func(t *testing.T, p *proxied) error
	}{
		{
			name:  "reserve idempotency key",
			write: faultproxy.Rule{Method: "POST", Body: `"RowKey":"idempotency"`},
			read:  "RowKey='idempotency'",
			act: func(t *testing.T, p *proxied) error {
				_, err := p.faulty.ReserveIdempotencyKey(t.Context(), newRecord())
				return err
			},
		},
		{
			name:  "complete idempotency key",
			write: faultproxy.Rule{Method: "PUT", Path: "RowKey='idempotency'"},
			read:  "RowKey='idempotency'",
			act: func(t *testing.T, p *proxied) error {
				rec := newRecord()
				if _, err := p.store.ReserveIdempotencyKey(t.Context(), rec); err != nil {
					t.Fatalf("Reserve: %v", err)
				}
				rec.SessionID = newSession().ID
				return p.faulty.CompleteIdempotencyKey(t.Context(), rec)
			},
		},
		{
			name:  "create session",
			write: faultproxy.Rule{Method: "POST", Body: `"RowKey":"session"`},
			read:  sessionPath,
			act: func(t *testing.T, p *proxied) error {
				return p.faulty.CreateSession(t.Context(), newSession())
			},
		},
		{
			name:  "update session",
			write: faultproxy.Rule{Method: "PUT", Path: sessionPath},
			read:  sessionPath,
			act: func(t *testing.T, p *proxied) error {
				sess := p.createSession(t, newSession())
				sess.ExternalReference = "changed"
				return p.faulty.UpdateSession(t.Context(), sess)
			},
		},
		{
			name:  "finalize (transaction)",
			write: faultproxy.Rule{Method: "POST", Path: "$batch"},
			read:  sessionPath,
			act: func(t *testing.T, p *proxied) error {
				return p.faulty.Finalize(t.Context(), finalCopy(p.createSession(t, newSession()), "realface"), []byte(`{}`))
			},
		},
	}
	for _, tt := range tests {
		for _, lost := range []int{1, 100} { // the first answer (the retry meets the row), or every one
			t.Run(fmt.Sprintf("%s/%d answers lost", tt.name, lost), func(t *testing.T) {
				t.Parallel()
				p := newProxied(t, nil)
				w := tt.write
				w.Fault, w.Times = faultproxy.Lose, lost
				p.proxy.Inject(w)
				// The re-read is throttled with a hint longer than the retry policy waits.
				p.proxy.Inject(faultproxy.Rule{Method: "GET", Path: tt.read, Fault: faultproxy.Refuse, Times: 100,
					Header: http.Header{"Retry-After": {"40"}}})
				err := tt.act(t, p)
				if p.proxy.Spoiled() < 2 {
					t.Fatalf("%d exchanges spoiled, want the write and its re-read: the test proves nothing", p.proxy.Spoiled())
				}
				if !errors.Is(err, liveness.ErrUpstreamUnavailable) || errors.Is(err, liveness.ErrConflict) ||
					errors.Is(err, liveness.ErrAlreadyExists) || errors.Is(err, liveness.ErrNotFound) {
					t.Errorf("error = %v, want ErrUpstreamUnavailable and no other kind", err)
				}
				if got := upstream.RetryAfter(err); got != 40*time.Second {
					t.Errorf("upstream.RetryAfter = %v, want the re-read's hint of 40s", got)
				}
			})
		}
	}
}

// Another writer's row or version is not mistaken for one's own: the write ids differ.
func TestAnotherWritersRowIsNotOwn(t *testing.T) {
	var n atomic.Int64
	p := newProxied(t, &Options{NewWriteID: func() string { return fmt.Sprintf("w%d", n.Add(1)) }})
	ctx := t.Context()

	sess := p.createSession(t, newSession())
	if got := p.rawRow(t, sess.ID, rowSession)["WriteID"]; got != "w1" {
		t.Fatalf("row's WriteID = %v, want w1 from Options.NewWriteID", got)
	}
	twin := *sess
	if err := p.faulty.CreateSession(ctx, &twin); !errors.Is(err, liveness.ErrAlreadyExists) {
		t.Errorf("CreateSession over another write's row = %v, want ErrAlreadyExists", err)
	}

	stale := *sess
	sess.ExternalReference = "first"
	if err := p.store.UpdateSession(ctx, sess); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	stale.ExternalReference = "second"
	if err := p.faulty.UpdateSession(ctx, &stale); !errors.Is(err, liveness.ErrConflict) {
		t.Errorf("UpdateSession under a version another write replaced = %v, want ErrConflict", err)
	}

	rec := newRecord()
	if _, err := p.store.ReserveIdempotencyKey(ctx, rec); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	existing, err := p.faulty.ReserveIdempotencyKey(ctx, newRecordWithKey(rec.KeyHash))
	if !errors.Is(err, liveness.ErrAlreadyExists) || existing == nil || existing.ETag != rec.ETag {
		t.Errorf("Reserve of another request's key = %+v, %v; want its record and ErrAlreadyExists", existing, err)
	}
}
