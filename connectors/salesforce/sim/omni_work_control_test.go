package sim

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOmniWorkControlEndpoint: the widget's stand-in over HTTP declines,
// times out and accepts AgentWork, and names what was wrong otherwise.
func TestOmniWorkControlEndpoint(t *testing.T) {
	e, queue, channel := omniEnv(t)
	caseID, psr := routedCase(t, e, queue)
	work := func(user string) string {
		return e.create("AgentWork", map[string]any{"ServiceChannelId": channel, "WorkItemId": caseID, "UserId": user,
			"PendingServiceRoutingId": psr})
	}
	post := func(body string) (int, string) {
		resp, err := http.Post(e.srv.URL+OmniWorkControlPath, "application/json", bytes.NewBufferString(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}

	w1 := work(alice)
	calls := e.org.Total()
	code, _ := post(`{"work_id": "` + w1 + `", "answer": "decline", "reason": "busy"}`)
	require.Equal(t, http.StatusNoContent, code)
	require.Equal(t, calls, e.org.Total(), "the widget is no API call")
	require.Equal(t, "Declined", e.get("AgentWork", w1)["Status"])
	require.Equal(t, "busy", e.get("AgentWork", w1)["DeclineReason"])

	w2 := work(bob)
	code, _ = post(`{"work_id": "` + w2 + `", "answer": "timeout"}`)
	require.Equal(t, http.StatusNoContent, code)
	require.Equal(t, "DeclinedOnPushTimeout", e.get("AgentWork", w2)["Status"])

	w3 := work(alice)
	code, msg := post(`{"work_id": "` + w3 + `", "answer": "maybe"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, msg, `"maybe" is not accept, decline or timeout`)
	code, _ = post(`{"work_id": "` + w3 + `", "answr": "accept"}`)
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = post(`{"work_id": "` + w3 + `", "answer": "accept"}`)
	require.Equal(t, http.StatusNoContent, code)
	require.Equal(t, "Opened", e.get("AgentWork", w3)["Status"])
	require.Equal(t, alice, e.get("Case", caseID)["OwnerId"])
	code, msg = post(`{"work_id": "` + w3 + `", "answer": "accept"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code, "only an assigned AgentWork is answered")
	require.NotEmpty(t, msg)
	code, _ = post(`{"work_id": "0BzNOPE", "answer": "accept"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code)
}
