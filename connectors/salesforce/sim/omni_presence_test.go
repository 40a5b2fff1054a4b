package sim

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// queryRecords runs soql and returns its records.
func (e *env) queryRecords(soql string) []map[string]any {
	e.t.Helper()
	var out struct {
		Records []map[string]any `json:"records"`
	}
	e.callJSON(http.MethodGet, "/query?q="+url.QueryEscape(soql), nil, http.StatusOK, &out)
	return out.Records
}

const currentPresence = "SELECT UserId, ServicePresenceStatus.DeveloperName, IsAway, StatusStartDate, ConfiguredCapacity " +
	"FROM UserServicePresence WHERE IsCurrentState = true AND UserId IN ('005Sd0000000001IAA', '005Sd0000000002IAA') ORDER BY UserId"

func TestOmniStatusQueriedThroughSOQL(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))

	statuses := e.queryRecords("SELECT DeveloperName, MasterLabel FROM ServicePresenceStatus ORDER BY DeveloperName")
	var names []any
	for _, r := range statuses {
		names = append(names, r["DeveloperName"])
	}
	require.Equal(t, []any{"Available", "Away", "Busy", "Busy_Voice"}, names)

	require.Empty(t, e.queryRecords(currentPresence), "nobody is signed in to Omni-Channel at first")

	require.NoError(t, e.org.OmniStatus("bob@local.test", "Available"))
	e.clock.Advance(time.Minute)
	require.NoError(t, e.org.OmniStatus("005Sd0000000002IAA", "Away"))
	require.NoError(t, e.org.OmniStatus("alice@local.test", "busy_voice"), "DeveloperNames match case-insensitively")

	got := e.queryRecords(currentPresence)
	require.Len(t, got, 2)
	require.Equal(t, "005Sd0000000001IAA", got[0]["UserId"])
	require.Equal(t, "Busy_Voice", got[0]["ServicePresenceStatus"].(map[string]any)["DeveloperName"])
	require.Equal(t, false, got[0]["IsAway"])
	require.Equal(t, "005Sd0000000002IAA", got[1]["UserId"])
	require.Equal(t, "Away", got[1]["ServicePresenceStatus"].(map[string]any)["DeveloperName"])
	require.Equal(t, true, got[1]["IsAway"])
	require.Equal(t, "2026-11-22T12:01:00.000+0000", got[1]["StatusStartDate"])

	// Bob's first row ended when his second began.
	ended := e.queryRecords("SELECT StatusEndDate FROM UserServicePresence WHERE UserId = '005Sd0000000002IAA' AND IsCurrentState = false")
	require.Len(t, ended, 1)
	require.Equal(t, "2026-11-22T12:01:00.000+0000", ended[0]["StatusEndDate"])

	// Signed out: his current row ends, and none follows.
	require.NoError(t, e.org.OmniStatus("bob@local.test", ""))
	got = e.queryRecords(currentPresence)
	require.Len(t, got, 1)
	require.Equal(t, "005Sd0000000001IAA", got[0]["UserId"])

	require.ErrorContains(t, e.org.OmniStatus("bob@local.test", "Lunch"),
		`no ServicePresenceStatus has the DeveloperName "Lunch" (want one of Available, Busy_Voice, Busy, Away)`)
	require.ErrorContains(t, e.org.OmniStatus("dana@local.test", "Available"), `no active User`)
}

func TestOmniPresenceIsReadOnlyOverTheAPI(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	require.NoError(t, e.org.OmniStatus("bob@local.test", "Available"))
	row := e.queryRecords("SELECT Id FROM UserServicePresence WHERE IsCurrentState = true")[0]["Id"].(string)
	status := e.queryRecords("SELECT Id FROM ServicePresenceStatus WHERE DeveloperName = 'Away'")[0]["Id"].(string)

	tests := []struct {
		name, method, path string
		body               any
		code, msg          string
	}{
		{"create a presence", http.MethodPost, "/sobjects/UserServicePresence",
			map[string]any{"UserId": "005Sd0000000002IAA", "ServicePresenceStatusId": status},
			"INVALID_TYPE_FOR_OPERATION", "entity type cannot be inserted: User Presence"},
		{"update a presence", http.MethodPatch, "/sobjects/UserServicePresence/" + row,
			map[string]any{"ServicePresenceStatusId": status},
			"INVALID_TYPE_FOR_OPERATION", "entity type cannot be updated: User Presence"},
		{"delete a presence", http.MethodDelete, "/sobjects/UserServicePresence/" + row, nil,
			"INSUFFICIENT_ACCESS_OR_READONLY", ""},
		{"create a status", http.MethodPost, "/sobjects/ServicePresenceStatus",
			map[string]any{"DeveloperName": "Lunch", "MasterLabel": "Lunch"},
			"INVALID_TYPE_FOR_OPERATION", "entity type cannot be inserted: Presence Status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := e.expectError(tc.method, tc.path, tc.body, http.StatusBadRequest, tc.code)
			if tc.msg != "" {
				require.Equal(t, tc.msg, got.Message)
			}
		})
	}
	require.Len(t, e.queryRecords("SELECT Id FROM UserServicePresence"), 1, "nothing was written")
}

func TestOmniControlEndpoint(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	post := func(body string) (int, string) {
		resp, err := http.Post(e.srv.URL+OmniControlPath, "application/json", bytes.NewBufferString(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	calls := e.org.Total()
	code, _ := post(`{"user": "bob@local.test", "status": "Busy_Voice"}`)
	require.Equal(t, http.StatusNoContent, code)
	require.Equal(t, calls, e.org.Total(), "the widget is no API call")
	got := e.queryRecords(currentPresence)
	require.Len(t, got, 1)
	require.Equal(t, "Busy_Voice", got[0]["ServicePresenceStatus"].(map[string]any)["DeveloperName"])

	code, msg := post(`{"user": "bob@local.test", "status": "Nope"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, msg, `"Nope"`)
	code, _ = post(`{"user": "bob@local.test", "state": "Away"}`)
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = post(`{"user": "bob@local.test", "status": ""}`)
	require.Equal(t, http.StatusNoContent, code)
	require.Empty(t, e.queryRecords(currentPresence))
}
