package bench

import (
	"slices"
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
}

// Arrivals records when upstream requests arrive (Proxy.Record), for Waves.
type Arrivals struct {
	mu sync.Mutex
	at []time.Time
}

// Add records one arrival now.
func (a *Arrivals) Add(string, string) {
	a.mu.Lock()
	a.at = append(a.at, time.Now())
	a.mu.Unlock()
}

// Take returns the arrivals so far and forgets them.
func (a *Arrivals) Take() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	at := a.at
	a.at = nil
	return at
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
