package sim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQueryPagination(t *testing.T) {
	e := newEnv(t, Options{})
	seedCases(t, e.org, 4500)
	q := "/query?q=" + url.QueryEscape("SELECT Id, Subject FROM Case ORDER BY Subject")

	seen := map[string]bool{}
	var pages []int
	path := q
	for path != "" {
		var page queryResult
		e.callJSON(http.MethodGet, path, nil, http.StatusOK, &page)
		require.Equal(t, 4500, page.TotalSize)
		pages = append(pages, len(page.Records))
		for _, r := range page.Records {
			require.False(t, seen[r["Id"].(string)], "a record came twice")
			seen[r["Id"].(string)] = true
		}
		require.Equal(t, page.Done, page.NextRecordsURL == "")
		if !page.Done {
			require.Regexp(t, `^/services/data/v62\.0/query/01g[0-9A-Za-z]{15}-\d+$`, page.NextRecordsURL)
		}
		path = page.NextRecordsURL
	}
	require.Equal(t, []int{2000, 2000, 500}, pages)
	require.Len(t, seen, 4500)
	require.Equal(t, 3, e.org.Calls()[CallQuery])
	require.Equal(t, 3, e.org.Total())

	// A page can be fetched again (a client retrying after a network error).
	var first queryResult
	e.callJSON(http.MethodGet, q, nil, http.StatusOK, &first)
	var again1, again2 queryResult
	e.callJSON(http.MethodGet, first.NextRecordsURL, nil, http.StatusOK, &again1)
	e.callJSON(http.MethodGet, first.NextRecordsURL, nil, http.StatusOK, &again2)
	require.Equal(t, again1.Records, again2.Records)

	// Sforce-Query-Options: batchSize sets the page size.
	resp, body := e.callWith(e.token, http.MethodGet, q, nil, http.Header{"Sforce-Query-Options": {"batchSize=500"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var small queryResult
	require.NoError(t, json.Unmarshal(body, &small))
	require.Len(t, small.Records, 500)

	e.expectError(http.MethodGet, "/query/01gLz0000000ZZZAAA-2000", nil, http.StatusBadRequest, "INVALID_QUERY_LOCATOR")
	e.expectError(http.MethodGet, "/query", nil, http.StatusBadRequest, "MALFORMED_QUERY")
	msg := e.expectError(http.MethodGet, "/query?q="+url.QueryEscape("SELECT Nope FROM Case"), nil, http.StatusBadRequest, "INVALID_FIELD")
	require.Contains(t, msg.Message, "No such column 'Nope' on entity 'Case'")
	require.Nil(t, msg.Fields)
}

func TestQueryPageSizeOption(t *testing.T) {
	e := newEnv(t, Options{PageSize: 10})
	seedCases(t, e.org, 25)
	var page queryResult
	e.callJSON(http.MethodGet, "/queryAll?q="+url.QueryEscape("SELECT Id FROM Case"), nil, http.StatusOK, &page)
	require.Len(t, page.Records, 10)
	require.False(t, page.Done)
	require.Regexp(t, `-10$`, page.NextRecordsURL)
}

func TestLimitsAndUsageHeader(t *testing.T) {
	e := newEnv(t, Options{DailyAPILimit: 5})
	usage := regexp.MustCompile(`^api-usage=(\d+)/5$`)

	resp, body := e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "api-usage=1/5", resp.Header.Get("Sforce-Limit-Info"))
	var limits map[string]struct{ Max, Remaining int }
	require.NoError(t, json.Unmarshal(body, &limits))
	require.Equal(t, 5, limits["DailyApiRequests"].Max)
	require.Equal(t, 4, limits["DailyApiRequests"].Remaining)

	// Errors carry the header too, and count.
	resp, _ = e.call(http.MethodGet, "/sobjects/Nope/describe", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "api-usage=2/5", resp.Header.Get("Sforce-Limit-Info"))

	// Tokens and the version list are not API calls.
	e.login()
	resp, body = e.call(http.MethodGet, "/services/data/", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var versions []map[string]string
	require.NoError(t, json.Unmarshal(body, &versions))
	require.Equal(t, map[string]string{"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"}, versions[len(versions)-1])
	require.Equal(t, map[string]string{"label": "Summer '24", "url": "/services/data/v61.0", "version": "61.0"}, versions[len(versions)-2])

	for i := 3; i <= 5; i++ {
		resp, _ = e.call(http.MethodGet, "/", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Regexp(t, usage, resp.Header.Get("Sforce-Limit-Info"))
	}
	resp, body = e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.JSONEq(t, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, string(body))
	require.Equal(t, "api-usage=5/5", resp.Header.Get("Sforce-Limit-Info"))
	require.Equal(t, 5, e.org.Total())

	e.clock.Advance(24 * time.Hour)
	e.token = e.login()
	resp, _ = e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "api-usage=1/5", resp.Header.Get("Sforce-Limit-Info"))
	require.Equal(t, 6, e.org.Total())

	calls := e.org.Calls()
	require.Equal(t, 2, calls[CallLimits]) // the refused one is not counted
	require.Equal(t, 4, calls[CallDescribe])
	require.Equal(t, 3, calls[CallToken])
	require.Equal(t, 1, calls[CallVersions])
}

func TestVersionsAndResources(t *testing.T) {
	e := newEnv(t, Options{APIVersion: "v64.0"})
	var resources map[string]string
	e.callJSON(http.MethodGet, "/services/data/v64.0/", nil, http.StatusOK, &resources)
	require.Equal(t, "/services/data/v64.0/query", resources["query"])
	e.callJSON(http.MethodGet, "/services/data/v31.0/limits", nil, http.StatusOK, nil)
	e.expectError(http.MethodGet, "/services/data/v65.0/limits", nil, http.StatusNotFound, "NOT_FOUND")
	e.expectError(http.MethodGet, "/services/data/v30.0/limits", nil, http.StatusNotFound, "NOT_FOUND")
	e.expectError(http.MethodGet, "/services/data/latest/limits", nil, http.StatusNotFound, "NOT_FOUND")
	e.expectError(http.MethodGet, "/services/data/v64.0/nothing", nil, http.StatusNotFound, "NOT_FOUND")
	e.expectError(http.MethodPost, "/services/data/v64.0/limits", nil, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	e.expectError(http.MethodGet, "/services/apexrest/x", nil, http.StatusNotFound, "NOT_FOUND")

	var global struct {
		Sobjects []struct{ Name, KeyPrefix string }
	}
	e.callJSON(http.MethodGet, "/services/data/v64.0/sobjects", nil, http.StatusOK, &global)
	var names []string
	for _, s := range global.Sobjects {
		names = append(names, s.Name+"/"+s.KeyPrefix)
	}
	require.Equal(t, []string{"Case/500", "LiveChatTranscript/570", "Task/00T", "User/005", "Contact/003",
		"ServicePresenceStatus/0N5", "UserServicePresence/0Hn",
		"Group/00G", "QueueRoutingConfig/0R2", "ServiceChannel/0N9", "PendingServiceRouting/0JR", "AgentWork/0Bz"}, names)
}
