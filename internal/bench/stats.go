package bench

import (
	"math"
	"slices"
	"time"
)

// Summary is a latency distribution in milliseconds (JSON numbers people can read).
type Summary struct {
	N    int     `json:"n"`
	Min  float64 `json:"minMs"`
	P50  float64 `json:"p50Ms"`
	P95  float64 `json:"p95Ms"`
	P99  float64 `json:"p99Ms"`
	Max  float64 `json:"maxMs"`
	Mean float64 `json:"meanMs"`
}

// Summarize is the distribution of d; the zero Summary when d is empty. Percentiles are
// nearest-rank (the smallest sample with at least p% of the samples at or below it), so every
// figure is a latency that was measured.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return Summary{
		N: len(s), Min: ms(s[0]), Max: ms(s[len(s)-1]),
		P50: ms(Percentile(s, 50)), P95: ms(Percentile(s, 95)), P99: ms(Percentile(s, 99)),
		Mean: ms(sum / time.Duration(len(s))),
	}
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted, which must be sorted
// ascending and not empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// Ratio is a/b rounded to two decimals, 0 when b is 0.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(a/b*100) / 100
}
