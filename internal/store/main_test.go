package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/uuid"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// recorder is an HTTP transport that remembers the requests it sends.
type recorder struct {
	mu   sync.Mutex
	reqs []string // "METHOD URL"
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.String())
	r.mu.Unlock()
	return http.DefaultClient.Do(req)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	reqs := r.reqs
	r.reqs = nil
	return reqs
}

type fixture struct {
	store *Store
	http  *recorder
	raw   *aztables.Client // the store's table, for looking behind its back
	svc   *aztables.ServiceClient
	table string
}

// newFixture returns a Store on a table of its own in the package's Azurite.
func newFixture(t *testing.T, opts *Options) *fixture {
	t.Helper()
	az := testenv.StartAzurite(t)
	rec := &recorder{}
	svc, err := aztables.NewServiceClientFromConnectionString(az.ConnectionString(),
		&aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: rec}})
	if err != nil {
		t.Fatalf("service client: %v", err)
	}
	if opts == nil {
		opts = &Options{}
	}
	opts.TablePrefix = "t" + randomHex(t, 6)
	s, err := New(t.Context(), svc, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	rec.take()
	table := opts.TablePrefix + tableBaseName
	return &fixture{store: s, http: rec, raw: svc.NewClient(table), svc: svc, table: table}
}

// rawRow reads a row as the service stores it.
func (f *fixture) rawRow(t *testing.T, pk, rk string) map[string]any {
	t.Helper()
	resp, err := f.raw.GetEntity(t.Context(), pk, rk, nil)
	if err != nil {
		t.Fatalf("reading row (%s, %s): %v", pk, rk, err)
	}
	var row map[string]any
	if err := json.Unmarshal(resp.Value, &row); err != nil {
		t.Fatalf("row (%s, %s) is not JSON: %v", pk, rk, err)
	}
	return row
}

func (f *fixture) createSession(t *testing.T, sess *liveness.Session) *liveness.Session {
	t.Helper()
	if err := f.store.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess
}

func newSession() *liveness.Session {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &liveness.Session{
		ID:         uuid.NewString(),
		Kind:       liveness.KindLiveness,
		Mode:       liveness.ModePassive,
		Status:     liveness.StatusCreated,
		TTLSeconds: 600,
		CreatedAt:  created,
		ExpiresAt:  created.Add(600 * time.Second),
		AuthToken:  "token-" + uuid.NewString(),
	}
}

func finalCopy(sess *liveness.Session, decision string) *liveness.Session {
	c := *sess
	c.Status = liveness.StatusCompleted
	c.CompletedAt = sess.CreatedAt.Add(time.Minute)
	c.AuthToken = ""
	c.Outcome = &liveness.Outcome{Decision: decision, AttemptCount: 1, ModelVersion: "2024-11-15"}
	return &c
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }
