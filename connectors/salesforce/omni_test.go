package salesforce_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/connectors/salesforce"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/mapping"
	"github.com/stretchr/testify/require"
)

// omniSection routes the sample Case mapping's work through the seed's
// external routing queue.
const omniSection = `
    omni:
      external_routing: true
      queue: Support_Omni
      service_channel: Cases
`

// omniSeed is the seed's users and its Omni-Channel setup: no Cases.
func omniSeed() []sim.Record {
	var out []sim.Record
	for _, r := range sim.DefaultSeed() {
		switch r["attributes"].(map[string]any)["type"] {
		case "User", "Group", "QueueRoutingConfig", "ServiceChannel":
			out = append(out, r)
		}
	}
	return out
}

// TestOmniExternalRouting: the bridge is the external router of a queue.
// Each work item the org places in it (a PendingServiceRouting) becomes an
// interaction that the bridge routes and offers as an AgentWork, created
// in the batched writeback; the agents' answers in Omni-Channel (decline,
// push timeout, accept) come back through the poll as the interaction's
// decline, timeout and accept; a cold transfer is a new AgentWork; the
// completed work closes its AgentWork. After each step the org's PSR and
// AgentWork rows are as Salesforce would have them. On each store.
func TestOmniExternalRouting(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			if st.name == "postgres" {
				pgtest.ServerDSN(t)
			}
			omniExternalRouting(t, st.open)
		})
	}
}

