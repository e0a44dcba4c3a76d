package soak

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/liveness-quicklink/functions/handlers"
	"github.com/liveness-quicklink/functions/internal/callbackurl"
	"github.com/liveness-quicklink/functions/internal/events"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/quicklink"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/standin/quicklinkstub"
	"github.com/liveness-quicklink/functions/internal/store"
	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The Service Bus entities infra/ deploys and the stand-in mirrors.
const (
	topic        = "liveness-events"
	subscription = "all"
)

// abandonAfter is ABANDON_AFTER_SECONDS for the soak: short, so that Reconcile's runs during the
// soak record abandons as they come due.
const abandonAfter = time.Second

// shiftedClock is the app's clock: real time plus an offset the test moves forward, so that
// announce entries, abandons and retries come due while the soak runs, and a jump at the end
// passes every session's TTL without waiting for it.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *shiftedClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// rig is the app in-process with its real clients, wired as cmd/handler wires them, and the
// stand-ins it talks to.
type rig struct {
	t     *testing.T
	clock *shiftedClock
	root  string // the repository root, where the Service Bus stand-in starts from

	face     *facestub.Server
	standins string // base URL of Face and quick link (quicklinkstub.Beside), FACE_ENDPOINT and QUICKLINK_ENDPOINT
	app      string // base URL of the handler (PUBLIC_BASE_URL)
	srv      *handlers.Server

	proxy  *faultproxy.Proxy // in front of Azurite, between the store and the table service
	table  *aztables.Client  // the sessions table, read around the proxy
	direct *store.Store      // a store on the same table, around the proxy, for reading final states

	sbMu sync.Mutex
	sb   *services.ServiceBus // replaced by a restart on the same ports
	// sbDown is set while the stand-in is stopped for a restart.
	sbDown atomic.Bool

	// pause is the barrier of a Service Bus restart: every request to the app and every Reconcile
	// run holds it shared; the restart holds it alone, so that nothing is sent while the test
	// takes in what the stand-in holds before it forgets it.
	pause sync.RWMutex
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, clock: &shiftedClock{}, root: testenv.RepoRoot(t)}
	faceKey := "face-key-" + randomHex(t, 16)

	r.face = facestub.New(&facestub.Options{APIKey: faceKey, Now: r.clock.Now})
	quick := quicklinkstub.New(r.face, &quicklinkstub.Options{Now: r.clock.Now})
	standins := httptest.NewServer(quicklinkstub.Beside(r.face, quick))
	t.Cleanup(standins.Close)
	t.Cleanup(r.face.Close) // runs first: releases held requests
	r.standins = standins.URL

	az := testenv.StartAzurite(t)
	proxy, proxied := faultproxy.InFront(t, az.ConnectionString())
	r.proxy = proxy
	prefix := "soak" + randomHex(t, 6)
	direct, err := store.NewServiceClientFromConnectionString(az.ConnectionString())
	if err != nil {
		t.Fatalf("tables client: %v", err)
	}
	r.table = direct.NewClient(prefix + "sessions")
	t.Cleanup(func() { _, _ = r.table.Delete(context.Background(), nil) })

	r.sb = testenv.StartServiceBus(t, services.ServiceBusOptions{})
	t.Cleanup(func() {
		r.sbMu.Lock()
		defer r.sbMu.Unlock()
		_ = r.sb.Stop()
	})

	// The handler's URL is its PUBLIC_BASE_URL (callback URLs are built on it), so the server
	// listens before the handler exists.
	var handler atomic.Pointer[http.Handler]
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		(*handler.Load()).ServeHTTP(w, req)
	}))
	t.Cleanup(app.Close)
	r.app = app.URL

	// What cmd/handler's build does, with the test's endpoints: the same constructors and options
	// (cmd/handler is a main package, so its wiring cannot be imported).
	log := slog.New(slog.DiscardHandler)
	faceClient, err := face.NewClient(r.standins, nil, &face.ClientOptions{
		APIKey: faceKey, ClientOptions: azcore.ClientOptions{InsecureAllowCredentialWithHTTP: true},
	})
	if err != nil {
		t.Fatalf("face.NewClient: %v", err)
	}
	links, err := quicklink.NewClient(r.standins, nil)
	if err != nil {
		t.Fatalf("quicklink.NewClient: %v", err)
	}
	signer, err := callbackurl.NewSigner([][]byte{[]byte(randomHex(t, 32))})
	if err != nil {
		t.Fatalf("callbackurl.NewSigner: %v", err)
	}
	tables, err := store.NewServiceClientFromConnectionString(proxied)
	if err != nil {
		t.Fatalf("tables client: %v", err)
	}
	st, err := store.New(t.Context(), tables, &store.Options{TablePrefix: prefix, Now: r.clock.Now, Logger: log})
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	r.direct, err = store.New(t.Context(), direct, &store.Options{TablePrefix: prefix, Now: r.clock.Now})
	if err != nil {
		t.Fatalf("store.New (direct): %v", err)
	}
	pub, err := events.NewPublisher(topic, events.ConnectionString(r.sb.ConnectionString()), &events.PublisherOptions{
		Client: &azservicebus.ClientOptions{
			RetryOptions: azservicebus.RetryOptions{MaxRetries: 2, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: time.Second},
		},
	})
	if err != nil {
		t.Fatalf("events.NewPublisher: %v", err)
	}
	t.Cleanup(func() { _ = pub.Close(context.Background()) })
	if err := pub.Connect(t.Context()); err != nil {
		t.Fatalf("connecting the publisher: %v", err)
	}
	r.srv = handlers.New(handlers.Deps{Face: faceClient, QuickLinks: links, Store: st, Events: pub}, handlers.Settings{
		PublicBaseURL:      r.app,
		QuickLinkEndpoint:  r.standins,
		Callbacks:          signer,
		AbandonAfter:       abandonAfter,
		DefaultMode:        liveness.ModePassiveActive,
		DeleteFaceSessions: true,
	}, &handlers.Options{Logger: log, Now: r.clock.Now, Ready: st.Ping})
	h := r.srv.Handler()
	handler.Store(&h)
	return r
}

// serviceBus is the stand-in running now.
func (r *rig) serviceBus() *services.ServiceBus {
	r.sbMu.Lock()
	defer r.sbMu.Unlock()
	return r.sb
}

// reconcile runs Reconcile once, as the timer would.
func (r *rig) reconcile(ctx context.Context) (handlers.ReconcileResult, error) {
	r.pause.RLock()
	defer r.pause.RUnlock()
	return r.srv.Reconcile(ctx)
}
