package bench

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Latencies collects durations from many goroutines and summarises them.
// It keeps every sample (8 bytes each: a million samples are 8 MB), so the
// percentiles are exact, not estimated from buckets.
type Latencies struct {
	mu      sync.Mutex
	samples []time.Duration
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.samples = append(l.samples, d)
	l.mu.Unlock()
}

// Summary is what a set of durations comes to.
type Summary struct {
	Count         int
	P50, P95, P99 time.Duration
	Max           time.Duration
}

// Summary sorts a copy of the samples and reads the percentiles.
func (l *Latencies) Summary() Summary {
	l.mu.Lock()
	s := slices.Clone(l.samples)
	l.mu.Unlock()
	slices.Sort(s)
	if len(s) == 0 {
		return Summary{}
	}
	return Summary{Count: len(s), P50: Percentile(s, 50), P95: Percentile(s, 95), P99: Percentile(s, 99), Max: s[len(s)-1]}
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest sample that at least p% of the samples
// are less than or equal to. It is 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// ms is a duration in milliseconds, rounded to 0.01 ms, for reports.
func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*100) / 100 }
