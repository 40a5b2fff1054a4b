package bench

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestActionLatency: the bridge's latency of the agents' actions is read
// from its histogram, every route and answer but GETs, between two
// scrapes; a restart between them leaves it unmeasured.
func TestActionLatency(t *testing.T) {
	scrape := func(accept10, accept50, accept100, release10, get10 int) actionLatency {
		text := strings.NewReplacer("Aten", itoa(accept10), "Afifty", itoa(accept50), "Ahundred", itoa(accept100),
			"Rten", itoa(release10), "Gten", itoa(get10)).Replace(`# HELP ctibridge_http_request_duration_seconds How long...
# TYPE ctibridge_http_request_duration_seconds histogram
ctibridge_http_request_duration_seconds_bucket{code="200",method="POST",route="/api/v1/interactions/{id}/accept",le="0.01"} Aten
ctibridge_http_request_duration_seconds_bucket{code="200",method="POST",route="/api/v1/interactions/{id}/accept",le="0.05"} Afifty
ctibridge_http_request_duration_seconds_bucket{code="200",method="POST",route="/api/v1/interactions/{id}/accept",le="0.1"} Ahundred
ctibridge_http_request_duration_seconds_bucket{code="200",method="POST",route="/api/v1/interactions/{id}/accept",le="+Inf"} Ahundred
ctibridge_http_request_duration_seconds_sum{code="200",method="POST",route="/api/v1/interactions/{id}/accept"} 1.5
ctibridge_http_request_duration_seconds_bucket{code="409",method="POST",route="/api/v1/interactions/{id}/release",le="0.01"} Rten
ctibridge_http_request_duration_seconds_bucket{code="409",method="POST",route="/api/v1/interactions/{id}/release",le="0.05"} Rten
ctibridge_http_request_duration_seconds_bucket{code="409",method="POST",route="/api/v1/interactions/{id}/release",le="0.1"} Rten
ctibridge_http_request_duration_seconds_bucket{code="409",method="POST",route="/api/v1/interactions/{id}/release",le="+Inf"} Rten
ctibridge_http_request_duration_seconds_bucket{code="200",method="GET",route="/api/v1/me",le="0.01"} Gten
ctibridge_http_request_duration_seconds_bucket{code="200",method="GET",route="/api/v1/me",le="0.05"} Gten
ctibridge_http_request_duration_seconds_bucket{code="200",method="GET",route="/api/v1/me",le="0.1"} Gten
ctibridge_http_request_duration_seconds_bucket{code="200",method="GET",route="/api/v1/me",le="+Inf"} Gten
process_resident_memory_bytes 1.2e+08
`)
		h, err := parseActionLatency(strings.NewReader(text))
		require.NoError(t, err)
		return h
	}
	before := scrape(5, 5, 5, 0, 100)
	// Since then: 100 accepts (70 within 10 ms, 20 more within 50 ms, 10
	// within 100 ms), 100 refused releases within 10 ms, GETs not counted.
	after := scrape(75, 95, 105, 100, 1000)
	h, ok := after.since(before)
	require.True(t, ok)
	require.EqualValues(t, 200, h.total())
	require.InDelta(t, 0.95, h.within(0.05), 1e-9, "190 of 200 within 50 ms")
	require.Equal(t, 0.01, h.quantile(0.5))
	require.Equal(t, 0.1, h.quantile(0.99))
	require.True(t, math.IsNaN(h.within(0.02)), "not a bucket's bound")

	var res Result
	h.fill(&res)
	require.Equal(t, 10.0, res.BridgeActionP50)
	require.Equal(t, 100.0, res.BridgeActionP99)
	require.Equal(t, 0.95, res.BridgeWithin50)
	require.EqualValues(t, 200, res.BridgeActions)

	_, ok = scrape(1, 1, 1, 0, 0).since(before)
	require.False(t, ok, "the bridge restarted: its counts began again")
	var none Result
	actionLatency{}.fill(&none)
	require.Zero(t, none.BridgeActionP99, "nothing measured, nothing reported")
	require.Zero(t, none.BridgeActions)
}

func itoa(n int) string { return strconv.Itoa(n) }
