package main

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDemoOmni runs demo --omni in a synctest bubble: the agents'
// presence follows what the story sets in the org's Omni-Channel, each
// change within a poll, and bob cannot set his own; and a Case of the
// Support_Omni queue is routed by ctibridge, offered as an AgentWork,
// accepted in Omni-Channel and connected in ctibridge.
func TestDemoOmni(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := demoInBubble(t, demoEnv{NewRecordsEvery: time.Hour, Omni: true})
		require.NotContains(t, out.String(), "the story stopped")
		require.Regexp(t, `AgentWork 0Bz\w+ for user 005\w+: Assigned; PendingServiceRouting pushed: true`, out.String())
		require.Regexp(t, `AgentWork 0Bz\w+: Opened; PendingServiceRouting pushed: deleted`, out.String())
		require.Regexp(t, `"Parcel arrived damaged" \(non-live, support\) connected owner=(alice|bob)`, out.String())
		// A warm transfer through Omni-Channel: an AgentWork for the target,
		// accepted there, hands the Case over in both.
		require.Regexp(t, `(alice|bob) warm-transfers it to (alice|bob): the request is an AgentWork`, out.String())
		require.Regexp(t, `AgentWork 0Bz\w+ for user 005\w+: Assigned\n`, out.String())
		require.Regexp(t, `AgentWork 0Bz\w+: Transferred; AgentWork 0Bz\w+: Opened; the Case's owner: 005\w+`, out.String())
		require.Regexp(t, `transfer\.completed +warm transfer (alice|bob) -> agent (alice|bob) completed`, out.String())
		require.Contains(t, out.String(), "Ctrl-C stops it.", "the story went on to the tour")
		text := out.String()
		for _, want := range []string{
			"agent.presence         alice is available (Omni-Channel: Available)",
			"agent.presence         bob is available (Omni-Channel: Busy_Voice), busy for live",
			"refused (presence_follows_crm): presence follows Omni-Channel in Salesforce: change it there",
			"agent.presence         alice is busy (Omni-Channel: Away)",
			"agent.presence         bob is logged_out (Omni-Channel: signed out)",
			`curl -s -d '{"user":"bob@local.test","status":"Available"}' http://127.0.0.1:8090/sim/omni/presence`,
		} {
			require.Contains(t, text, want)
		}
		require.Regexp(t, `(?s)alice is available \(Omni-Channel: Available\).*"Router keeps rebooting" \(live, support\) offered owner=alice`, text,
			"the waiting call goes to an agent Omni-Channel made available")
	})
}
