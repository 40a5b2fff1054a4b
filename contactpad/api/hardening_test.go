package api_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

func TestContentSecurityPolicy(t *testing.T) {
	e := start(t, func(o *api.Options, _ *adapter.Settings) {
		o.ScriptURLs = []string{"https://Acme--c.vf.force.com/support/api/62.0/lightning/opencti_min.js"}
	})
	csp := e.call("alice", "GET", "/api/v1/me", nil).Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self' https://acme--c.vf.force.com;",
		"scripts from the panel's origin and the Open CTI library's only")
	require.Contains(t, csp, "frame-ancestors 'self' https://*.lightning.force.com;")
	require.NotContains(t, csp, "https:;")
	require.NotContains(t, csp, "unsafe-inline")

	plain := start(t).call("alice", "GET", "/api/v1/me", nil).Header.Get("Content-Security-Policy")
	require.Contains(t, plain, "script-src 'self';")

	_, err := api.New(api.Options{Engine: e.engine, ScriptURLs: []string{"http://acme.my.salesforce.com/opencti_min.js"}})
	require.EqualError(t, err, `script URL "http://acme.my.salesforce.com/opencti_min.js": want https://host/...`)
}

func TestJSONIsNotCached(t *testing.T) {
	e := start(t)
	for _, r := range []response{
		e.call("alice", "GET", "/api/v1/me", nil),
		e.call("alice", "GET", "/api/v1/interactions", nil),
		e.call("alice", "GET", "/api/v1/interactions/nope", nil),
		e.call("", "GET", "/api/v1/me", nil),
		e.call("ops", "GET", "/api/v1/export/handling?format=csv", nil),
	} {
		require.Equal(t, "no-store", r.Header.Get("Cache-Control"), "%d %s", r.Status, r.Body)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := start(t, func(o *api.Options, _ *adapter.Settings) {
		o.Panel = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	})
	tests := []struct {
		name, method, path, allow string
	}{
		{name: "read-only path", method: "DELETE", path: "/api/v1/me", allow: "GET, HEAD"},
		{name: "write-only path", method: "GET", path: "/api/v1/interactions/x/accept", allow: "POST"},
		{name: "read and write", method: "POST", path: "/api/v1/interactions/x", allow: "GET, HEAD, PATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.refused("alice", tt.method, tt.path, nil, 405, "method_not_allowed")
			require.Equal(t, tt.allow, r.Header.Get("Allow"))
		})
	}
	// Outside /api, under the panel's catch-all, as well.
	r := e.call("", "POST", "/healthz", nil)
	require.Equal(t, 405, r.Status)
	require.Equal(t, "GET, HEAD", r.Header.Get("Allow"))
	// An unknown path stays a 404.
	e.refused("alice", "DELETE", "/api/v1/nope", nil, 404, "not_found")
	require.Equal(t, 404, e.call("", "GET", "/nope", nil).Status)
}

// clock is a settable clock for the API's Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestUnknownTokensAreRateLimited(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	e := start(t, func(o *api.Options, _ *adapter.Settings) {
		o.AuthFailureRate, o.AuthFailureBurst = 0.5, 3
		o.Now = c.Now
	})
	e.ok("alice", "GET", "/api/v1/me", nil) // alice signed in from this address before the attack

	for range 3 {
		e.refused("mallory", "GET", "/api/v1/me", nil, 401, "unauthorized")
	}
	r := e.refused("mallory", "GET", "/api/v1/me", nil, 429, "rate_limited")
	require.Equal(t, "2", r.Header.Get("Retry-After"), "one try every 2s")
	require.Contains(t, string(r.Body), "unknown bearer token from this address")
	e.refused("", "GET", "/api/v1/me", nil, 429, "rate_limited")

	// A token that last signed in from this address goes on working; one
	// that did not is refused like a guess, right or wrong.
	e.ok("alice", "GET", "/api/v1/me", nil)
	e.refused("bob", "GET", "/api/v1/me", nil, 429, "rate_limited")

	c.advance(2 * time.Second)
	e.refused("mallory", "GET", "/api/v1/me", nil, 401, "unauthorized")
	e.refused("mallory", "GET", "/api/v1/me", nil, 429, "rate_limited")
	c.advance(2 * time.Second)
	e.ok("bob", "GET", "/api/v1/me", nil)
}

func TestRetryAfterRoundsUp(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	e := start(t, func(o *api.Options, _ *adapter.Settings) {
		o.AuthFailureRate, o.AuthFailureBurst = 0.1, 1
		o.Now = c.Now
	})
	e.refused("mallory", "GET", "/api/v1/me", nil, 401, "unauthorized")
	c.advance(2500 * time.Millisecond)
	r := e.refused("mallory", "GET", "/api/v1/me", nil, 429, "rate_limited")
	wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.Equal(t, 8, wait, "7.5s left, rounded up")
}

func TestMetricsElsewhere(t *testing.T) {
	e := start(t, func(o *api.Options, _ *adapter.Settings) { o.MetricsElsewhere = true })
	require.Equal(t, 404, e.call("", "GET", "/metrics", nil).Status)
	e.ok("alice", "GET", "/api/v1/me", nil)
	r := httptestGet(t, e.api.MetricsHandler(), "/metrics")
	require.Equal(t, 200, r.Code)
	require.Contains(t, r.Body.String(), `ctibridge_http_request_duration_seconds_count{code="200",method="GET",route="/api/v1/me"} 1`)
}

// TestMetricsWhileAMetricFails: a metric that cannot be read (the store's
// counts while the database is down) is left out; the rest are served,
// and the error, which may name the database, is not.
func TestMetricsWhileAMetricFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(failingCollector{prometheus.NewDesc("ctibridge_interactions", "Interactions by status.", nil, nil)})
	e := start(t, func(o *api.Options, _ *adapter.Settings) { o.Registry = reg })
	e.ok("alice", "GET", "/api/v1/me", nil)
	r := e.call("", "GET", "/metrics", nil)
	require.Equal(t, 200, r.Status)
	require.Contains(t, string(r.Body), `ctibridge_http_request_duration_seconds_count{code="200",method="GET",route="/api/v1/me"} 1`)
	require.NotContains(t, string(r.Body), "user=ctibridge")
	require.NotContains(t, string(r.Body), "ctibridge_interactions")
}

type failingCollector struct{ desc *prometheus.Desc }

func (c failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, errors.New("begin view: failed to connect to user=ctibridge database=ctib"))
}

func httptestGet(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}
