package soak

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/quicklinkstub"
)

// A plan is what one user does with a session.
type plan string

const (
	planRealFace  plan = quicklinkstub.OutcomeRealFace
	planSpoofFace plan = quicklinkstub.OutcomeSpoofFace
	planUncertain plan = quicklinkstub.OutcomeUncertain
	planError     plan = quicklinkstub.OutcomeError
	planAbandon   plan = quicklinkstub.OutcomeAbandon // the capture page's "abandon": no attempt
	planNoAttempt plan = "opened, no attempt"         // opens the link, comes back without a capture
	planNeverOpen plan = "never opened"               // never opens the link
)

// plans and their weights (out of 100).
var plans = []struct {
	plan   plan
	weight int
	want   liveness.Status // the final state when every step got its answer
}{
	{planRealFace, 30, liveness.StatusCompleted},
	{planSpoofFace, 10, liveness.StatusCompleted},
	{planUncertain, 10, liveness.StatusCompleted},
	{planError, 10, liveness.StatusFailed},
	{planAbandon, 10, liveness.StatusAbandoned},
	{planNoAttempt, 15, liveness.StatusAbandoned},
	{planNeverOpen, 15, liveness.StatusExpired},
}

// faultPercent is the share of sessions before one of whose steps a random fault strikes.
const faultPercent = 25

// The steps of a session a fault can strike before.
const (
	stepStart = iota
	stepCapture
	stepCallback
	steps
)

// newSession draws session i's plan from rng (which it keeps for the fault's parameters): what the
// user does, whether the callback is sent several times at once (a double submit, a reload),
// and the fault that strikes before one of its steps, if any.
func newSession(i int, rng *rand.Rand) *session {
	s := &session{index: i, rng: rng, callbacks: 1}
	n := rng.IntN(100)
	for _, c := range plans {
		if n < c.weight {
			s.plan, s.want = c.plan, c.want
			break
		}
		n -= c.weight
	}
	if rng.IntN(10) == 0 {
		s.callbacks = 2 + rng.IntN(3)
	}
	if rng.IntN(100) < faultPercent {
		s.fault, s.faultStep = randomFaults[rng.IntN(len(randomFaults))], rng.IntN(steps)
	}
	return s
}

// ttlSeconds outlasts the soak: sessions expire when the test moves the clock, not under a user.
const ttlSeconds = 3600

// session is what one user did and saw.
type session struct {
	index     int
	rng       *rand.Rand // the session's seeded source: its plan, its fault's parameters
	plan      plan
	want      liveness.Status
	callbacks int
	fault     string // the fault struck before step faultStep ("" for none)
	faultStep int
	id        string
	// deviated is why the user could not follow the plan (a link lost with an answer, a step
	// refused past the retries); its final state is then not predicted.
	deviated string
	// errs are answers a real app or browser must never get (a 500, a 4xx to a valid request).
	errs []string
}

func (s *session) errorf(format string, args ...any) {
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

// user is a browser and the app that started the session: it follows no redirect by itself, and
// retries a 503 (or 429) after its Retry-After, at most retries times, as a real client would.
type user struct {
	r       *rig
	faults  *injector
	client  *http.Client
	retries int
	maxWait time.Duration // a longer Retry-After is shortened to this: the soak must end
	stats   *clientStats
}

// clientStats counts the retries users made, by status, and the starts made again with a new
// Idempotency-Key.
type clientStats struct {
	mu        sync.Mutex
	retried   map[int]int
	restarted int
}

func (c *clientStats) add(status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.retried[status]++
}

// before strikes the session's fault when its step comes.
func (u *user) before(s *session, step int) (end func()) {
	if s.fault == "" || s.faultStep != step {
		return func() {}
	}
	if end := u.faults.strike(s.fault, s.rng); end != nil {
		return end
	}
	return func() {}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request built by newReq, retrying refusals. Requests to the app hold the rig's pause
// barrier shared (see rig.pause); the stand-ins are not behind it.
func (u *user) do(toApp bool, newReq func() (*http.Request, error)) (*answer, error) {
	for try := 0; ; try++ {
		req, err := newReq()
		if err != nil {
			return nil, err
		}
		if toApp {
			u.r.pause.RLock()
		}
		resp, err := u.client.Do(req)
		var a *answer
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			a, err = &answer{status: resp.StatusCode, header: resp.Header, body: body}, rerr
		}
		if toApp {
			u.r.pause.RUnlock()
		}
		if err != nil {
			return nil, err
		}
		if (a.status != http.StatusServiceUnavailable && a.status != http.StatusTooManyRequests) || try == u.retries {
			return a, nil
		}
		u.stats.add(a.status)
		wait := 500 * time.Millisecond
		if s, err := strconv.Atoi(a.header.Get("Retry-After")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		time.Sleep(min(wait, u.maxWait))
	}
}

func (u *user) get(toApp bool, target string, header map[string]string) (*answer, error) {
	return u.do(toApp, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err == nil {
			for k, v := range header {
				req.Header.Set(k, v)
			}
		}
		return req, err
	})
}

// browser is what a browser sends to a page.
var browser = map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}

