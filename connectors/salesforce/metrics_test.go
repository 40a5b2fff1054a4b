package salesforce

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// meteredClient connects to the org at url with metrics on a new registry.
func meteredClient(t *testing.T, url string) (*Client, *Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	return connect(t, url, func(c *Config) { c.Metrics = m }), m, reg
}

func calls(m *Metrics, endpoint int) float64 { return testutil.ToFloat64(m.calls[endpoint]) }

func crmErrors(m *Metrics, code string) float64 {
	return testutil.ToFloat64(m.errors.WithLabelValues(code))
}

// TestMetricsCalls: every request to the org is counted by endpoint, and
// the API usage follows the org's Sforce-Limit-Info header.
func TestMetricsCalls(t *testing.T) {
	org, url, ids := localOrg(t, 3)
	c, _, reg := meteredClient(t, url)
	ctx := context.Background()
	_, err := c.Query(ctx, "SELECT Id FROM Case")
	require.NoError(t, err)
	_, err = c.Describe(ctx, "Case")
	require.NoError(t, err)
	sink := NewSink(c, map[string]Writeback{"Case": caseWriteback{}})
	for _, err := range sink.Write(ctx, []adapter.OutboxRow{row(1, ids[0], contactpad.Deferred, "a1")}) {
		require.NoError(t, err)
	}
	require.NoError(t, testutil.CollectAndCompare(reg, strings.NewReader(`
# HELP ctibridge_crm_calls_total HTTP requests to the CRM by endpoint; each attempt of a retried call counts.
# TYPE ctibridge_crm_calls_total counter
ctibridge_crm_calls_total{endpoint="collections"} 0
ctibridge_crm_calls_total{endpoint="composite"} 1
ctibridge_crm_calls_total{endpoint="describe"} 1
ctibridge_crm_calls_total{endpoint="limits"} 0
ctibridge_crm_calls_total{endpoint="other"} 0
ctibridge_crm_calls_total{endpoint="query"} 1
ctibridge_crm_calls_total{endpoint="sobject"} 0
ctibridge_crm_calls_total{endpoint="token"} 1
# HELP ctibridge_crm_api_usage API requests used in the org's 24-hour window, from the last Sforce-Limit-Info header seen.
# TYPE ctibridge_crm_api_usage gauge
ctibridge_crm_api_usage 3
# HELP ctibridge_crm_api_limit The org's API request limit for its 24-hour window, from the last Sforce-Limit-Info header seen.
# TYPE ctibridge_crm_api_limit gauge
ctibridge_crm_api_limit 100000
`), "ctibridge_crm_calls_total", "ctibridge_crm_api_usage", "ctibridge_crm_api_limit"))
	require.Equal(t, 3, org.Total(), "the org counted the same API calls (the token is not one)")
	require.Equal(t, 0, testutil.CollectAndCount(reg, "ctibridge_crm_errors_total"), "no errors")
}

// TestMetricsErrors: errors are counted by Salesforce errorCode (or HTTP
// status), once per attempt, and the per-record errors of a composite
// call once per record.
func TestMetricsErrors(t *testing.T) {
	org, url, ids := localOrg(t, 3)
	c, m, _ := meteredClient(t, url)
	ctx := context.Background()
	query := func() error { _, err := c.Query(ctx, "SELECT Id FROM Case"); return err }

	org.Faults().FailNext(2, http.StatusServiceUnavailable)
	require.NoError(t, query(), "retried within the call")
	require.Equal(t, 2.0, crmErrors(m, "SERVER_UNAVAILABLE"))
	require.Equal(t, 3.0, calls(m, endpointQuery), "each attempt is a call")

	org.Faults().FailNext(1, http.StatusBadGateway) // an HTML page, no errorCode
	require.NoError(t, query())
	require.Equal(t, 1.0, crmErrors(m, "HTTP_502"))

	org.Faults().ExceedLimit(1)
	require.ErrorContains(t, query(), "REQUEST_LIMIT_EXCEEDED")
	require.Equal(t, 1.0, crmErrors(m, "REQUEST_LIMIT_EXCEEDED"), "not retried: the caller backs off")

	org.Faults().ExpireSessions()
	require.NoError(t, query(), "signed in again")
	require.Equal(t, 1.0, crmErrors(m, "INVALID_SESSION_ID"))
	require.Equal(t, 2.0, calls(m, endpointToken))

	org.Faults().MarkDeleted(ids[0])
	org.Faults().LockRows(1, ids[1])
	sink := NewSink(c, map[string]Writeback{"Case": caseWriteback{}})
	errs := sink.Write(ctx, []adapter.OutboxRow{row(1, ids[0], contactpad.Deferred, "a1"),
		row(2, ids[1], contactpad.Deferred, "a2"), row(3, ids[2], contactpad.Deferred, "a3")})
	require.Error(t, errs[0])
	require.Error(t, errs[1])
	require.NoError(t, errs[2])
	// One error per failed record write: the deleted Case's update, the
	// locked Case's update (their audit Tasks are written).
	require.Equal(t, 1.0, crmErrors(m, "ENTITY_IS_DELETED"))
	require.Equal(t, 1.0, crmErrors(m, "UNABLE_TO_LOCK_ROW"))
	require.Equal(t, 1.0, calls(m, endpointComposite), "one call with per-record errors")
}

