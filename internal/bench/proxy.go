package bench

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy stands between the handler and one upstream (Azurite's table service, the Face and quick
// link stand-in): it counts the requests it forwards and holds each for Delay first, so that
// every upstream round trip costs at least Delay (phase 5's fixed latency L).
type Proxy struct {
	URL string // http://127.0.0.1:<port>, no trailing slash

	delay    atomic.Int64 // nanoseconds
	requests atomic.Int64
	failed   atomic.Int64
	srv      *http.Server
	ln       net.Listener

	mu     sync.Mutex
	record func(method, path string)
}

// StartProxy starts a proxy to target (scheme://host:port) on a free 127.0.0.1 port.
func StartProxy(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute}
	p := &Proxy{URL: "http://" + ln.Addr().String(), ln: ln}
	// The upstream's failures (a reset connection) reach the handler as 502, as the default does,
	// counted rather than logged on the harness's output.
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
		p.failed.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		p.mu.Lock()
		record := p.record
		p.mu.Unlock()
		if record != nil {
			record(r.Method, r.URL.Path)
		}
		if d := time.Duration(p.delay.Load()); d > 0 {
			time.Sleep(d)
		}
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// SetDelay makes every later request wait d before it is forwarded.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Requests is the number of requests received so far.
func (p *Proxy) Requests() int64 { return p.requests.Load() }

// Failed is the number of requests the upstream failed to answer (answered 502).
func (p *Proxy) Failed() int64 { return p.failed.Load() }

// Record calls f with each later request's method and path (nil stops).
func (p *Proxy) Record(f func(method, path string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record = f
}

// Close stops the proxy.
func (p *Proxy) Close() { _ = p.srv.Close() }
