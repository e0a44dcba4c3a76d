package handlers

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/store"
	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// upstreamLatency is what every recorded upstream exchange is made to take: long enough that
// exchanges a request makes at once overlap on a busy machine, so that they show as one stage.
const upstreamLatency = 40 * time.Millisecond

// span is one upstream exchange, as the handler saw it take.
type span struct {
	name       string
	start, end time.Time
}

// timeline records the upstream exchanges (Face, quick links, tables) of the handler while on,
// each delayed by upstreamLatency.
type timeline struct {
	mu    sync.Mutex
	on    bool
	spans []span
}

func (tl *timeline) record(name string, exchange func()) {
	tl.mu.Lock()
	on := tl.on
	tl.mu.Unlock()
	if !on {
		exchange()
		return
	}
	start := time.Now()
	time.Sleep(upstreamLatency)
	exchange()
	end := time.Now()
	tl.mu.Lock()
	tl.spans = append(tl.spans, span{name, start, end})
	tl.mu.Unlock()
}

func (tl *timeline) start() {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.on, tl.spans = true, nil
}

// stages stops recording and returns the exchanges by stage. The handler makes an exchange as
// soon as the one it waited for has answered, so an exchange's stage is one after that of the
// exchange that ended last before it started (none: the first stage). Exchanges made at once
// share a stage, and len(stages) is the number of round trips the request waited for one after
// the other (its critical path), whatever other branch runs beside.
func (tl *timeline) stages() [][]string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.on = false
	spans := slices.Clone(tl.spans)
	slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
	depth := make([]int, len(spans))
	var out [][]string
	for i, s := range spans {
		waited := -1
		for j := range spans[:i] {
			if !spans[j].end.After(s.start) && (waited < 0 || spans[j].end.After(spans[waited].end)) {
				waited = j
			}
		}
		if waited >= 0 {
			depth[i] = depth[waited] + 1
		}
		for len(out) <= depth[i] {
			out = append(out, nil)
		}
		out[depth[i]] = append(out[depth[i]], s.name)
	}
	for _, st := range out {
		slices.Sort(st)
	}
	return out
}

// wrap records each request to next under prefix and its method.
func (tl *timeline) wrap(prefix string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tl.record(prefix+" "+r.Method, func() { next.ServeHTTP(w, r) })
		})
	}
}

// Do makes tl an azcore per-call policy on the store's table client, naming each operation as
// the fault suite does ("insert session", "PUT due:expire", "batch", …; "GET <row>" for a read).
func (tl *timeline) Do(req *policy.Request) (*http.Response, error) {
	var body []byte
	if b := req.Body(); b != nil {
		body, _ = io.ReadAll(b)
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
	}
	x := faultproxy.Exchange{Method: req.Raw().Method, Path: req.Raw().URL.Path, Body: body}
	name, write := writeOf(x)
	if !write {
		_, rk, _ := strings.Cut(x.Path, "RowKey='")
		rk, _, _ = strings.Cut(rk, "'")
		name = x.Method + " " + rowClass(rk)
	}
	var resp *http.Response
	var err error
	tl.record(name, func() { resp, err = req.Next() })
	return resp, err
}

// timed switches a's handler to a store whose table calls tl records (the stand-ins' calls it
// records already, see newTimedApp).
func (a *app) timed(t *testing.T, tl *timeline) {
	t.Helper()
	svc, err := aztables.NewServiceClientFromConnectionString(testenv.StartAzurite(t).ConnectionString(),
		&aztables.ClientOptions{ClientOptions: azcore.ClientOptions{PerCallPolicies: []policy.Policy{tl}}})
	if err != nil {
		t.Fatalf("tables client: %v", err)
	}
	st, err := store.New(t.Context(), svc, &store.Options{TablePrefix: a.prefix, Now: a.clock.Now})
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	a.serveWith(t, st, timedEvents{tl, a.srv.events})
}

// timedEvents records the sends to Service Bus (AMQP, not seen by the HTTP recorders) as
// "servicebus send".
type timedEvents struct {
	tl   *timeline
	next EventPublisher
}

func (e timedEvents) Publish(ctx context.Context, events [][]byte) error {
	var err error
	e.tl.record("servicebus send", func() { err = e.next.Publish(ctx, events) })
	return err
}

func newTimedApp(t *testing.T) (*app, *timeline) {
	tl := &timeline{}
	return newApp(t, &appOptions{Face: tl.wrap("face"), QuickLinks: tl.wrap("quicklink")}), tl
}

// roundTripCase is one endpoint call and the upstream stages it must make.
type roundTripCase struct {
	name   string
	setup  func(a *app) string // the session the call is about, made without recording
	call   func(a *app, id string) *reply
	want   int // the status
	stages [][]string
}