// TestMetricsSignIn: a refused sign-in counts its OAuth error; an org that
// does not answer counts every attempt as a network error.
func TestMetricsSignIn(t *testing.T) {
	_, url, _ := localOrg(t, 0)
	m := NewMetrics(prometheus.NewRegistry())
	_, err := New(context.Background(), Config{LoginURL: url, Auth: AuthClientCredentials, ClientID: "ctibridge-local",
		ClientSecret: "wrong", Logger: quiet(), Metrics: m})
	require.Error(t, err)
	require.Equal(t, 1.0, crmErrors(m, "invalid_client"))
	require.Equal(t, 1.0, calls(m, endpointToken))

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	m = NewMetrics(prometheus.NewRegistry())
	_, err = New(context.Background(), Config{LoginURL: down.URL, Auth: AuthClientCredentials, ClientID: "x",
		ClientSecret: "y", Logger: quiet(), Metrics: m, RetryMax: 2, RetryWaitMin: time.Millisecond,
		RetryWaitMax: time.Millisecond})
	require.Error(t, err)
	require.Equal(t, 3.0, crmErrors(m, "network"), "the first attempt and two retries")
	require.Equal(t, 3.0, calls(m, endpointToken))
}

// TestMetricsNoErrorCode (httpmock under the retry layer): an error answer
// without an errorCode counts as HTTP_<status>.
func TestMetricsNoErrorCode(t *testing.T) {
	mock := httpmock.NewMockTransport()
	mock.RegisterResponder(http.MethodPost, "https://login.test/services/oauth2/token",
		httpmock.NewStringResponder(200, `{"access_token":"tok","instance_url":"https://org.test","token_type":"Bearer"}`))
	mock.RegisterResponder(http.MethodGet, `=~^https://org\.test/services/data/v62\.0/query`,
		httpmock.ResponderFromMultipleResponses([]*http.Response{
			httpmock.NewStringResponse(503, ``), httpmock.NewStringResponse(400, `[]`)}))
	m := NewMetrics(nil)
	c := connect(t, "https://login.test", func(c *Config) { c.Transport, c.Metrics = mock, m })
	_, err := c.Query(context.Background(), "SELECT Id FROM Case")
	require.ErrorContains(t, err, "HTTP 400")
	require.Equal(t, 1.0, crmErrors(m, "HTTP_503"))
	require.Equal(t, 1.0, crmErrors(m, "HTTP_400"))
	require.Equal(t, 2.0, calls(m, endpointQuery))
}

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/services/oauth2/token", endpointToken},
		{http.MethodGet, "/services/data/v62.0/query", endpointQuery},
		{http.MethodGet, "/services/data/v62.0/query/01gD0000002HU6KIAW-2000", endpointQuery},
		{http.MethodGet, "/services/data/v62.0/queryAll", endpointQuery},
		{http.MethodPost, "/services/data/v62.0/composite", endpointComposite},
		{http.MethodPatch, "/services/data/v62.0/composite/sobjects", endpointCollections},
		{http.MethodPatch, "/services/data/v62.0/composite/sobjects/Task/Ctibridge_Audit_Id__c", endpointCollections},
		{http.MethodGet, "/services/data/v62.0/sobjects", endpointDescribe},
		{http.MethodGet, "/services/data/v62.0/sobjects/Case", endpointDescribe},
		{http.MethodGet, "/services/data/v62.0/sobjects/Case/describe", endpointDescribe},
		{http.MethodPatch, "/services/data/v62.0/sobjects/Case/500Sd000000001AAA", endpointSObject},
		{http.MethodGet, "/services/data/v62.0/sobjects/Case/500Sd000000001AAA", endpointSObject},
		{http.MethodGet, "/services/data/v62.0/limits", endpointLimits},
		{http.MethodGet, "/services/data/", endpointOther},
		{http.MethodGet, "/services/data/v62.0", endpointOther},
		{http.MethodGet, "/services/apexrest/thing", endpointOther},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			require.Equal(t, endpointNames[tc.want], endpointNames[endpoint(tc.method, tc.path)])
		})
	}
}

func TestParseLimitInfo(t *testing.T) {
	for _, tc := range []struct {
		info        string
		used, limit float64
		ok          bool
	}{
		{"api-usage=18/5000", 18, 5000, true},
		{"api-usage=18/5000, per-app-api-usage=17/250(appName=sample-app)", 18, 5000, true},
		{"per-app-api-usage=17/250(appName=sample-app), api-usage=3/15000", 3, 15000, true},
		{"per-app-api-usage=17/250(appName=sample-app)", 0, 0, false},
		{"api-usage=18", 0, 0, false},
		{"api-usage=x/5000", 0, 0, false},
	} {
		t.Run(tc.info, func(t *testing.T) {
			used, limit, ok := parseLimitInfo(tc.info)
			require.Equal(t, tc.ok, ok)
			if ok {
				require.Equal(t, tc.used, used)
				require.Equal(t, tc.limit, limit)
			}
		})
	}
}