func omniExternalRouting(t *testing.T, open func(*testing.T) adapter.Store) {
	sample, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mappings", "case.yaml"))
	require.NoError(t, err)
	b := startBridgeWith(t, omniSeed(), bridgeOptions{store: open, mappings: []string{string(sample) + omniSection}})
	ctx := context.Background()
	queue, channel := b.org.QueueID("Support_Omni"), b.org.ServiceChannelID("Cases")
	users := map[string]string{"alice": aliceUser, "bob": bobUser}
	for agent := range users {
		b.do(adapter.SetPresence{Agent: agent, Presence: contactpad.Available})
	}

	// Two Cases land in the queue: the org makes their PSRs.
	var cases []string
	for _, subject := range []string{"Parcel lost", "Wrong size"} {
		id, err := b.org.Create(samUser, "Case", map[string]any{"Subject": subject, "Origin": "Web", "Type": "Question",
			"OwnerId": queue})
		require.NoError(t, err)
		cases = append(cases, id)
	}
	psr := b.onlyRecord("PendingServiceRouting", "WorkItemId", cases[0])
	require.Equal(t, false, psr["IsPushed"])

	// One poll (one API call) routes both; one writeback call creates both
	// AgentWork records, beside the audit Tasks.
	calls := b.org.Total()
	b.poll()
	require.Equal(t, calls+1, b.org.Total(), "the poll is one composite call, PSRs and AgentWork included")
	first := b.byCRM()[cases[0]]
	require.Equal(t, contactpad.Offered, first.Status)
	x := first.Owner
	y := map[string]string{"alice": "bob", "bob": "alice"}[x]
	require.Equal(t, y, b.byCRM()[cases[1]].Owner, "the other Case goes to the other agent")
	require.Nil(t, first.OfferExpiresAt, "Omni-Channel times the push out, not the bridge")
	calls = b.org.Total()
	require.Empty(t, b.drain())
	require.Equal(t, calls+1, b.org.Total(),
		"both AgentWork in one composite call, and no read before it: an offer writes only the bridge's own fields")
	require.Len(t, b.org.Records("AgentWork"), 2)
	aw1 := b.onlyRecord("AgentWork", "WorkItemId", cases[0])
	require.Equal(t, "Assigned", aw1["Status"])
	require.Equal(t, users[x], aw1["UserId"])
	require.Equal(t, psr["Id"], aw1["PendingServiceRoutingId"])
	require.Equal(t, channel, aw1["ServiceChannelId"])
	require.Equal(t, 1.0, aw1["CapacityWeight"])
	require.Equal(t, true, b.record("PendingServiceRouting", psr["Id"].(string))["IsPushed"])

	// The panel does not answer an offer that is an AgentWork.
	_, err = b.engine.Apply(ctx, adapter.Accept{ID: first.ID, Agent: x})
	var conflict *adapter.ConflictError
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, "Offered through Omni-Channel: answer it in the Omni-Channel widget.", adapter.Explain(err))

	// x declines in Omni-Channel: the bridge offers it to y, with a new AgentWork for the same PSR.
	require.NoError(t, b.org.OmniDecline(aw1["Id"].(string), "busy"))
	b.poll()
	require.Equal(t, y, b.byCRM()[cases[0]].Owner)
	require.Equal(t, contactpad.AuditDeclined, b.trailActions(first.ID)[len(b.trailActions(first.ID))-2])
	b.poll() // reading the answer again changes nothing
	require.Empty(t, b.drain())
	aw2 := b.lastWork(cases[0])
	require.Equal(t, users[y], aw2["UserId"])
	require.Equal(t, psr["Id"], aw2["PendingServiceRoutingId"])
	require.Equal(t, "Declined", b.record("AgentWork", aw1["Id"].(string))["Status"])
	require.Equal(t, true, b.record("PendingServiceRouting", psr["Id"].(string))["IsPushed"])

	// y lets the push time out: back to x, with a third AgentWork.
	require.NoError(t, b.org.OmniPushTimeout(aw2["Id"].(string)))
	b.poll()
	require.Equal(t, x, b.byCRM()[cases[0]].Owner)
	require.Contains(t, b.trailActions(first.ID), contactpad.AuditOfferTimeout)
	require.Empty(t, b.drain())
	aw3 := b.lastWork(cases[0])
	require.Equal(t, users[x], aw3["UserId"])
	require.Equal(t, "DeclinedOnPushTimeout", b.record("AgentWork", aw2["Id"].(string))["Status"])
	s := adapter.Defaults()
	if s.PushTimeoutPresence != "" {
		// routing.push_timeout_presence applies to Omni-Channel's push timeouts too.
		require.Equal(t, s.PushTimeoutPresence, b.agentPresence(y))
		b.do(adapter.SetPresence{Agent: y, Presence: contactpad.Available})
	}

	// x accepts in Omni-Channel: connected; the org deleted the PSR and gave x the Case.
	require.NoError(t, b.org.OmniAccept(aw3["Id"].(string)))
	b.poll()
	got := b.byCRM()[cases[0]]
	require.Equal(t, contactpad.Connected, got.Status)
	require.Equal(t, x, got.Owner)
	require.Empty(t, b.drain())
	require.Zero(t, b.count("PendingServiceRouting", "WorkItemId", cases[0]))
	require.Equal(t, users[x], b.record("Case", cases[0])["OwnerId"])
	require.Equal(t, "Working", b.record("Case", cases[0])["Status"])

	// A cold transfer to y is a new AgentWork straight to y (the PSR is gone).
	b.do(adapter.StartTransfer{ID: first.ID, Agent: x, Target: contactpad.Target{Agent: y}, Mode: contactpad.Cold})
	require.Equal(t, contactpad.Offered, b.byCRM()[cases[0]].Status)
	require.Empty(t, b.drain())
	aw4 := b.lastWork(cases[0])
	require.Equal(t, users[y], aw4["UserId"])
	require.Nil(t, aw4["PendingServiceRoutingId"])
	require.NoError(t, b.org.OmniAccept(aw4["Id"].(string)))
	b.poll()
	require.Equal(t, contactpad.Connected, b.byCRM()[cases[0]].Status)
	require.Equal(t, y, b.byCRM()[cases[0]].Owner)
	require.Equal(t, "Transferred", b.record("AgentWork", aw3["Id"].(string))["Status"])

	// A warm transfer back to x is an AgentWork for x, which x answers in
	// Omni-Channel, not in the panel. Declined there, y keeps the work.
	warm := adapter.StartTransfer{ID: first.ID, Agent: y, Target: contactpad.Target{Agent: x}, Note: "wants a refund"}
	tr := b.do(warm).Transfer
	require.Equal(t, contactpad.AnswerInOmni, tr.AnswerIn)
	require.Empty(t, b.drain())
	aw5 := b.lastWork(cases[0])
	require.Equal(t, users[x], aw5["UserId"])
	require.Nil(t, aw5["PendingServiceRoutingId"])
	_, err = b.engine.Apply(ctx, adapter.AcceptTransfer{TransferID: tr.ID, Agent: x})
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, "Delivered through Omni-Channel: answer it in the Omni-Channel widget.", adapter.Explain(err))
	require.NoError(t, b.org.OmniDecline(aw5["Id"].(string), "busy"))
	b.poll()
	require.Equal(t, contactpad.TransferFailed, b.transferOf(tr.ID).Status)
	require.Equal(t, y, b.byCRM()[cases[0]].Owner)
	require.Equal(t, "Opened", b.record("AgentWork", aw4["Id"].(string))["Status"])
	require.Equal(t, users[y], b.record("Case", cases[0])["OwnerId"])

	// Accepted there, x has it at once: the org made y's AgentWork
	// Transferred and gave x the Case, and so does the bridge.
	tr = b.do(warm).Transfer
	require.Empty(t, b.drain())
	aw6 := b.lastWork(cases[0])
	require.Equal(t, users[x], aw6["UserId"])
	require.NoError(t, b.org.OmniAccept(aw6["Id"].(string)))
	b.poll()
	require.Equal(t, contactpad.TransferCompleted, b.transferOf(tr.ID).Status)
	got = b.byCRM()[cases[0]]
	require.Equal(t, contactpad.Connected, got.Status)
	require.Equal(t, x, got.Owner)
	require.Equal(t, "wants a refund", got.TransferNote)
	require.Empty(t, b.drain())
	require.Equal(t, "Transferred", b.record("AgentWork", aw4["Id"].(string))["Status"])
	require.Equal(t, "Opened", b.record("AgentWork", aw6["Id"].(string))["Status"])
	require.Equal(t, users[x], b.record("Case", cases[0])["OwnerId"])
	require.NotContains(t, b.trailActions(first.ID), contactpad.AuditReassigned, "the bridge handed it over itself")

	// x completes it: the Case closes, and with it the AgentWork.
	b.do(adapter.Release{ID: first.ID, Agent: x})
	if b.byCRM()[cases[0]].Status == contactpad.WrapUp {
		b.do(adapter.FinishWrapUp{ID: first.ID, Agent: x})
	}
	require.Equal(t, contactpad.Completed, b.byCRM()[cases[0]].Status)
	require.Empty(t, b.drain())
	require.Equal(t, "Closed", b.record("Case", cases[0])["Status"])
	closed := b.record("AgentWork", aw6["Id"].(string))
	require.Equal(t, "Closed", closed["Status"])
	require.NotNil(t, closed["CloseDateTime"])
	b.poll()
	require.Equal(t, contactpad.Completed, b.byCRM()[cases[0]].Status)
	require.Len(t, b.org.Records("AgentWork"), 7, "six for the first Case, one for the second")

	// Sam reopens the Case into the queue: a new PSR, which the next offer pushes.
	require.NoError(t, b.org.Edit(samUser, "Case", cases[0], map[string]any{"Status": "New", "OwnerId": queue}))
	again := b.onlyRecord("PendingServiceRouting", "WorkItemId", cases[0])
	b.poll()
	require.Equal(t, contactpad.Offered, b.byCRM()[cases[0]].Status)
	require.Empty(t, b.drain())
	aw7 := b.lastWork(cases[0])
	require.Equal(t, again["Id"], aw7["PendingServiceRoutingId"])
	require.Equal(t, true, b.record("PendingServiceRouting", again["Id"].(string))["IsPushed"])
}

