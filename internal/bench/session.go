package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// User plays full sessions against a handler: StartSession with issueLink, the capture page of
// the quick link stand-in (realface), and the return to the callback URL.
type User struct {
	HandlerURL string
	StandinURL string // the stand-in itself: the user's browser does not go through the Proxy
	Client     *http.Client
	// After, when set, is called as each of the handler's answers arrives ("StartSession",
	// "Callback"), for the overhead phase's per-endpoint counts.
	After func(endpoint string)
}

func (u *User) after(endpoint string) {
	if u.After != nil {
		u.After(endpoint)
	}
}

// Timing is one full session's latencies.
type Timing struct {
	Total, Start, Callback time.Duration
}

// NewClient is an HTTP client for up to conns concurrent users that follows no redirect.
func NewClient(conns int) *http.Client {
	return &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{MaxIdleConns: 4 * conns, MaxIdleConnsPerHost: 2 * conns, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Session plays one full session.
func (u *User) Session(ctx context.Context) (Timing, error) {
	var t Timing
	begin := time.Now()
	var started struct {
		Link struct {
			URL string `json:"url"`
		} `json:"link"`
	}
	status, body, err := u.do(ctx, http.MethodPost, u.HandlerURL+"/api/sessions", "application/json",
		`{"issueLink":true,"ttlSeconds":300}`)
	t.Start = time.Since(begin)
	u.after("StartSession")
	if err != nil {
		return t, fmt.Errorf("StartSession: %w", err)
	}
	if status != http.StatusCreated {
		return t, fmt.Errorf("StartSession: %d %.200s", status, body)
	}
	if err := json.Unmarshal(body, &started); err != nil || started.Link.URL == "" {
		return t, fmt.Errorf("StartSession: no link in the answer (%v)", err)
	}
	link, err := url.Parse(started.Link.URL)
	if err != nil {
		return t, fmt.Errorf("the link does not parse: %w", err)
	}
	// The link names the stand-in through the Proxy the handler was given; the user goes direct.
	direct := u.StandinURL + link.Path + "?" + link.RawQuery
	if status, _, err = u.do(ctx, http.MethodGet, direct, "", ""); err != nil || status != http.StatusOK {
		return t, fmt.Errorf("capture page: %d %v", status, err)
	}
	id := link.Query().Get("s")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.StandinURL+"/capture/"+url.PathEscape(id),
		strings.NewReader(url.Values{"outcome": {"realface"}}.Encode()))
	if err != nil {
		return t, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := u.Client.Do(req)
	if err != nil {
		return t, fmt.Errorf("capture: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return t, fmt.Errorf("capture: %s, want 303", resp.Status)
	}
	callback := resp.Header.Get("Location")
	cbBegin := time.Now()
	status, body, err = u.do(ctx, http.MethodGet, callback, "", "")
	t.Callback = time.Since(cbBegin)
	u.after("Callback")
	t.Total = time.Since(begin)
	if err != nil {
		return t, fmt.Errorf("callback: %w", err)
	}
	if status >= 400 {
		return t, fmt.Errorf("callback: %d %.200s", status, body)
	}
	return t, nil
}

func (u *User) do(ctx context.Context, method, target, contentType, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "text/html, application/json")
	resp, err := u.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Load is one concurrency level's figures.
type Load struct {
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Sessions    int     `json:"sessions"`
	Errors      int     `json:"errors"`
	// UpstreamFailed is the upstream calls that got no answer (a connection reset; 502 to the
	// handler, which may have retried), through the proxies during the run.
	UpstreamFailed int64   `json:"upstreamFailed"`
	FirstError     string  `json:"firstError,omitempty"`
	PerSecond      float64 `json:"sessionsPerSecond"`
	Latency        Summary `json:"latency"`         // a full session, StartSession to the callback's answer
	Start          Summary `json:"startSession"`    // StartSession alone
	Callback       Summary `json:"callback"`        // the callback alone
	Events         int     `json:"eventsDelivered"` // on the `all` subscription during the run
	// CPU is the handler's user+system CPU over the run; CPUPerSession divides it by Sessions.
	CPUms         float64 `json:"handlerCpuMs"`
	CPUPerSession float64 `json:"handlerCpuMsPerSession"`
	Memory        Memory  `json:"handlerMemoryAfter"`
	// OthersCPUPerSession is the CPU per session of the processes the handler calls (Azurite,
	// the Service Bus stand-in, cmd/standin) over the same run, in ms: where the machine's two
	// cores went.
	OthersCPUPerSession map[string]float64 `json:"othersCpuMsPerSession,omitempty"`
}

// RunLoad runs concurrency users for d, each playing sessions back to back.
func RunLoad(ctx context.Context, u *User, concurrency int, d time.Duration) Load {
	type result struct {
		t   Timing
		err error
	}
	results := make(chan result, 1024)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	begin := time.Now()
	done := make(chan struct{})
	for range concurrency {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				// A session already begun finishes past the deadline, so none is cut short.
				t, err := u.Session(context.WithoutCancel(ctx))
				results <- result{t, err}
			}
		}()
	}
	go func() {
		for range concurrency {
			<-done
		}
		close(results)
	}()
	out := Load{Concurrency: concurrency}
	var total, start, cb []time.Duration
	for r := range results {
		if r.err != nil {
			if out.Errors == 0 {
				out.FirstError = r.err.Error()
			}
			out.Errors++
			continue
		}
		out.Sessions++
		total, start, cb = append(total, r.t.Total), append(start, r.t.Start), append(cb, r.t.Callback)
	}
	elapsed := time.Since(begin)
	out.Seconds = elapsed.Seconds()
	out.PerSecond = float64(int(float64(out.Sessions)/elapsed.Seconds()*10)) / 10
	out.Latency, out.Start, out.Callback = Summarize(total), Summarize(start), Summarize(cb)
	return out
}
