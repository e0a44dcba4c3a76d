package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/store"
	"github.com/liveness-quicklink/functions/internal/testing/facespec"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// tally counts what the handler asks of its upstreams: calls by upstream and operation
// ("face create", "table merge", …), body bytes sent and received by upstream, the table
// partitions touched by class (session, due index minute, Idempotency-Key record), and the table
// entities each class of partition served (a point operation one, a batch one per operation in
// it, a query one per entity it returned): what a partition's ~2,000 entities/s target counts. It
// is safe for concurrent use.
type tally struct {
	mu       sync.Mutex
	calls    map[string]int
	bytes    map[string]int64 // "<upstream> sent" and "<upstream> received": bodies only, no headers
	parts    map[string]string
	entities map[string]int // by partition class
}

func newTally() *tally {
	return &tally{calls: map[string]int{}, bytes: map[string]int64{}, parts: map[string]string{}, entities: map[string]int{}}
}

// partitionClass is the kind of partition pk is; rowKey tells a session's partition from a key
// record's (both are ids without a prefix).
func partitionClass(pk, rowKey string) string {
	switch {
	case strings.HasPrefix(pk, "due-"):
		return "due minute"
	case rowKey == "idempotency":
		return "idempotency"
	}
	return "session"
}

func (c *tally) add(upstream, op string, sent, received int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[upstream+" "+op]++
	c.bytes[upstream+" sent"] += sent
	c.bytes[upstream+" received"] += received
}

// touch records that partition pk (of class) served n entities; pk "" is a range of partitions
// not told apart (a query's).
func (c *tally) touch(pk, class string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pk != "" {
		c.parts[pk] = class
	}
	c.entities[class] += n
}

// counts is a tally's figures at one moment.
type counts struct {
	calls      map[string]int
	bytes      map[string]int64
	partitions map[string]string // class by PartitionKey
	entities   map[string]int    // by partition class
}

// take returns the figures so far and starts again from zero.
func (c *tally) take() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := counts{calls: c.calls, bytes: c.bytes, partitions: c.parts, entities: c.entities}
	c.calls, c.bytes, c.parts, c.entities = map[string]int{}, map[string]int64{}, map[string]string{}, map[string]int{}
	return out
}

// serve counts the requests of next that opOf names (upstream's operations; others, a browser's
// pages for instance, pass uncounted), with their body sizes.
func (c *tally) serve(upstream string, opOf func(*http.Request) (string, bool), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, ok := opOf(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		cw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		c.add(upstream, op, int64(len(body)), cw.n)
	})
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// faceOp names a Face liveness-session call by its method.
func faceOp(r *http.Request) (string, bool) {
	op := map[string]string{http.MethodPost: "create", http.MethodGet: "get", http.MethodDelete: "delete"}[r.Method]
	if op == "" || !strings.Contains(r.URL.Path, "-sessions") {
		return r.Method + " " + r.URL.Path, true // a call not in the model: the test's table of counts says so
	}
	return op, true
}

// quickLinkOp counts the app's one call to the quick link service; the browser's pages are not the app's.
func quickLinkOp(r *http.Request) (string, bool) {
	return "create", r.Method == http.MethodPost && r.URL.Path == "/api/quicklink"
}

// tablePolicy is an azcore per-call policy on the store's table client: it sees each table
// operation once, whatever its retries, and reads both bodies to count their bytes.
type tablePolicy struct{ c *tally }

var (
	pointKeys = regexp.MustCompile(`PartitionKey='([^']*)',RowKey='([^']*)'`)
	bodyKeys  = regexp.MustCompile(`"PartitionKey":\s*"([^"]*)",\s*"RowKey":\s*"([^"]*)"`)
	batchOps  = regexp.MustCompile(`(?m)^(POST|PUT|PATCH|MERGE|DELETE|GET) \S+ HTTP/1\.1`)
)

