// Package facestub is a local stand-in for the Azure AI Face v1.2 liveness-session API: the routes,
// status codes, JSON shapes, error codes and auth rules of Microsoft's spec, with sessions kept in
// memory. Test and dev controls — simulated captures, faults, request counts — are Go methods and, for
// other processes, HTTP endpoints under /_stub/.
package facestub

import (
	"container/list"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/accesslog"
)

// Options configures a Server. The zero value accepts any credential.
type Options struct {
	// APIKey, when set, is the only Ocp-Apim-Subscription-Key accepted; when empty, any non-empty key is.
	APIKey string
	// BearerToken, when set, is the only Entra ID bearer token accepted; when empty, any non-empty bearer
	// token is, except session auth tokens, which authorize client calls only.
	BearerToken string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of session ids, tokens and digests; nil means crypto/rand.
	Rand io.Reader
	// Logger receives one line per request; nil means no logs. Lines never hold tokens or keys.
	Logger *slog.Logger
}

// Server is the Face stand-in. It is safe for concurrent use.
type Server struct {
	opts      Options
	mux       *http.ServeMux
	handler   http.Handler // mux behind the access log
	image     []byte       // what every session image is
	closed    chan struct{}
	closeOnce sync.Once

	randMu sync.Mutex // guards opts.Rand, which need not be safe for concurrent use

	mu       sync.Mutex
	sessions map[string]*session
	tokens   map[string]string // auth token → session id
	issued   []string          // every auth token issued, oldest first
	images   map[string]string // session image id → session id
	byAge    *list.List        // the sessions, oldest first (*session): the next to expire is first
	faults   Faults
	stats    Stats
}

// New returns a Server.
func New(opts *Options) *Server {
	s := &Server{
		closed:   make(chan struct{}),
		sessions: make(map[string]*session),
		tokens:   make(map[string]string),
		images:   make(map[string]string),
		byAge:    list.New(),
		image:    sessionImage(),
	}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.opts.Rand == nil {
		s.opts.Rand = rand.Reader
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.New(slog.DiscardHandler)
	}
	s.routes()
	s.handler = accesslog.Handler(s.opts.Logger, s.mux)
	return s
}

const base = "/face/v1.2"

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	for _, k := range []struct{ kind, path string }{
		{KindLiveness, base + "/detectLiveness-sessions"},
		{KindLivenessWithVerify, base + "/detectLivenessWithVerify-sessions"},
	} {
		s.mux.Handle("POST "+k.path, s.face(opCreate, s.create(k.kind)))
		s.mux.Handle("GET "+k.path+"/{sessionId}", s.face(opGet, s.get(k.kind)))
		s.mux.Handle("DELETE "+k.path+"/{sessionId}", s.face(opDelete, s.delete(k.kind)))
	}
	s.mux.Handle("GET "+base+"/sessionImages/{sessionImageId}", s.face(opSessionImage, http.HandlerFunc(s.getImage)))
	s.mux.Handle("/face/", s.face(opOther, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, errNotFound)
	})))
	s.controlRoutes()
}

// ServeHTTP serves the Face routes under /face/v1.2 and the controls under /_stub/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close releases requests held by Latency or Hang faults, without a response. It does not stop serving.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
}
