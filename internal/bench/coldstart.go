package bench

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// Server is one program the cold-start phase starts: the handler or a peer.
type Server struct {
	Name string
	Path string
	Args []string
	// Env is the environment for a server listening on port.
	Env func(port int) []string
	Dir string
}

// ColdStart is one server's cold-start figures over its runs.
type ColdStart struct {
	Name string `json:"name"`
	// FirstAnswer is exec → the first answered GET / (any status), polled every millisecond.
	FirstAnswer Summary `json:"firstAnswer"`
	// Healthy is exec → the first 200 from GET /api/health (the handler's dependencies built).
	Healthy Summary `json:"healthy"`
	// Idle is the resident memory once healthy: the median run's VmRSS and VmHWM.
	Idle Memory `json:"idleMemory"`
}

// MeasureColdStart starts srv runs times, one after the other, and times each start.
func MeasureColdStart(ctx context.Context, srv Server, runs int, tick func()) (ColdStart, error) {
	out := ColdStart{Name: srv.Name}
	var first, healthy []time.Duration
	var mems []Memory
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range runs {
		port, err := services.FreePort()
		if err != nil {
			return out, err
		}
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		start := time.Now()
		p, err := services.Start(services.Command{Name: srv.Name, Path: srv.Path, Args: srv.Args, Env: srv.Env(port), Dir: srv.Dir})
		if err != nil {
			return out, err
		}
		f, errF := pollUntil(ctx, client, p, base+"/", start, func(int) bool { return true })
		h, errH := pollUntil(ctx, client, p, base+"/api/health", start, func(code int) bool { return code == http.StatusOK })
		m, errM := ReadMemory(p.Pid())
		_ = p.Stop()
		for _, err := range []error{errF, errH, errM} {
			if err != nil {
				return out, fmt.Errorf("%s: %w; its output:\n%s", srv.Name, err, p.Output())
			}
		}
		first, healthy, mems = append(first, f), append(healthy, h), append(mems, m)
		if tick != nil {
			tick()
		}
	}
	out.FirstAnswer, out.Healthy = Summarize(first), Summarize(healthy)
	out.Idle = medianMemory(mems)
	return out, nil
}

// pollUntil GETs url every millisecond until an answer satisfies ok and returns the time since
// start; an error when the process exits or 60 s pass.
func pollUntil(ctx context.Context, client *http.Client, p *services.Process, url string, start time.Time, ok func(int) bool) (time.Duration, error) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return time.Since(start), nil
			}
		}
		if time.Since(start) > time.Minute {
			return 0, fmt.Errorf("%s not answered within a minute", url)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-p.Done():
			return 0, fmt.Errorf("exited before %s answered: %v", url, p.Err())
		case <-tick.C:
		}
	}
}

// medianMemory is the sample with the median RSS.
func medianMemory(m []Memory) Memory {
	if len(m) == 0 {
		return Memory{}
	}
	s := slices.Clone(m)
	slices.SortFunc(s, func(a, b Memory) int { return cmp.Compare(a.RSS, b.RSS) })
	return s[(len(s)-1)/2]
}

// Merge joins one server's single-run results into one: the distributions over every run.
func Merge(name string, runs []ColdStart) ColdStart {
	var first, healthy []time.Duration
	var mems []Memory
	for _, r := range runs {
		first = append(first, time.Duration(r.FirstAnswer.Min*1e6))
		healthy = append(healthy, time.Duration(r.Healthy.Min*1e6))
		mems = append(mems, r.Idle)
	}
	return ColdStart{Name: name, FirstAnswer: Summarize(first), Healthy: Summarize(healthy), Idle: medianMemory(mems)}
}