func (p tablePolicy) Do(req *policy.Request) (*http.Response, error) {
	var sent []byte
	if b := req.Body(); b != nil {
		sent, _ = io.ReadAll(b)
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
	}
	resp, err := req.Next()
	var got []byte
	if resp != nil && resp.Body != nil {
		got, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(got))
	}
	raw := req.Raw()
	op := tableOp(raw)
	p.c.add("table", op, int64(len(sent)), int64(len(got)))
	switch op {
	case "query":
		var page struct{ Value []json.RawMessage }
		_ = json.Unmarshal(got, &page)
		class := "session"
		if strings.Contains(raw.URL.Query().Get("$filter"), "due-") {
			class = "due minute"
		}
		p.c.touch("", class, len(page.Value))
	case "batch": // one partition: the session's
		n := len(batchOps.FindAll(sent, -1))
		p.c.mu.Lock()
		p.c.calls["table batch operations"] += n
		p.c.mu.Unlock()
		if m := pointKeys.FindSubmatch(sent); m != nil {
			p.c.touch(string(m[1]), partitionClass(string(m[1]), string(m[2])), n)
		} else if m := bodyKeys.FindSubmatch(sent); m != nil {
			p.c.touch(string(m[1]), partitionClass(string(m[1]), string(m[2])), n)
		}
	default:
		m := pointKeys.FindStringSubmatch(raw.URL.Path)
		if m == nil && raw.Method == http.MethodPost {
			m = bodyKeys.FindStringSubmatch(string(sent))
		}
		if m != nil {
			p.c.touch(m[1], partitionClass(m[1], m[2]), 1)
		}
	}
	return resp, err
}

// tableOp names a table operation as the scaling model counts it. An update and a merge carry
// If-Match (a conditional write); an upsert does not.
func tableOp(r *http.Request) string {
	path, point := r.URL.Path, strings.Contains(r.URL.Path, "(PartitionKey=")
	switch {
	case strings.HasSuffix(path, "$batch"):
		return "batch"
	case strings.Contains(path, "/Tables"):
		return "table " + r.Method
	case r.Method == http.MethodGet && point:
		return "get"
	case r.Method == http.MethodGet:
		return "query"
	case r.Method == http.MethodPost:
		return "insert"
	case r.Method == http.MethodPut && r.Header.Get("If-Match") != "":
		return "update"
	case r.Method == http.MethodPut:
		return "upsert"
	case r.Method == http.MethodPatch || r.Method == "MERGE":
		if r.Header.Get("If-Match") == "" {
			return "upsert (merge)"
		}
		return "merge"
	case r.Method == http.MethodDelete:
		return "delete"
	}
	return r.Method
}

// counted points a's handler at counting upstreams: the Face stand-in behind a counting server
// of its own, and the store on a table client with tablePolicy. The quick link stand-in is
// counted by the app's QuickLinks option (see TestPerSessionCosts). Counting starts once the
// store has made its table, so the figures are the calls' own.
func (a *app) counted(t *testing.T, c *tally) {
	t.Helper()
	faceSrv := httptest.NewServer(c.serve("face", faceOp, facespec.Load(t).Middleware(t, a.stub)))
	t.Cleanup(faceSrv.Close)
	fc, err := face.NewClient(faceSrv.URL, nil, &face.ClientOptions{
		ClientOptions: azcore.ClientOptions{InsecureAllowCredentialWithHTTP: true},
		APIKey:        a.faceKey,
	})
	if err != nil {
		t.Fatalf("face.NewClient: %v", err)
	}
	svc, err := aztables.NewServiceClientFromConnectionString(testenv.StartAzurite(t).ConnectionString(), &aztables.ClientOptions{
		ClientOptions: azcore.ClientOptions{PerCallPolicies: []policy.Policy{tablePolicy{c}}},
	})
	if err != nil {
		t.Fatalf("tables client: %v", err)
	}
	st, err := store.New(t.Context(), svc, &store.Options{TablePrefix: a.prefix, Now: a.clock.Now})
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	opts := a.srv.opts
	srv := New(Deps{Face: fc, QuickLinks: a.srv.quickLinks, Store: st, Events: a.srv.events}, a.srv.settings, &opts)
	hs := httptest.NewServer(a.api.Middleware(t, noSecrets(t, a.secrets, srv.Handler())))
	t.Cleanup(hs.Close)
	a.url = hs.URL
	c.take()
}

