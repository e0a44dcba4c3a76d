package facestub_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// Run with -race: many clients create, read, complete and delete sessions at once.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, nil)
	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				s := e.create(t, validCreate)
				if err := e.stub.AddAttempt(s.SessionID, facestub.Attempt{}); err != nil {
					t.Errorf("AddAttempt: %v", err)
				}
				if _, _, ok := e.stub.SessionByToken(s.AuthToken); !ok {
					t.Errorf("SessionByToken: token of a new session is not live")
				}
				got, _ := e.getSession(t, livenessPath, s.SessionID)
				if got.Status != "Succeeded" {
					t.Errorf("status = %q, want Succeeded", got.Status)
				}
				e.stub.SetFaults(facestub.Faults{})
				if r := e.do(t, call{method: http.MethodDelete, path: livenessPath + "/" + s.SessionID}); r.status != http.StatusNoContent {
					t.Errorf("delete: status %d, want 204", r.status)
				}
			}
		})
	}
	wg.Wait()
	want := facestub.Stats{Create: workers * rounds, Get: workers * rounds, Delete: workers * rounds, Total: 3 * workers * rounds}
	if got := e.stub.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t, nil)
	if got := e.stub.Stats(); got != (facestub.Stats{}) {
		t.Fatalf("Stats() of a new server = %+v, want zero: no Face call was made", got)
	}
	s := e.create(t, validCreate)
	e.getSession(t, livenessPath, s.SessionID)
	e.getSession(t, verifyPath, s.SessionID)
	e.do(t, call{method: http.MethodGet, path: "/face/v1.2/sessionImages/x"})
	e.do(t, call{method: http.MethodDelete, path: livenessPath + "/" + s.SessionID})
	e.do(t, call{method: http.MethodGet, path: "/_stub/tokens/x", header: http.Header{}})

	want := facestub.Stats{Create: 1, Get: 2, Delete: 1, SessionImage: 1, Total: 5}
	if got := e.stub.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	r := e.do(t, call{method: http.MethodGet, path: "/_stub/stats", header: http.Header{}})
	var got facestub.Stats
	r.json(t, &got)
	if got != want {
		t.Errorf("GET /_stub/stats = %+v, want %+v", got, want)
	}
}

// Request logs name routes, never the paths or headers that carry tokens and keys.
func TestLogsHoldNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	e := newEnv(t, &facestub.Options{APIKey: testKey, Logger: log})
	s := e.create(t, validCreate)
	e.do(t, call{method: http.MethodGet, path: "/_stub/tokens/" + s.AuthToken, header: http.Header{}})
	e.getSession(t, livenessPath, s.SessionID)
	e.strict.Close() // flush the handlers' log lines

	mu.Lock()
	logs := buf.String()
	mu.Unlock()
	if !strings.Contains(logs, `"route":"GET /_stub/tokens/{token}"`) {
		t.Errorf("logs %s: want a line for the token lookup", logs)
	}
	for name, secret := range map[string]string{"auth token": s.AuthToken, "API key": testKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain the %s", name)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
