package salesforce_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// TestOmniRefusedAgentWork: the work ctibridge takes back from an agent on
// its own (x logs out in ctibridge) while x's AgentWork is out in
// Omni-Channel is offered to y, whose AgentWork the org refuses (the PSR
// is pushed already: FIELD_INTEGRITY_EXCEPTION). The writer gives up on
// it at once and the offer goes back to routing instead of waiting
// forever; the audit Tasks written beside it are written once. x's push
// then times out in the org (the routing configuration's 30s, on the
// org's clock), which frees the PSR, and y's next offer reaches
// Omni-Channel. Over HTTP against the local org, on each store.
func TestOmniRefusedAgentWork(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			if st.name == "postgres" {
				pgtest.ServerDSN(t)
			}
			omniRefusedAgentWork(t, st.open)
		})
	}
}

func omniRefusedAgentWork(t *testing.T, open func(*testing.T) adapter.Store) {
	sample, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mappings", "case.yaml"))
	require.NoError(t, err)
	orgClock := &clock{now: time.Now().UTC()}
	b := startBridgeWith(t, omniSeed(), bridgeOptions{store: open, mappings: []string{string(sample) + omniSection},
		orgClock: orgClock})
	users := map[string]string{"alice": aliceUser, "bob": bobUser}
	for agent := range users {
		b.do(adapter.SetPresence{Agent: agent, Presence: contactpad.Available})
	}
	caseID, err := b.org.Create(samUser, "Case", map[string]any{"Subject": "Parcel lost", "Origin": "Web", "Type": "Question",
		"OwnerId": b.org.QueueID("Support_Omni")})
	require.NoError(t, err)
	psr := b.onlyRecord("PendingServiceRouting", "WorkItemId", caseID)["Id"].(string)
	b.poll()
	i := b.byCRM()[caseID]
	x := i.Owner
	y := map[string]string{"alice": "bob", "bob": "alice"}[x]
	require.Empty(t, b.drain())
	aw1 := b.lastWork(caseID)
	require.Equal(t, users[x], aw1["UserId"])

	// x logs out in ctibridge: the offer goes to y, but x's AgentWork is still out.
	b.do(adapter.SetPresence{Agent: x, Presence: contactpad.LoggedOut})
	require.Equal(t, y, b.byCRM()[caseID].Owner)
	require.Empty(t, b.drain(), "the refused AgentWork leaves nothing parked to hold the Case's later writes back")
	got := b.byCRM()[caseID]
	require.Equal(t, contactpad.Queued, got.Status, "back to routing: x is logged out and y was refused")
	trail := b.trail(i.ID)
	var refused []string
	for _, e := range trail {
		if e.Action == contactpad.AuditRequeued && e.Data["code"] != "" {
			refused = append(refused, e.Message)
		}
	}
	require.Equal(t, []string{"Omni-Channel refused the AgentWork for " + y + ": FIELD_INTEGRITY_EXCEPTION"}, refused)
	require.Len(t, b.org.Records("AgentWork"), 1, "only x's")
	require.Equal(t, "Assigned", b.record("AgentWork", aw1["Id"].(string))["Status"])
	tasks := b.org.Writes("Task")
	require.NotEmpty(t, tasks)
	for id, n := range tasks {
		require.Equal(t, 1, n, "audit Task %s is written once", id)
	}

	// x's push times out in Omni-Channel: the PSR is free again.
	orgClock.Add(30 * time.Second)
	b.poll()
	require.Equal(t, "DeclinedOnPushTimeout", b.record("AgentWork", aw1["Id"].(string))["Status"])
	require.Equal(t, false, b.record("PendingServiceRouting", psr)["IsPushed"])
	require.Equal(t, contactpad.Queued, b.byCRM()[caseID].Status, "x's answer is of an offer that moved on")

	// y says it is ready: offered again, and the AgentWork reaches Omni-Channel.
	b.do(adapter.SetPresence{Agent: y, Presence: contactpad.Available})
	require.Equal(t, y, b.byCRM()[caseID].Owner)
	require.Empty(t, b.drain())
	aw2 := b.lastWork(caseID)
	require.Equal(t, users[y], aw2["UserId"])
	require.Equal(t, psr, aw2["PendingServiceRoutingId"])
	require.NoError(t, b.org.OmniAccept(aw2["Id"].(string)))
	b.poll()
	require.Equal(t, contactpad.Connected, b.byCRM()[caseID].Status)
	for id, n := range b.org.Writes("Task") {
		require.Equal(t, 1, n, "audit Task %s is written once", id)
	}
}
