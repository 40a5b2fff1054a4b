package sim

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	alice = "005Sd0000000001IAA"
	bob   = "005Sd0000000002IAA"
)

// omniEnv is an org with the default seed: the Support_Omni queue routes
// externally and the Cases channel routes Cases.
// routedCase creates a Case in queue, which the org routes: it returns the
// Case and its PendingServiceRouting.
func routedCase(t *testing.T, e *env, queue string) (caseID, psr string) {
	t.Helper()
	caseID, err := e.org.Create(alice, "Case", map[string]any{"Subject": "Routed", "Origin": "Web", "OwnerId": queue})
	require.NoError(t, err)
	return caseID, only(t, e.org, "PendingServiceRouting", "WorkItemId", caseID)["Id"].(string)
}

func omniEnv(t *testing.T) (*env, string, string) {
	t.Helper()
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	queue, channel := e.org.QueueID("Support_Omni"), e.org.ServiceChannelID("Cases")
	require.NotEmpty(t, queue)
	require.NotEmpty(t, channel)
	return e, queue, channel
}

// only returns the one live record of object whose field is value.
func only(t *testing.T, o *Org, object, field string, value any) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, r := range o.Records(object) {
		if r[field] == value {
			found = append(found, r)
		}
	}
	require.Len(t, found, 1, "%s with %s = %v", object, field, value)
	return found[0]
}

func countWhere(o *Org, object, field string, value any) int {
	n := 0
	for _, r := range o.Records(object) {
		if r[field] == value {
			n++
		}
	}
	return n
}

func TestOmniQueueMakesPendingServiceRouting(t *testing.T) {
	e, queue, channel := omniEnv(t)
	caseID, err := e.org.Create(alice, "Case", map[string]any{"Subject": "Routed", "Origin": "Web", "OwnerId": queue})
	require.NoError(t, err)
	psr := only(t, e.org, "PendingServiceRouting", "WorkItemId", caseID)
	require.Equal(t, channel, psr["ServiceChannelId"])
	require.Equal(t, queue, psr["GroupId"])
	require.Equal(t, "ExternalRouting", psr["RoutingModel"])
	require.Equal(t, "QueueBased", psr["RoutingType"])
	require.Equal(t, 1.0, psr["CapacityWeight"])
	require.Equal(t, false, psr["IsPushed"])

	// A Case owned by a user gets none; moved into the queue, it does.
	other, err := e.org.Create(alice, "Case", map[string]any{"Subject": "Mine", "Origin": "Web"})
	require.NoError(t, err)
	require.Zero(t, countWhere(e.org, "PendingServiceRouting", "WorkItemId", other))
	require.NoError(t, e.org.Edit(alice, "Case", other, map[string]any{"OwnerId": queue}))
	require.Equal(t, 1, countWhere(e.org, "PendingServiceRouting", "WorkItemId", other))
}

