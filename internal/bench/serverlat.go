package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// actionLatency is the bridge's own account of how long it took to answer
// the agents' actions: the buckets of its
// ctibridge_http_request_duration_seconds histogram, summed over every
// route and answer of the requests that are not GETs. Beside the latency
// the agents measure, it shows what the bench's own agents add to it on a
// shared machine (waiting for a core, reading the answer).
type actionLatency struct {
	bounds []float64 // the buckets' upper bounds, in seconds, ascending (+Inf last)
	counts []uint64  // cumulative, per bound
}

const durationBucket = "ctibridge_http_request_duration_seconds_bucket{"

// scrapeActionLatency reads the histogram from the bridge's /metrics.
func scrapeActionLatency(ctx context.Context, client *http.Client, base string) (actionLatency, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return actionLatency{}, err
	}
	res, err := client.Do(req)
	if err != nil {
		return actionLatency{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return actionLatency{}, fmt.Errorf("GET /metrics: HTTP %d", res.StatusCode)
	}
	return parseActionLatency(res.Body)
}

// parseActionLatency sums the non-GET buckets of the histogram in
// Prometheus' text format.
func parseActionLatency(r io.Reader) (actionLatency, error) {
	byBound := map[float64]uint64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		labels, ok := strings.CutPrefix(sc.Text(), durationBucket)
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(labels, "} ")
		if !ok || strings.Contains(labels, `method="GET"`) {
			continue
		}
		_, le, ok := strings.Cut(labels, `le="`)
		if !ok {
			continue
		}
		le, _, _ = strings.Cut(le, `"`)
		bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		if err != nil {
			return actionLatency{}, fmt.Errorf("/metrics: bucket bound %q: %w", le, err)
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return actionLatency{}, fmt.Errorf("/metrics: bucket count %q: %w", value, err)
		}
		byBound[bound] += uint64(n)
	}
	if err := sc.Err(); err != nil {
		return actionLatency{}, err
	}
	var h actionLatency
	for b := range byBound {
		h.bounds = append(h.bounds, b)
	}
	slices.Sort(h.bounds)
	for _, b := range h.bounds {
		h.counts = append(h.counts, byBound[b])
	}
	return h, nil
}

// since returns what was counted after before; ok is false when the two
// are not of one process (the bridge restarted: its counts began again).
func (h actionLatency) since(before actionLatency) (actionLatency, bool) {
	if len(before.bounds) == 0 {
		return h, true
	}
	if !slices.Equal(h.bounds, before.bounds) {
		return actionLatency{}, false
	}
	out := actionLatency{bounds: h.bounds, counts: make([]uint64, len(h.counts))}
	for k := range h.counts {
		if h.counts[k] < before.counts[k] {
			return actionLatency{}, false
		}
		out.counts[k] = h.counts[k] - before.counts[k]
	}
	return out, true
}

func (h actionLatency) total() uint64 {
	if len(h.counts) == 0 {
		return 0
	}
	return h.counts[len(h.counts)-1]
}

// within returns the share of the requests answered within bound seconds,
// which must be one of the histogram's bounds (NaN if not, or if none).
func (h actionLatency) within(bound float64) float64 {
	k := slices.Index(h.bounds, bound)
	if k < 0 || h.total() == 0 {
		return math.NaN()
	}
	return float64(h.counts[k]) / float64(h.total())
}

// quantile returns the upper bound of the bucket that holds quantile q:
// at most this many seconds (+Inf beyond the last bound; NaN if none).
func (h actionLatency) quantile(q float64) float64 {
	if h.total() == 0 {
		return math.NaN()
	}
	want := uint64(math.Ceil(q * float64(h.total())))
	for k, c := range h.counts {
		if c >= want {
			return h.bounds[k]
		}
	}
	return math.Inf(1)
}

// fill puts the latency in res, when it was measured.
func (h actionLatency) fill(res *Result) {
	p50, p99, within := h.quantile(0.5), h.quantile(0.99), h.within(0.05)
	if math.IsNaN(within) || math.IsInf(p99, 1) {
		return
	}
	res.BridgeActions = int64(h.total())
	res.BridgeActionP50, res.BridgeActionP99, res.BridgeWithin50 = 1000*p50, 1000*p99, round(within, 4)
}