// onlyRecord returns the one live record of object whose field is value.
func (b *bridge) onlyRecord(object, field string, value any) map[string]any {
	b.t.Helper()
	var found []map[string]any
	for _, r := range b.org.Records(object) {
		if r[field] == value {
			found = append(found, r)
		}
	}
	require.Len(b.t, found, 1, "%s with %s = %v", object, field, value)
	return found[0]
}

func (b *bridge) count(object, field string, value any) int {
	n := 0
	for _, r := range b.org.Records(object) {
		if r[field] == value {
			n++
		}
	}
	return n
}

// lastWork returns the newest AgentWork of a work item, which must be Assigned.
func (b *bridge) lastWork(item string) map[string]any {
	b.t.Helper()
	var last map[string]any
	for _, r := range b.org.Records("AgentWork") {
		if r["WorkItemId"] == item {
			last = r
		}
	}
	require.NotNil(b.t, last)
	require.Equal(b.t, "Assigned", last["Status"])
	return last
}

// transferOf reads a transfer from the store.
func (b *bridge) transferOf(id string) *contactpad.Transfer {
	b.t.Helper()
	var tr *contactpad.Transfer
	require.NoError(b.t, b.store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		tr, err = tx.Transfer(id)
		return err
	}))
	return tr
}

// trailActions lists the actions of an interaction's audit trail.
func (b *bridge) trailActions(id string) []contactpad.AuditAction {
	var out []contactpad.AuditAction
	for _, e := range b.trail(id) {
		out = append(out, e.Action)
	}
	return out
}