// captureThroughStandIn plays the user's browser: it opens link on the quick link stand-in, posts
// the capture form with outcome, and follows the stand-in's redirect to the app's Callback.
func (a *app) captureThroughStandIn(link, outcome string) *reply {
	a.t.Helper()
	page, err := http.Get(link)
	if err != nil {
		a.t.Fatalf("opening the link: %v", err)
	}
	page.Body.Close()
	u, err := url.Parse(link)
	if err != nil {
		a.t.Fatalf("link %q: %v", link, err)
	}
	capture := a.quickURL + "/capture/" + u.Query().Get("s")
	resp, err := a.client.PostForm(capture, url.Values{"outcome": {outcome}})
	if err != nil {
		a.t.Fatalf("capture: %v", err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil {
		a.t.Fatalf("capture = %d to %q, want 303 to the app's callback", resp.StatusCode, resp.Header.Get("Location"))
	}
	return a.callback(http.MethodGet, back.RequestURI(), browserGET)
}

// lifecycle is one kind of session's life: what clients and users do, then Reconcile's runs
// until every row of the session is purged.
type lifecycle struct {
	name string
	// requests makes the session's client and user calls; the session is started already.
	requests func(a *app, v startedView)
	// runs advances the clock to each Reconcile run the session needs.
	runs []func(a *app, v startedView)
	// want are the calls by upstream and operation, for the requests and for Reconcile's runs.
	wantRequests, wantRuns map[string]int
	// wantPartitions are the partitions touched over the whole life, by class, and
	// wantEntities the entities they served (requests and runs together).
	wantPartitions, wantEntities map[string]int
	// header goes with StartSession.
	header map[string]string
}

// TestPerSessionCosts measures what one session costs its upstreams over its whole life, for
// the common paths: a link issued at the start, then a capture and the Callback; a session that
// expires; one abandoned (the user came back without an attempt); one cancelled. Each ends
// with its event delivered and, after RETENTION_DAYS, every row purged. The counts are the
// inputs of docs/scaling.md: a change in them fails here, so the model is updated with it.
// Run with -v for the table of figures, bytes included.
func TestPerSessionCosts(t *testing.T) {
	sb := testenv.StartServiceBus(t, services.ServiceBusOptions{})
	announce := func(a *app, _ startedView) { a.clock.Advance(announceWait) }
	expire := func(a *app, v startedView) { a.passDue(v.sessionView) }
	purge := func(a *app, _ startedView) { a.clock.Advance(a.srv.settings.Retention + time.Second) }
	// A session finalized by a request (the Callback after a capture, or CancelSession) costs
	// the same: Face read and revoked, the final state and its event committed in one batch, the
	// event sent inline and marked sent; Reconcile then closes its announce entry, drops its
	// expiry entry and, after RETENTION_DAYS, purges it.
	inlineRequests := map[string]int{
		"face create": 1, "face get": 1, "face delete": 1, "quick link create": 1,
		"table insert": 1, "table upsert": 2, "table get": 1, "table merge": 2,
		"table batch": 1, "table batch operations": 2,
	}
	inlineRuns := map[string]int{
		"table query": 3, "table get": 5, "table upsert": 1, "table delete": 3,
		"table batch": 1, "table batch operations": 2,
	}
	inlineParts := map[string]int{"session": 1, "due minute": 3}
	inlineEntities := map[string]int{"session": 12, "due minute": 9}
	captured := func(outcome string) func(a *app, v startedView) {
		return func(a *app, v startedView) {
			if r := a.captureThroughStandIn(v.Link.URL, outcome); r.status != http.StatusSeeOther {
				a.t.Fatalf("callback = %d %s, want 303", r.status, r.body)
			}
		}
	}
	cases := []lifecycle{
		{
			name: "link, capture, callback", requests: captured("realface"),
			runs:         []func(*app, startedView){announce, expire, purge},
			wantRequests: inlineRequests, wantRuns: inlineRuns, wantPartitions: inlineParts, wantEntities: inlineEntities,
		},
		{
			name:   "link, capture, callback, with Idempotency-Key",
			header: map[string]string{"Idempotency-Key": "scale-" + randomHex(t, 8)},
			// The key's record: reserved (insert), completed (update), its forget-key entry filed
			// (upsert); Reconcile deletes both a day later.
			requests: captured("realface"),
			runs:     []func(*app, startedView){announce, expire, purge},
			wantRequests: map[string]int{
				"face create": 1, "face get": 1, "face delete": 1, "quick link create": 1,
				"table insert": 2, "table upsert": 3, "table update": 1, "table get": 1, "table merge": 2,
				"table batch": 1, "table batch operations": 2,
			},
			wantRuns: map[string]int{
				"table query": 3, "table get": 6, "table upsert": 1, "table delete": 5,
				"table batch": 1, "table batch operations": 2,
			},
			wantPartitions: map[string]int{"session": 1, "idempotency": 1, "due minute": 4},
			wantEntities:   map[string]int{"session": 12, "idempotency": 4, "due minute": 12},
		},
		{
			name:     "expired",
			requests: func(*app, startedView) {},
			runs:     []func(*app, startedView){expire, announce, purge},
			wantRequests: map[string]int{
				"face create": 1, "quick link create": 1, "table insert": 1, "table upsert": 1,
			},
			wantRuns: map[string]int{
				"face get": 1, "face delete": 1,
				"table query": 3, "table get": 5, "table upsert": 2, "table delete": 3, "table merge": 2,
				"table batch": 2, "table batch operations": 4,
			},
			wantPartitions: map[string]int{"session": 1, "due minute": 3},
			wantEntities:   map[string]int{"session": 11, "due minute": 9},
		},
		{
			name: "abandoned", requests: captured("abandon"),
			runs: []func(*app, startedView){
				func(a *app, _ startedView) { a.clock.Advance(a.srv.settings.AbandonAfter + time.Second) },
				announce, expire, purge,
			},
			wantRequests: map[string]int{
				"face create": 1, "face get": 1, "quick link create": 1,
				"table insert": 1, "table upsert": 2, "table update": 1, "table get": 1,
			},
			wantRuns: map[string]int{
				"face get": 1, "face delete": 1,
				"table query": 4, "table get": 6, "table upsert": 2, "table delete": 4, "table merge": 2,
				"table batch": 2, "table batch operations": 4,
			},
			wantPartitions: map[string]int{"session": 1, "due minute": 4},
			wantEntities:   map[string]int{"session": 14, "due minute": 12},
		},
		{
			name:         "cancelled",
			requests:     func(a *app, v startedView) { a.cancel(v.sessionView) },
			runs:         []func(*app, startedView){announce, expire, purge},
			wantRequests: inlineRequests, wantRuns: inlineRuns, wantPartitions: inlineParts, wantEntities: inlineEntities,
		},
	}
	var report []string
	for _, lc := range cases {
		t.Run(lc.name, func(t *testing.T) {
			c := newTally()
			a := newApp(t, &appOptions{ServiceBus: sb, QuickLinks: func(stub http.Handler) http.Handler {
				return c.serve("quick link", quickLinkOp, stub)
			}})
			a.counted(t, c)
			before, _, _ := counters(t, sb)

			r := a.do("POST", "/api/sessions", []byte(`{"externalReference":"scale","returnUrl":"https://app.example.com/done","issueLink":true}`), lc.header)
			if r.status != http.StatusCreated {
				t.Fatalf("StartSession = %d %s, want 201", r.status, r.body)
			}
			v := r.startedOf(t)
			lc.requests(a, v)
			requests := c.take()
			runs := counts{calls: map[string]int{}, bytes: map[string]int64{}, partitions: map[string]string{}, entities: map[string]int{}}
			var perRun []string
			for i, run := range lc.runs {
				run(a, v)
				a.reconcile()
				one := c.take()
				perRun = append(perRun, fmt.Sprintf("run %d: %d table operations, %d Face calls", i+1, upstreamCalls(one, "table "), upstreamCalls(one, "face ")))
				runs.add(one)
			}

			msgs := testenv.Receive(t, sb, topic, "all", 1)
			after, _, _ := counters(t, sb)
			if got := after.Accepted - before.Accepted; got != 1 || len(msgs) != 1 {
				t.Fatalf("events accepted by the topic %d, received %d; want 1 each", got, len(msgs))
			}
			if left := a.rawEntities(); len(left) != 0 {
				t.Errorf("rows left after the purge: %q", left)
			}
			if diff := cmp.Diff(lc.wantRequests, requests.calls); diff != "" {
				t.Errorf("calls of the requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(lc.wantRuns, runs.calls); diff != "" {
				t.Errorf("calls of Reconcile's %d runs (-want +got):\n%s", len(lc.runs), diff)
			}
			if diff := cmp.Diff(lc.wantPartitions, byClass(requests.partitions, runs.partitions)); diff != "" {
				t.Errorf("partitions touched (-want +got):\n%s", diff)
			}
			entities := maps.Clone(requests.entities)
			for class, n := range runs.entities {
				entities[class] += n
			}
			if diff := cmp.Diff(lc.wantEntities, entities); diff != "" {
				t.Errorf("entities served by partition class (-want +got):\n%s", diff)
			}
			report = append(report, costLines(lc.name, len(lc.runs), requests, runs, len(msgs[0].Body))...)
			report = append(report, "| | Reconcile "+strings.Join(perRun, "; ")+" | | |")
		})
	}
	t.Logf("per-session costs (requests | Reconcile runs); bytes are bodies, Azurite's answers:\n%s", strings.Join(report, "\n"))
}

// add adds o's figures to c's.
func (c counts) add(o counts) {
	for k, n := range o.calls {
		c.calls[k] += n
	}
	for k, n := range o.bytes {
		c.bytes[k] += n
	}
	maps.Copy(c.partitions, o.partitions)
	for k, n := range o.entities {
		c.entities[k] += n
	}
}

// upstreamCalls is how many calls c counted whose names begin with prefix ("table ", "face "); a
// batch's operations are not calls of their own.
func upstreamCalls(c counts, prefix string) int {
	n := 0
	for k, v := range c.calls {
		if strings.HasPrefix(k, prefix) && k != "table batch operations" {
			n += v
		}
	}
	return n
}

// costLines is one scenario's figures as lines of a Markdown table.
func costLines(name string, runs int, req, rec counts, eventBytes int) []string {
	keys := slices.Sorted(maps.Keys(req.calls))
	for k := range rec.calls {
		if _, ok := req.calls[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := []string{fmt.Sprintf("| %s | calls | requests | %d Reconcile runs |", name, runs)}
	for _, k := range keys {
		out = append(out, fmt.Sprintf("| | %s | %d | %d |", k, req.calls[k], rec.calls[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(req.bytes)) {
		out = append(out, fmt.Sprintf("| | bytes %s | %d | %d |", k, req.bytes[k], rec.bytes[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(rec.bytes)) {
		if _, ok := req.bytes[k]; !ok {
			out = append(out, fmt.Sprintf("| | bytes %s | 0 | %d |", k, rec.bytes[k]))
		}
	}
	out = append(out, fmt.Sprintf("| | partitions | %v | %v |", byClass(req.partitions), byClass(rec.partitions)))
	out = append(out, fmt.Sprintf("| | entities by partition class | %v | %v |", req.entities, rec.entities))
	out = append(out, fmt.Sprintf("| | event body bytes | %d | |", eventBytes))
	return out
}

// byClass counts partitions (class by PartitionKey) by class.
func byClass(parts ...map[string]string) map[string]int {
	out := map[string]int{}
	for _, class := range maps.Collect(func(yield func(string, string) bool) {
		for _, p := range parts {
			for k, v := range p {
				if !yield(k, v) {
					return
				}
			}
		}
	}) {
		out[class]++
	}
	return out
}