func TestOmniAgentWorkLifecycle(t *testing.T) {
	e, queue, channel := omniEnv(t)
	caseID, psr := routedCase(t, e, queue)
	work := func(user string) map[string]any {
		return map[string]any{"ServiceChannelId": channel, "WorkItemId": caseID, "UserId": user,
			"PendingServiceRoutingId": psr, "CapacityWeight": 1}
	}

	// Creating the AgentWork pushes the PSR; a second push is refused.
	w1 := e.create("AgentWork", work(alice))
	require.Equal(t, "Assigned", e.get("AgentWork", w1)["Status"])
	require.Equal(t, true, e.get("PendingServiceRouting", psr)["IsPushed"])
	require.Equal(t, queue, e.get("AgentWork", w1)["OriginalQueueId"])
	e.expectError(http.MethodPost, "/sobjects/AgentWork", work(bob), http.StatusBadRequest, "FIELD_INTEGRITY_EXCEPTION")

	// Status is the org's: the API may not write it.
	e.expectError(http.MethodPatch, "/sobjects/AgentWork/"+w1, map[string]any{"Status": "Opened"},
		http.StatusBadRequest, "INVALID_FIELD_FOR_INSERT_UPDATE")

	// Declined: the PSR waits for another push.
	require.NoError(t, e.org.OmniDecline(w1, "busy"))
	require.Equal(t, "Declined", e.get("AgentWork", w1)["Status"])
	require.Equal(t, "busy", e.get("AgentWork", w1)["DeclineReason"])
	require.Equal(t, false, e.get("PendingServiceRouting", psr)["IsPushed"])
	require.Equal(t, alice, e.get("PendingServiceRouting", psr)["LastDeclinedAgentSession"])
	require.Error(t, e.org.OmniAccept(w1), "only an assigned AgentWork can be answered")

	// Push timeout: the same, with its own status.
	w2 := e.create("AgentWork", work(bob))
	require.NoError(t, e.org.OmniPushTimeout(w2))
	require.Equal(t, "DeclinedOnPushTimeout", e.get("AgentWork", w2)["Status"])
	require.Equal(t, false, e.get("PendingServiceRouting", psr)["IsPushed"])

	// Accepted: the AgentWork opens, the PSR is deleted and the agent owns the Case.
	w3 := e.create("AgentWork", work(alice))
	require.NoError(t, e.org.OmniAccept(w3))
	require.Equal(t, "Opened", e.get("AgentWork", w3)["Status"])
	require.NotNil(t, e.get("AgentWork", w3)["AcceptDateTime"])
	require.Zero(t, countWhere(e.org, "PendingServiceRouting", "WorkItemId", caseID))
	require.Equal(t, alice, e.get("Case", caseID)["OwnerId"])
	e.expectError(http.MethodPost, "/sobjects/AgentWork", work(bob), http.StatusNotFound, "ENTITY_IS_DELETED")

	// A transfer: a new AgentWork without a PSR; accepted, the first one is Transferred.
	direct := map[string]any{"ServiceChannelId": channel, "WorkItemId": caseID, "UserId": bob, "CapacityWeight": 1}
	w4 := e.create("AgentWork", direct)
	require.NoError(t, e.org.OmniAccept(w4))
	require.Equal(t, "Transferred", e.get("AgentWork", w3)["Status"])
	require.Equal(t, "Opened", e.get("AgentWork", w4)["Status"])
	require.Equal(t, bob, e.get("Case", caseID)["OwnerId"])

	// Closing the Case over the API closes its open work.
	e.callJSON(http.MethodPatch, "/sobjects/Case/"+caseID, map[string]any{"Status": "Closed"}, http.StatusNoContent, nil)
	require.Equal(t, "Closed", e.get("AgentWork", w4)["Status"])
	require.NotNil(t, e.get("AgentWork", w4)["CloseDateTime"])
}

func TestOmniWithdrawnWhenTakenOutOfTheQueue(t *testing.T) {
	e, queue, channel := omniEnv(t)
	caseID, psr := routedCase(t, e, queue)
	w := e.create("AgentWork", map[string]any{"ServiceChannelId": channel, "WorkItemId": caseID, "UserId": alice,
		"PendingServiceRoutingId": psr})
	require.NoError(t, e.org.Edit(bob, "Case", caseID, map[string]any{"OwnerId": bob}))
	require.Zero(t, countWhere(e.org, "PendingServiceRouting", "WorkItemId", caseID))
	require.Equal(t, "Canceled", e.get("AgentWork", w)["Status"])
}