func (b *bridge) agentPresence(id string) contactpad.Presence {
	b.t.Helper()
	var a *contactpad.Agent
	require.NoError(b.t, b.store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		a, err = tx.Agent(id)
		return err
	}))
	return a.Presence
}

// TestOmniCheck: at start-up, a mapping's omni section must name a queue
// and a service channel the org has.
func TestOmniCheck(t *testing.T) {
	org, client, sample := checkedOrg(t, omniSeed())
	for _, tt := range []struct {
		name, section, want string
	}{
		{name: "by DeveloperName", section: omniSection},
		{name: "by id", section: "    omni: {external_routing: true, queue: " + org.QueueID("Support_Omni") +
			", service_channel: " + org.ServiceChannelID("Cases") + "}\n"},
		{name: "unknown", section: "    omni: {external_routing: true, queue: Nope, service_channel: Cases_Typo}\n",
			want: "mapping.yaml:100: mappings[0].omni.queue: the org has no queue Nope\n" +
				"mapping.yaml:100: mappings[0].omni.service_channel: the org has no service channel Cases_Typo"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path, err := checkMapping(t, client, append(sample, tt.section...))
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, strings.ReplaceAll(tt.want, "mapping.yaml", path), err.Error())
		})
	}
}

// TestFilterCheck: at start-up the org runs each mapping's filter once: a
// filter it refuses (a typo in a field, broken SOQL) is a mismatch at the
// filter's line, not a warning at every poll.
func TestFilterCheck(t *testing.T) {
	_, client, sample := checkedOrg(t, nil)
	const good = "filter: IsClosed = false AND Origin != null"
	require.Contains(t, string(sample), good)
	for _, tt := range []struct{ name, filter, want string }{
		{name: "the sample's", filter: good},
		{name: "a typo in a field", filter: "filter: IsClosed = false AND Orign != null",
			want: "mapping.yaml:7: mappings[0].filter: Salesforce refuses the filter: INVALID_FIELD: "},
		{name: "broken SOQL", filter: "filter: IsClosed = false AND Origin !=",
			want: "mapping.yaml:7: mappings[0].filter: Salesforce refuses the filter: MALFORMED_QUERY: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path, err := checkMapping(t, client, []byte(strings.Replace(string(sample), good, tt.filter, 1)))
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Contains(t, err.Error(), strings.ReplaceAll(tt.want, "mapping.yaml", path))
		})
	}
}

