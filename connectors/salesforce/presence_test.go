package salesforce_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/connectors/salesforce"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
)

// omniMap is the demo's map: on a call in Omni-Channel, no new calls.
var omniMap = adapter.PresenceMap{
	Source: salesforce.OmniSource,
	Presence: map[string]contactpad.Presence{
		"Available": contactpad.Available, "Busy_Voice": contactpad.Available, "Busy": contactpad.Busy, "Away": contactpad.Busy,
	},
	Busy: map[string][]contactpad.Media{"Busy_Voice": {contactpad.Live}},
}

// TestPresenceFollowsOmni: the agents' presence follows what they set in
// the local org's Omni-Channel widget, read over HTTP in one API call per
// poll whatever the number of agents; on each store.
func TestPresenceFollowsOmni(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			if st.name == "postgres" {
				pgtest.ServerDSN(t)
			}
			b := startBridgeWith(t, sim.DefaultSeed(), bridgeOptions{store: st.open, agents: threeAgents(),
				tweak: func(s *adapter.Settings) { s.PresenceSource = salesforce.OmniSource }})
			omni := salesforce.NewOmniPresence(b.client)
			presence := func(agent string) *contactpad.Agent {
				t.Helper()
				var a *contactpad.Agent
				require.NoError(t, b.store.View(context.Background(), func(tx adapter.Tx) error {
					var err error
					a, err = tx.Agent(agent)
					return err
				}))
				return a
			}
			follow := func() {
				t.Helper()
				before := b.org.Calls()
				require.NoError(t, b.engine.FollowPresenceOnce(context.Background(), omni, omniMap))
				after := b.org.Calls()
				require.Equal(t, before[sim.CallCompositeQuery]+1, after[sim.CallCompositeQuery], "one query call per poll")
				require.Equal(t, b.org.Total()-1, sum(before), "and no other call")
			}

			require.NoError(t, b.org.OmniStatus(aliceUser, "Available"))
			require.NoError(t, b.org.OmniStatus("bob@local.test", "Busy_Voice"))
			follow()
			require.Equal(t, contactpad.Available, presence("alice").Presence)
			bob := presence("bob")
			require.Equal(t, contactpad.Available, bob.Presence)
			require.Zero(t, bob.Capacity[contactpad.Live], "busy on voice: no new calls")
			require.Equal(t, 50, bob.Capacity[contactpad.SemiLive])
			require.Equal(t, contactpad.LoggedOut, presence("carol").Presence, "carol is not signed in to Omni-Channel")

			require.NoError(t, b.org.OmniStatus("alice@local.test", "Away"))
			require.NoError(t, b.org.OmniStatus("bob@local.test", "Available"))
			require.NoError(t, b.org.OmniStatus("carol@local.test", "Available"))
			follow()
			require.Equal(t, contactpad.Busy, presence("alice").Presence)
			require.Equal(t, 1, presence("bob").Capacity[contactpad.Live])
			require.Equal(t, contactpad.Available, presence("carol").Presence)

			require.NoError(t, b.org.OmniStatus("carol@local.test", ""))
			follow()
			require.Equal(t, contactpad.LoggedOut, presence("carol").Presence, "signed out of Omni-Channel")
		})
	}
}

func sum(calls map[string]int) int {
	n := 0
	for kind, c := range calls {
		if kind != sim.CallToken && kind != sim.CallVersions {
			n += c
		}
	}
	return n
}

// TestCheckPresenceStatuses: the map's statuses are checked against the
// org's, each mistake named where the config has it.
func TestCheckPresenceStatuses(t *testing.T) {
	c := startBridge(t, sim.DefaultSeed()).client
	require.NoError(t, salesforce.CheckPresenceStatuses(context.Background(), c, []salesforce.StatusRef{
		{Name: "Available", At: "c.yaml:3: m.Available"}, {Name: "Busy_Voice", At: "c.yaml:4: m.Busy_Voice"}}))
	err := salesforce.CheckPresenceStatuses(context.Background(), c, []salesforce.StatusRef{
		{Name: "Available", At: "c.yaml:3: m.Available"}, {Name: "Busy_Vocie", At: "c.yaml:4: m.Busy_Vocie"}})
	var mismatch *salesforce.MismatchError
	require.ErrorAs(t, err, &mismatch)
	require.EqualError(t, err, `c.yaml:4: m.Busy_Vocie: "Busy_Vocie" is not a presence status (DeveloperName) of the org (it has Available, Away, Busy, Busy_Voice)`)
}
