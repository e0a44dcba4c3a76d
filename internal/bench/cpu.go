package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// CPU is phase 4: the handler's CPU per full session beside the floor's, in the same run.
type CPU struct {
	Concurrency int     `json:"concurrency"`
	HandlerMs   float64 `json:"handlerMsPerSession"`
	FloorMs     float64 `json:"floorMsPerSession"`
	Ratio       float64 `json:"ratio"`
	// Calls are the upstream calls the handler made per session, by endpoint (from the proxies'
	// counts at concurrency 1), plus one for the event the callback sends to Service Bus (AMQP,
	// not through a proxy); the floor makes as many plain HTTP calls.
	Calls              map[string]float64 `json:"upstreamCallsPerRequest"`
	UpstreamPerSession float64            `json:"upstreamCallsPerSession"`
	FloorSessions      int                `json:"floorSessions"`
	FloorPerSecond     float64            `json:"floorSessionsPerSecond"` // paced to the handler's
	FloorMemory        Memory             `json:"floorMemory"`
}

// MeasureFloor runs the floor server (bin/floor) making calls upstream calls per request,
// plays sessions (one StartSession POST and one callback GET each) at concurrency for d, paced
// to rate sessions a second (the handler's at that concurrency: a Go server costs more CPU per
// request when it idles between requests than when it is kept busy, so the two run alike), and
// returns its CPU per session, the sessions played and its memory after. The upstream answers
// after upstreamDelay, as a local service would.
func MeasureFloor(ctx context.Context, bin string, calls map[string]int, concurrency int, rate float64, d time.Duration) (float64, int, Memory, error) {
	const upstreamDelay = time.Millisecond
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, Memory{}, err
	}
	answer := []byte(`{"odata.etag":"W/\"datetime'2026-01-01T00%3A00%3A00.0000000Z'\"","PartitionKey":"p","RowKey":"r"}`)
	upstream := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(upstreamDelay)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})}
	go func() { _ = upstream.Serve(up) }()
	defer upstream.Close()

	port, err := services.FreePort()
	if err != nil {
		return 0, 0, Memory{}, err
	}
	spec := fmt.Sprintf("POST /api/sessions=%d,GET /api/callback/=%d", calls["StartSession"], calls["Callback"])
	p, err := services.Start(services.Command{Name: "floor", Path: filepath.Join(bin, "floor"), Env: []string{
		"FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port), "FLOOR_CALLS=" + spec, "FLOOR_UPSTREAM=http://" + up.Addr().String() + "/"}})
	if err != nil {
		return 0, 0, Memory{}, err
	}
	defer p.Stop()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := p.WaitHealthy(ctx, base+"/", time.Minute); err != nil {
		return 0, 0, Memory{}, err
	}
	before, err := ReadCPU(p.Pid())
	if err != nil {
		return 0, 0, Memory{}, err
	}
	client := NewClient(concurrency)
	u := &User{Client: client}
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	sessions := 0
	tokens := make(chan struct{})
	go func() {
		defer close(tokens)
		tick := time.NewTicker(time.Duration(float64(time.Second) / max(rate, 0.1)))
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
				select {
				case tokens <- struct{}{}:
				case <-runCtx.Done():
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for range tokens {
				s1, _, e1 := u.do(ctx, http.MethodPost, base+"/api/sessions", "application/json", `{"issueLink":true,"ttlSeconds":300}`)
				s2, _, e2 := u.do(ctx, http.MethodGet, base+"/api/callback/x?sig=y", "", "")
				if e1 == nil && e2 == nil && s1 == http.StatusOK && s2 == http.StatusOK {
					mu.Lock()
					sessions++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	after, err := ReadCPU(p.Pid())
	if err != nil {
		return 0, 0, Memory{}, err
	}
	mem, _ := ReadMemory(p.Pid())
	if sessions == 0 {
		return 0, 0, mem, fmt.Errorf("the floor served no session")
	}
	return perSession(after-before, sessions), sessions, mem, nil
}

func perSession(cpu time.Duration, sessions int) float64 {
	return float64(cpu) / 1e6 / float64(sessions)
}
