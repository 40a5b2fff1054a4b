package salesforce_test

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// TestOmniRefusedAgentWork: the org refuses AgentWork (a validation rule
// of the org, here refusing one user's, then everyone's). A refused
// AgentWork sends the offer back to routing at once, to another agent,
// with the audit Tasks written beside it written once; after three
// refusals in a row the work waits in the queue, until the record
// changes with its PSR still waiting. An AgentWork nobody answers times
// out in the org (the routing configuration's 30s, on the org's clock)
// and the work goes to the other agent. Over HTTP against the local org,
// on each store.
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
	var refuse atomic.Value // the user whose AgentWork the org refuses; "*" everyone's
	refuse.Store("")
	b.org.Faults().AddValidationRule("AgentWork", "UserId", "Omni-Channel is not set up for this user",
		func(r map[string]any) bool { who := refuse.Load().(string); return who == "*" || who == r["UserId"] })
	for agent := range users {
		b.do(adapter.SetPresence{Agent: agent, Presence: contactpad.Available})
	}
	newCase := func(subject string) (string, *contactpad.Interaction) {
		id, err := b.org.Create(samUser, "Case", map[string]any{"Subject": subject, "Origin": "Web", "Type": "Question",
			"OwnerId": b.org.QueueID("Support_Omni")})
		require.NoError(t, err)
		b.poll()
		return id, b.byCRM()[id]
	}
	refusals := func(id string) []string {
		var out []string
		for _, e := range b.trail(id) {
			if e.Action == contactpad.AuditRequeued && e.Data["code"] != "" {
				out = append(out, e.Message)
			}
		}
		return out
	}

	// The org refuses x's AgentWork: y is offered the work, and gets it.
	caseID, i := newCase("Parcel lost")
	x := i.Owner
	y := map[string]string{"alice": "bob", "bob": "alice"}[x]
	refuse.Store(users[x])
	require.Empty(t, b.drain(), "the refused AgentWork leaves nothing parked to hold the Case's later writes back")
	require.Equal(t, []string{"Omni-Channel refused the AgentWork for " + x + ": FIELD_CUSTOM_VALIDATION_EXCEPTION"}, refusals(i.ID))
	require.Equal(t, y, b.byCRM()[caseID].Owner)
	require.Empty(t, b.drain())
	aw := b.lastWork(caseID)
	require.Equal(t, users[y], aw["UserId"])
	require.NoError(t, b.org.OmniAccept(aw["Id"].(string)))
	b.poll()
	require.Equal(t, contactpad.Connected, b.byCRM()[caseID].Status)
	for id, n := range b.org.Writes("Task") {
		require.Equal(t, 1, n, "audit Task %s is written once", id)
	}

	// The org refuses everyone's: three refusals, then the work waits.
	refuse.Store("*")
	waiting, j := newCase("Wrong size")
	require.Equal(t, contactpad.Offered, b.byCRM()[waiting].Status)
	require.Empty(t, b.drain(), "each refusal is offered on at once, until the third")
	require.Len(t, refusals(j.ID), 3)
	require.Equal(t, contactpad.Queued, b.byCRM()[waiting].Status)
	require.Zero(t, b.count("AgentWork", "WorkItemId", waiting))
	calls := b.org.Total()
	b.do(adapter.SetPresence{Agent: x, Presence: contactpad.Busy})
	b.do(adapter.SetPresence{Agent: x, Presence: contactpad.Available})
	require.Empty(t, b.drain())
	require.Equal(t, calls, b.org.Total(), "no fourth AgentWork, no call")

	// Set up at last, and Sam touches the Case: its PSR still waits, and the work is routed again.
	refuse.Store("")
	require.NoError(t, b.org.Edit(samUser, "Case", waiting, map[string]any{"Priority": "High"}))
	b.poll()
	require.Equal(t, contactpad.Offered, b.byCRM()[waiting].Status)
	require.Empty(t, b.drain())
	aw = b.lastWork(waiting)
	first := b.byCRM()[waiting].Owner
	require.Equal(t, users[first], aw["UserId"])

	// Nobody answers it: the org times the push out after 30s, and the other agent is offered it.
	orgClock.Add(30 * time.Second)
	b.poll()
	require.Equal(t, "DeclinedOnPushTimeout", b.record("AgentWork", aw["Id"].(string))["Status"])
	other := map[string]string{"alice": "bob", "bob": "alice"}[first]
	require.Equal(t, other, b.byCRM()[waiting].Owner)
	require.Empty(t, b.drain())
	require.Equal(t, users[other], b.lastWork(waiting)["UserId"])
}