// run plays one session through: start with a link, the capture (or none), the callback.
func (u *user) run(s *session, seed uint64) {
	end := u.before(s, stepStart)
	a, err := u.start(s, seed)
	end()
	if err != nil {
		s.errorf("StartSession: %v", err)
		return
	}
	var started struct {
		SessionID string          `json:"sessionId"`
		Status    liveness.Status `json:"status"`
		Link      *struct {
			URL string `json:"url"`
		} `json:"link"`
	}
	switch {
	case a.status != http.StatusCreated && a.status != http.StatusOK:
		s.errorf("StartSession = %d %.300s", a.status, a.body)
		return
	case json.Unmarshal(a.body, &started) != nil || started.SessionID == "":
		s.errorf("StartSession answered %.300s", a.body)
		return
	}
	s.id = started.SessionID
	if started.Link == nil {
		// A replay answers without the link (a link is shown once): the first answer was lost.
		s.deviated = "the start's answer with the link was lost"
		return
	}
	if s.plan == planNeverOpen {
		return
	}

	page, err := u.get(false, started.Link.URL, browser)
	if err != nil || page.status != http.StatusOK {
		s.errorf("opening the link: %v %v", status(page), err)
		return
	}
	link, err := url.Parse(started.Link.URL)
	if err != nil {
		s.errorf("link URL: %v", err)
		return
	}
	callback := link.Query().Get("callbackUrl")
	end = u.before(s, stepCapture)
	defer func() { end() }()
	if s.plan != planNoAttempt {
		a, err := u.do(false, func() (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPost, u.r.standins+"/capture/"+url.PathEscape(link.Query().Get("s")),
				strings.NewReader(url.Values{"outcome": {string(s.plan)}}.Encode()))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			return req, err
		})
		if err != nil || a.status != http.StatusSeeOther {
			s.errorf("capture: %v %v", status(a), err)
			return
		}
		callback = a.header.Get("Location")
	}

	end()
	end = u.before(s, stepCallback)
	// The callback, sent callbacks times at once; each must be answered, by the page that sends
	// the browser on (200 without a returnUrl).
	var wg sync.WaitGroup
	answers := make([]*answer, s.callbacks)
	errs := make([]error, s.callbacks)
	for i := range s.callbacks {
		wg.Go(func() { answers[i], errs[i] = u.get(true, callback, browser) })
	}
	wg.Wait()
	for i := range s.callbacks {
		switch a := answers[i]; {
		case errs[i] != nil:
			s.errorf("callback: %v", errs[i])
		case a.status == http.StatusServiceUnavailable:
			// A clear refusal past the retries: the outcome waits at Face for Reconcile.
			s.deviated = "the callback was refused past the retries"
		case a.status != http.StatusOK:
			s.errorf("callback = %d %.300s", a.status, a.body)
		}
	}
}

// start is StartSession with an Idempotency-Key, which makes a retried start the same start: an
// answer lost on the way must not leave a second session behind. A key left in flight by a start
// that failed and could not release it (409 request_in_progress, for up to two minutes) is
// given up for a new one, as a user who reloads the page would: that start made no session.
func (u *user) start(s *session, seed uint64) (*answer, error) {
	body := fmt.Sprintf(`{"issueLink":true,"ttlSeconds":%d,"externalReference":"soak-%d"}`, ttlSeconds, s.index)
	for attempt := 0; ; attempt++ {
		key := fmt.Sprintf("soak-%d-%d-%d", seed, s.index, attempt)
		a, err := u.do(true, func() (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPost, u.r.app+"/api/sessions", strings.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", key)
			}
			return req, err
		})
		if err != nil || a.status != http.StatusConflict || !bytes.Contains(a.body, []byte(`"request_in_progress"`)) || attempt == 3 {
			return a, err
		}
		u.stats.mu.Lock()
		u.stats.restarted++
		u.stats.mu.Unlock()
	}
}

func status(a *answer) string {
	if a == nil {
		return "no answer"
	}
	return fmt.Sprintf("%d %.200s", a.status, bytes.TrimSpace(a.body))
}