func TestOmniQueryByRelationship(t *testing.T) {
	e, queue, _ := omniEnv(t)
	caseID, err := e.org.Create(alice, "Case", map[string]any{"Subject": "Routed", "Origin": "Web", "OwnerId": queue})
	require.NoError(t, err)
	var page struct {
		Records []map[string]any `json:"records"`
	}
	e.callJSON(http.MethodGet, "/query?q="+url.QueryEscape("SELECT Id, WorkItemId FROM PendingServiceRouting "+
		"WHERE Group.DeveloperName = 'Support_Omni' AND RoutingModel = 'ExternalRouting' AND IsPushed = false"),
		nil, http.StatusOK, &page)
	require.Len(t, page.Records, 1)
	require.Equal(t, caseID, page.Records[0]["WorkItemId"])
}

func TestOmniQueryGroup(t *testing.T) {
	e, _, _ := omniEnv(t)
	resp, body := e.call(http.MethodGet, "/query?q="+url.QueryEscape("SELECT Id FROM Group WHERE DeveloperName = 'Support_Omni'"), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
}

// TestOmniPushTimesOut: an AgentWork left Assigned for the PushTimeout of
// its queue's routing configuration (the seed's: 30s) is
// DeclinedOnPushTimeout by the org's clock, as the API reads it, and its
// PSR waits for another push; an AgentWork routed to a user directly (no
// queue) has no push time-out.
func TestOmniPushTimesOut(t *testing.T) {
	e, queue, channel := omniEnv(t)
	caseID, psr := routedCase(t, e, queue)
	work := func(user string) map[string]any {
		return map[string]any{"ServiceChannelId": channel, "WorkItemId": caseID, "UserId": user,
			"PendingServiceRoutingId": psr, "CapacityWeight": 1}
	}
	w1 := e.create("AgentWork", work(alice))
	assigned, err := time.Parse(dateTimeLayout, e.get("AgentWork", w1)["AssignedDateTime"].(string))
	require.NoError(t, err)

	e.clock.Advance(29 * time.Second)
	require.Equal(t, "Assigned", e.get("AgentWork", w1)["Status"], "within the push time-out")
	require.Equal(t, true, e.get("PendingServiceRouting", psr)["IsPushed"])

	e.clock.Advance(time.Second)
	got := e.get("AgentWork", w1)
	require.Equal(t, "DeclinedOnPushTimeout", got["Status"])
	declined, err := time.Parse(dateTimeLayout, got["DeclineDateTime"].(string))
	require.NoError(t, err)
	require.Equal(t, assigned.Add(30*time.Second), declined, "when it timed out")
	p := e.get("PendingServiceRouting", psr)
	require.Equal(t, false, p["IsPushed"])
	require.Equal(t, alice, p["LastDeclinedAgentSession"])
	require.Error(t, e.org.OmniAccept(w1), "too late to accept")

	// The PSR takes another push; answered in time, it does not time out.
	w2 := e.create("AgentWork", work(bob))
	e.clock.Advance(10 * time.Second)
	require.NoError(t, e.org.OmniAccept(w2))
	e.clock.Advance(10 * time.Minute)
	require.Equal(t, "Opened", e.get("AgentWork", w2)["Status"])

	// Routed to alice directly (a transfer): no queue, no push time-out.
	w3 := e.create("AgentWork", map[string]any{"ServiceChannelId": channel, "WorkItemId": caseID, "UserId": alice})
	e.clock.Advance(10 * time.Minute)
	require.Equal(t, "Assigned", e.get("AgentWork", w3)["Status"])

	// Records reads the org as the API does: a push due by then has timed out.
	other, err := e.org.Create(alice, "Case", map[string]any{"Subject": "Other", "Origin": "Web", "OwnerId": queue})
	require.NoError(t, err)
	otherPSR := only(t, e.org, "PendingServiceRouting", "WorkItemId", other)["Id"].(string)
	w4 := e.create("AgentWork", map[string]any{"ServiceChannelId": channel, "WorkItemId": other, "UserId": bob,
		"PendingServiceRoutingId": otherPSR})
	e.clock.Advance(30 * time.Second)
	require.Equal(t, "DeclinedOnPushTimeout", only(t, e.org, "AgentWork", "Id", w4)["Status"])
}
