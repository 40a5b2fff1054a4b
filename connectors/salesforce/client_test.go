package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/mapping"
	"github.com/stretchr/testify/require"
)

// caseMapping is the sample Case mapping.
func caseMapping(t *testing.T) *mapping.Mapping {
	t.Helper()
	ms, err := mapping.ParseFile(filepath.Join("..", "..", "testdata", "mappings", "case.yaml"))
	require.NoError(t, err)
	return ms[0]
}

// failingOrg is the local org behind a front that answers every request
// whose path starts with prefix with status and body (Retry-After: 0), as an
// org in an incident does, and counts those answers.
func failingOrg(t *testing.T, prefix string, status int, body string) (string, *atomic.Int32) {
	t.Helper()
	org := sim.New(sim.Options{})
	var answers atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			org.ServeHTTP(w, r)
			return
		}
		answers.Add(1)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &answers
}

// TestRetriesRunOut: when an org keeps answering 503 or 429, the call
// fails once its retries run out with the org's last answer, errorCode
// included, and Classify retries it later (it is neither lost as a bare
// "giving up" nor parked).
func TestRetriesRunOut(t *testing.T) {
	const retryMax = 2
	for _, tc := range []struct {
		name   string
		status int
		body   string
		code   string
	}{
		{"503 SERVER_UNAVAILABLE", http.StatusServiceUnavailable,
			`[{"message":"Server temporarily unavailable, please try again later","errorCode":"SERVER_UNAVAILABLE"}]`,
			"SERVER_UNAVAILABLE"},
		{"429 REQUEST_LIMIT_EXCEEDED", http.StatusTooManyRequests,
			`[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`,
			"REQUEST_LIMIT_EXCEEDED"},
		{"500 UNKNOWN_EXCEPTION", http.StatusInternalServerError,
			`[{"message":"An unexpected error occurred.","errorCode":"UNKNOWN_EXCEPTION"}]`, "UNKNOWN_EXCEPTION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, answers := failingOrg(t, "/services/data/", tc.status, tc.body)
			c := connect(t, url, func(c *Config) { c.RetryMax = retryMax })
			ctx := context.Background()
			wantAPIError := func(t *testing.T, err error) {
				t.Helper()
				var api *APIError
				require.ErrorAs(t, err, &api)
				require.Equal(t, tc.status, api.Status)
				require.Equal(t, tc.code, api.Code)
				require.Equal(t, Retry, Classify(err))
				require.Equal(t, int32(retryMax+1), answers.Swap(0), "the first attempt and every retry")
			}

			_, err := c.Query(ctx, "SELECT Id FROM Case")
			require.ErrorContains(t, err, "query: salesforce: "+tc.code+": ")
			wantAPIError(t, err)

			_, err = c.Describe(ctx, "Case")
			require.ErrorContains(t, err, "GET sobjects/Case/describe: salesforce: "+tc.code)
			wantAPIError(t, err)

			_, _, _, err = NewSource(c, caseMapping(t)).Changes(ctx, "", nil)
			require.ErrorContains(t, err, "read Case: POST composite: salesforce: "+tc.code)
			wantAPIError(t, err)

			sink := NewSink(c, map[string]Writeback{"Case": caseWriteback{}})
			errs := sink.Write(ctx, []adapter.OutboxRow{row(1, "500000000000001AAA", contactpad.Deferred, "a1")})
			var park *adapter.ParkError
			require.NotErrorAs(t, errs[0], &park, "an org in an incident is retried later, not parked")
			wantAPIError(t, errs[0])
		})
	}
}

// TestSignInRetriesRunOut: a token endpoint that keeps answering 503 fails
// the sign-in with its status, as unavailable rather than refused.
func TestSignInRetriesRunOut(t *testing.T) {
	url, answers := failingOrg(t, "/services/oauth2/", http.StatusServiceUnavailable,
		`<html><body>Service Unavailable</body></html>`)
	_, err := New(context.Background(), Config{LoginURL: url, Auth: AuthClientCredentials, ClientID: "ctibridge-local",
		ClientSecret: "local-secret", Logger: quiet(), RetryMax: 1, RetryWaitMin: 1, RetryWaitMax: 1})
	require.EqualError(t, err, "salesforce sign-in (client_credentials) at "+url+": salesforce: HTTP 503")
	var api *APIError
	require.ErrorAs(t, err, &api)
	require.Equal(t, http.StatusServiceUnavailable, api.Status)
	require.Equal(t, int32(2), answers.Load())
}
