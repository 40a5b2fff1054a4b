package bench

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for k := range hundred {
		hundred[k] = time.Duration(k+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{name: "none", sorted: nil, p: 99, want: 0},
		{name: "one sample is every percentile", sorted: []time.Duration{7}, p: 1, want: 7},
		{name: "p50 of 1..100 ms", sorted: hundred, p: 50, want: 50 * time.Millisecond},
		{name: "p99 of 1..100 ms", sorted: hundred, p: 99, want: 99 * time.Millisecond},
		{name: "p100 is the max", sorted: hundred, p: 100, want: 100 * time.Millisecond},
		{name: "nearest rank rounds up", sorted: []time.Duration{1, 2, 3}, p: 50, want: 2},
		{name: "p99 of few samples is the max", sorted: []time.Duration{1, 2, 3}, p: 99, want: 3},
		{name: "a tiny p is the min", sorted: hundred, p: 0.001, want: time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Percentile(tt.sorted, tt.p))
		})
	}
}

func TestLatenciesSummaryFromManyGoroutines(t *testing.T) {
	var l Latencies
	require.Equal(t, Summary{}, l.Summary())
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			for k := range 100 {
				l.Add(time.Duration(g*100+k+1) * time.Microsecond) // 1..1000 µs
			}
		})
	}
	wg.Wait()
	s := l.Summary()
	require.Equal(t, 1000, s.Count)
	require.Equal(t, 500*time.Microsecond, s.P50)
	require.Equal(t, 950*time.Microsecond, s.P95)
	require.Equal(t, 990*time.Microsecond, s.P99)
	require.Equal(t, time.Millisecond, s.Max)
}

func TestMs(t *testing.T) {
	require.Equal(t, 1.23, ms(1234567*time.Nanosecond))
	require.Equal(t, 0.0, ms(0))
}