// checkedOrg is a local org seeded with seed, a client signed in to it,
// and the sample Case mapping, for the start-up check's tests.
func checkedOrg(t *testing.T, seed []sim.Record) (*sim.Org, *salesforce.Client, []byte) {
	t.Helper()
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(seed))
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	client, err := salesforce.New(context.Background(), salesforce.Config{LoginURL: srv.URL, Auth: salesforce.AuthClientCredentials,
		ClientID: "ctibridge-local", ClientSecret: "local-secret", Logger: quiet()})
	require.NoError(t, err)
	sample, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mappings", "case.yaml"))
	require.NoError(t, err)
	return org, client, sample
}

// checkMapping writes text as a mapping file, parses it and runs the
// start-up check against the org: the file's path, and nil or the
// *salesforce.MismatchError.
func checkMapping(t *testing.T, client *salesforce.Client, text []byte) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mapping.yaml")
	require.NoError(t, os.WriteFile(path, text, 0o600))
	ms, err := mapping.ParseFile(path)
	require.NoError(t, err)
	err = salesforce.CheckMappings(context.Background(), client, ms)
	if err != nil {
		var mismatch *salesforce.MismatchError
		require.ErrorAs(t, err, &mismatch)
	}
	return path, err
}

// TestOmniAcceptReadBeforeItsAnswer: Omni-Channel makes the agent who
// accepts an AgentWork the Case's owner. The writer's read of the Case
// (here: retrying a cold transfer's Case update that hit a locked row) may
// see that owner before the poll takes in the AgentWork's answer: it is
// the accept on its way, not a reassignment in Salesforce. Nothing is
// offered again, and no second AgentWork waits for bob.
func TestOmniAcceptReadBeforeItsAnswer(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			if st.name == "postgres" {
				pgtest.ServerDSN(t)
			}
			sample, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mappings", "case.yaml"))
			require.NoError(t, err)
			b := startBridgeWith(t, omniSeed(), bridgeOptions{store: st.open, mappings: []string{string(sample) + omniSection}})
			ctx := context.Background()
			b.do(adapter.SetPresence{Agent: "alice", Presence: contactpad.Available})
			id, err := b.org.Create(samUser, "Case", map[string]any{"Subject": "Parcel lost", "Origin": "Web", "Type": "Question",
				"OwnerId": b.org.QueueID("Support_Omni")})
			require.NoError(t, err)
			b.poll()
			require.Empty(t, b.drain())
			i := b.byCRM()[id]
			require.Equal(t, "alice", i.Owner)
			require.NoError(t, b.org.OmniAccept(b.lastWork(id)["Id"].(string)))
			b.poll()
			require.Empty(t, b.drain())
			require.Equal(t, contactpad.Connected, b.byCRM()[id].Status)

			b.do(adapter.SetPresence{Agent: "bob", Presence: contactpad.Available})
			b.do(adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}, Mode: contactpad.Cold})
			b.org.Faults().LockRows(1, id)
			_, err = b.engine.WritebackOnce(ctx, b.sink, b.opts)
			require.NoError(t, err)
			work := b.lastWork(id)
			require.Equal(t, bobUser, work["UserId"], "the AgentWork went, the Case update did not")
			require.NoError(t, b.org.OmniAccept(work["Id"].(string)))
			b.clock.Add(b.opts.RetryMax)
			for range 2 { // the retry reads the Case first; then whatever it left to write
				_, err = b.engine.WritebackOnce(ctx, b.sink, b.opts)
				require.NoError(t, err)
			}
			require.NotContains(t, b.trailActions(i.ID), contactpad.AuditReassigned, "the accept on its way is no reassignment")
			b.poll()
			require.Empty(t, b.drain())
			got := b.byCRM()[id]
			require.Equal(t, contactpad.Connected, got.Status)
			require.Equal(t, "bob", got.Owner)
			for _, w := range b.org.Records("AgentWork") {
				if w["WorkItemId"] == id {
					require.NotEqual(t, "Assigned", w["Status"], "no AgentWork waits for bob: he has the Case")
				}
			}
			require.NotContains(t, b.trailActions(i.ID), contactpad.AuditReassigned)
		})
	}
}