func roundTripCases() []roundTripCase {
	start := func(body string, key string) func(a *app, _ string) *reply {
		return func(a *app, _ string) *reply {
			h := map[string]string{}
			if key != "" {
				h["Idempotency-Key"] = key
			}
			return a.do("POST", "/api/sessions", []byte(body), h)
		}
	}
	started := func(a *app) string { return a.start(`{"returnUrl":"https://app.example.com/done"}`).SessionID }
	attempted := func(a *app) string {
		id := started(a)
		if err := a.stub.AddAttempt(id, facestub.Attempt{Decision: "realface"}); err != nil {
			a.t.Fatalf("AddAttempt: %v", err)
		}
		return id
	}
	// A call that finishes a session: read it and Face's result, file the announce entry, commit
	// (batch; not read back), then send the event and revoke the Face session at once, each
	// marked when done.
	finishing := [][]string{
		{"GET session"}, {"face GET"}, {"PUT due:announce"}, {"batch"},
		{"face DELETE", "servicebus send"}, {"PATCH event", "PATCH session"},
	}
	return []roundTripCase{
		{
			name: "StartSession", call: start(`{}`, ""), want: http.StatusCreated,
			stages: [][]string{{"face POST"}, {"insert session"}, {"PUT due:expire"}},
		},
		{
			name: "StartSession with Idempotency-Key", call: start(`{}`, "rt-key-1"), want: http.StatusCreated,
			stages: [][]string{
				{"insert idempotency"}, {"face POST"}, {"insert session"}, {"PUT due:expire"},
				{"PUT due:forget-key", "PUT idempotency"},
			},
		},
		{
			name: "StartSession replayed with its Idempotency-Key", want: http.StatusOK,
			setup: func(a *app) string {
				if r := start(`{}`, "rt-key-2")(a, ""); r.status != http.StatusCreated {
					a.t.Fatalf("first start = %d %s", r.status, r.body)
				}
				return ""
			},
			call:   start(`{}`, "rt-key-2"),
			stages: [][]string{{"insert idempotency"}, {"GET idempotency"}, {"GET session"}},
		},
		{
			name: "StartSession with issueLink", call: start(`{"issueLink":true}`, ""), want: http.StatusCreated,
			stages: [][]string{{"face POST"}, {"insert session", "quicklink POST"}, {"PUT due:expire"}},
		},
		{
			name: "StartSession with issueLink and Idempotency-Key", call: start(`{"issueLink":true}`, "rt-key-3"), want: http.StatusCreated,
			stages: [][]string{
				{"insert idempotency"}, {"face POST"}, {"insert session", "quicklink POST"}, {"PUT due:expire"},
				{"PUT due:forget-key", "PUT idempotency"},
			},
		},
		{
			name: "IssueLink", setup: started, want: http.StatusCreated,
			call:   func(a *app, id string) *reply { return a.link(id, nil) },
			stages: [][]string{{"GET session"}, {"quicklink POST"}, {"PUT session"}},
		},
		{
			name: "GetSession", setup: started, want: http.StatusOK,
			call:   func(a *app, id string) *reply { return a.do("GET", "/api/sessions/"+id, nil, nil) },
			stages: [][]string{{"GET session"}},
		},
		{
			name: "Callback after a finished attempt", setup: attempted, want: http.StatusSeeOther,
			call:   func(a *app, id string) *reply { return a.callback("GET", a.signedCallback(id), browserGET) },
			stages: finishing,
		},
		{
			name: "Callback before any attempt", setup: started, want: http.StatusSeeOther,
			call:   func(a *app, id string) *reply { return a.callback("GET", a.signedCallback(id), browserGET) },
			stages: [][]string{{"GET session"}, {"face GET"}, {"PUT due:abandon"}, {"PUT session"}},
		},
		{
			name: "CancelSession", setup: started, want: http.StatusOK,
			call:   func(a *app, id string) *reply { return a.do("DELETE", "/api/sessions/"+id, nil, nil) },
			stages: finishing,
		},
	}
}

// TestUpstreamRoundTripsPerEndpoint (issue 11, item 5) pins each endpoint's upstream round trips:
// every Face, quick link and table exchange is made to take upstreamLatency and recorded, and the
// exchanges are grouped into the stages the request waits for one after the other (exchanges of
// one stage are made at the same time). A round trip added to an endpoint, or two that stop
// being made at once, fails here. Service Bus sends are recorded too (timedEvents).
func TestUpstreamRoundTripsPerEndpoint(t *testing.T) {
	for _, c := range roundTripCases() {
		t.Run(c.name, func(t *testing.T) {
			a, tl := newTimedApp(t)
			id := ""
			if c.setup != nil {
				id = c.setup(a)
			}
			a.timed(t, tl)
			tl.start()
			began := time.Now()
			r := c.call(a, id)
			took := time.Since(began)
			got := tl.stages()
			if r.status != c.want {
				t.Fatalf("answer = %d %s, want %d", r.status, r.body, c.want)
			}
			t.Logf("%d sequential round trips %v; %v, %v over %d × %v", len(got), got, took.Round(time.Millisecond),
				(took - time.Duration(len(got))*upstreamLatency).Round(100*time.Microsecond), len(got), upstreamLatency)
			if diff := cmp.Diff(c.stages, got); diff != "" {
				t.Errorf("upstream stages (-want +got):\n%s", diff)
			}
		})
	}
}
