package bench

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Overhead is phase 5: every upstream call held L; each endpoint's latency minus its sequential
// round trips × L.
type Overhead struct {
	Endpoints []EndpointOverhead `json:"endpoints"`
}

// EndpointOverhead is one endpoint's figures at concurrency 1.
type EndpointOverhead struct {
	Name string `json:"name"`
	// RoundTrips is the number of sequential upstream round trips (waves of calls that overlap
	// count once) that most requests made; Calls is the upstream calls per request.
	RoundTrips  int     `json:"sequentialRoundTrips"`
	Calls       float64 `json:"upstreamCalls"`
	Latency     Summary `json:"latency"`
	OverheadP50 float64 `json:"overheadP50Ms"`
	OverheadP99 float64 `json:"overheadP99Ms"`
	// Sequence is the upstream calls of the run's last request in the order they arrived, each
	// as "<wave>: <method> <path>".
	Sequence []string `json:"sequence"`
}

// Sequence numbers each call of one request by its wave (as Waves counts them).
func Sequence(arrivals []time.Time, what []string, l time.Duration) []string {
	idx := make([]int, len(arrivals))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return arrivals[a].Compare(arrivals[b]) })
	out := make([]string, 0, len(idx))
	wave := 0
	var start time.Time
	for _, i := range idx {
		if wave == 0 || arrivals[i].Sub(start) >= l {
			wave++
			start = arrivals[i]
		}
		out = append(out, fmt.Sprintf("%d: %s", wave, what[i]))
	}
	return out
}

// Arrivals records when upstream requests arrive and what they are (Proxy.Record), for Waves.
type Arrivals struct {
	mu   sync.Mutex
	at   []time.Time
	what []string
}

// Add records one arrival now.
func (a *Arrivals) Add(method, path string) {
	a.mu.Lock()
	a.at = append(a.at, time.Now())
	a.what = append(a.what, method+" "+CallName(path))
	a.mu.Unlock()
}

// Take returns the arrivals so far, with what each was, and forgets them.
func (a *Arrivals) Take() ([]time.Time, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, what := a.at, a.what
	a.at, a.what = nil, nil
	return at, what
}

// CallName is an upstream path without what differs from session to session: the keys of a
// table entity ("/devstoreaccount1/sessions(PartitionKey='a',RowKey='b')" is "sessions(…)") and
// the ids in Face and quick link paths (a segment with a digit and longer than 16 characters is
// "{id}").
func CallName(path string) string {
	if i := strings.IndexByte(path, '('); i >= 0 {
		path = path[:i] + "(…)"
	}
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if len(seg) > 16 && strings.ContainsAny(seg, "0123456789") && !strings.Contains(seg, "(") {
			segs[i] = "{id}"
		}
	}
	path = strings.Join(segs, "/")
	return strings.TrimPrefix(path, "/devstoreaccount1")
}

// Waves counts sequential round trips among arrivals of upstream requests each held at least l:
// a request that arrives before the first of the current wave could have been answered belongs
// to that wave (it was sent concurrently); one that arrives later starts a new wave.
func Waves(arrivals []time.Time, l time.Duration) int {
	s := slices.Clone(arrivals)
	slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	waves := 0
	var start time.Time
	for _, t := range s {
		if waves == 0 || t.Sub(start) >= l {
			waves++
			start = t
		}
	}
	return waves
}

// Mode is the most frequent value of v (the smallest of equally frequent ones); 0 when v is empty.
func Mode(v []int) int {
	count := map[int]int{}
	best, bestN := 0, 0
	for _, x := range v {
		count[x]++
	}
	for x, n := range count {
		if n > bestN || (n == bestN && x < best) {
			best, bestN = x, n
		}
	}
	return best
}
