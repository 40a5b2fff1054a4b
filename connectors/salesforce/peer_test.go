package salesforce_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/mapping"
)

// stores are the stores the bridge runs on in these tests.
var stores = []struct {
	name string
	open func(t *testing.T) adapter.Store
}{
	{"sqlite", func(t *testing.T) adapter.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "bridge.db"))
		require.NoError(t, err)
		return s
	}},
	{"postgres", func(t *testing.T) adapter.Store {
		s, err := postgres.Open(t.Context(), pgtest.DSN(t))
		require.NoError(t, err)
		return s
	}},
}

// threeAgents work the seed: alice (both services), bob (support), carol
// (billing). Sam, the seed's supervisor, is no agent: he works in
// Salesforce.
func threeAgents() []contactpad.Agent {
	capacity := contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 50, contactpad.NonLive: 1000}
	return []contactpad.Agent{
		{ID: "alice", CRMUserID: aliceUser, Services: []string{"support", "billing"}, Capacity: capacity},
		{ID: "bob", CRMUserID: bobUser, Services: []string{"support"}, Capacity: capacity},
		{ID: "carol", CRMUserID: carolUser, Services: []string{"billing"}, Capacity: capacity},
	}
}

// TestPeopleInSalesforce: the CRM is a peer. People in Salesforce work the
// same Cases while agents work them through the bridge, which adopts what
// it finds, follows what they change, and never writes over their work:
// after each step the org and the store agree field by field, no Task is
// written twice, and the bridge changed nothing in the org that the step
// did not ask for. On each store.
func TestPeopleInSalesforce(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			if st.name == "postgres" {
				pgtest.ServerDSN(t)
			}
			peopleInSalesforce(t, st.open)
		})
	}
}

func peopleInSalesforce(t *testing.T, open func(*testing.T) adapter.Store) {
	b := startBridgeWith(t, sim.DefaultSeed(), bridgeOptions{store: open, agents: threeAgents()})
	ctx := context.Background()

	// The org has people's work in it: Working, Escalated and On Hold
	// Cases with owners. The first poll adopts them as they are.
	before := b.snapshot()
	b.poll()
	require.Empty(t, b.drain())
	require.Empty(t, b.snapshot().diff(before), "the first sight writes nothing")
	require.Empty(t, b.auditTasks(), "and creates no Task")
	i := b.byCRM()
	for _, want := range []struct {
		crmID  string
		status contactpad.Status
		owner  string
	}{
		{"500Sd0000000003IAA", contactpad.Connected, "alice"}, // Working, alice's
		{"500Sd000000000EIAQ", contactpad.Connected, "alice"}, // Escalated, alice's
		{"500Sd000000000AIAQ", contactpad.Connected, "carol"}, // Working, carol's
		{"500Sd0000000006IAA", contactpad.Deferred, "bob"},    // On Hold, bob's, no due date
		{"500Sd0000000001IAA", contactpad.Queued, ""},         // New
		{"570Sd0000000004IAA", contactpad.Connected, "alice"}, // a chat in progress with alice
	} {
		require.Equal(t, want.status, i[want.crmID].Status, want.crmID)
		require.Equal(t, want.owner, i[want.crmID].Owner, want.crmID)
	}
	require.Nil(t, i["500Sd0000000006IAA"].DueBy, "on hold with no due date: until someone reopens it")
	b.agree()

	// alice starts work: she takes the new Cases and chats; the Cases she
	// and carol were working already are left as Salesforce has them.
	step := b.snapshot()
	b.do(adapter.SetPresence{Agent: "alice", Presence: contactpad.Available})
	for _, it := range b.interactions() {
		if it.Status == contactpad.Offered {
			b.do(adapter.Accept{ID: it.ID, Agent: "alice"})
		}
	}
	require.Empty(t, b.drain())
	changed := b.snapshot().diff(step)
	for _, id := range []string{"500Sd0000000003IAA", "500Sd000000000EIAQ", "500Sd000000000AIAQ", "500Sd0000000006IAA"} {
		require.NotContains(t, changed, id, "%s: not touched", id)
	}
	require.Equal(t, "Escalated", b.record("Case", "500Sd000000000EIAQ")["Status"])
	c := b.record("Case", "500Sd0000000007IAA")
	require.Equal(t, "Working", c["Status"])
	require.Equal(t, aliceUser, c["OwnerId"])
	require.ElementsMatch(t, []string{"Status", "OwnerId", "Ctibridge_Status__c"}, changed["500Sd0000000007IAA"],
		"accepting writes the status and the owner, and nothing it did not change")
	b.agree()

	sam := func(id string, fields map[string]any) {
		t.Helper()
		require.NoError(t, b.org.Edit(samUser, "Case", id, fields))
	}
	// Sam closes a Case alice works: it ends, alice's capacity is free,
	// and only ctibridge's own field follows.
	load := b.load("alice")
	sam("500Sd0000000007IAA", map[string]any{"Status": "Closed"})
	step = b.snapshot()
	b.poll()
	closed := b.byCRM()["500Sd0000000007IAA"]
	require.Equal(t, contactpad.Completed, closed.Status)
	require.Equal(t, load-1, b.load("alice"))
	last := b.lastAudit(closed.ID)
	require.Equal(t, "Closed in Salesforce by Sam Supervisor", last.Message)
	require.Equal(t, "crm", last.Actor)
	require.Empty(t, b.drain())
	require.Equal(t, map[string][]string{"500Sd0000000007IAA": {"Ctibridge_Status__c"}}, b.snapshot().diff(step))
	require.Equal(t, "completed", b.record("Case", "500Sd0000000007IAA")["Ctibridge_Status__c"])
	b.agree()

	// Sam reopens it: it is alice's work again.
	sam("500Sd0000000007IAA", map[string]any{"Status": "Working"})
	step = b.snapshot()
	b.poll()
	reopened := b.byCRM()["500Sd0000000007IAA"]
	require.Equal(t, contactpad.Connected, reopened.Status)
	require.Equal(t, "alice", reopened.Owner)
	require.Empty(t, b.drain())
	require.Equal(t, map[string][]string{"500Sd0000000007IAA": {"Ctibridge_Status__c"}}, b.snapshot().diff(step))
	b.agree()

	// Sam gives a Case of alice's to bob: bob has it now.
	sam("500Sd0000000008IAA", map[string]any{"OwnerId": bobUser})
	step = b.snapshot()
	b.poll()
	require.Equal(t, "bob", b.byCRM()["500Sd0000000008IAA"].Owner)
	require.Equal(t, "Reassigned in Salesforce by Sam Supervisor to bob", b.lastAudit(b.byCRM()["500Sd0000000008IAA"].ID).Message)
	require.Empty(t, b.drain())
	require.Empty(t, b.snapshot().diff(step), "nothing to write: Salesforce has the owner")
	b.agree()

	// Sam re-triages a Billing Case alice works as a Question: the
	// mapping's service rule reads Type, so the work is support's now.
	// alice keeps it, and there is nothing to write.
	require.Equal(t, "billing", b.byCRM()["500Sd0000000003IAA"].Service)
	sam("500Sd0000000003IAA", map[string]any{"Type": "Question"})
	step = b.snapshot()
	b.poll()
	retyped := b.byCRM()["500Sd0000000003IAA"]
	require.Equal(t, "support", retyped.Service)
	require.Equal(t, contactpad.Connected, retyped.Status)
	require.Equal(t, "alice", retyped.Owner)
	require.Equal(t, "Moved to service support: changed in Salesforce by Sam Supervisor", b.lastAudit(retyped.ID).Message)
	require.Empty(t, b.drain())
	require.Empty(t, b.snapshot().diff(step))
	b.agree()

	// alice defers a Case; Sam moves its due date a day on.
	deferred := b.byCRM()["500Sd0000000009IAA"]
	due := b.clock.Now().Add(24 * time.Hour).Truncate(time.Second)
	b.do(adapter.Defer{ID: deferred.ID, Agent: "alice", DueBy: &due})
	require.Empty(t, b.drain())
	c = b.record("Case", "500Sd0000000009IAA")
	require.Equal(t, "On Hold", c["Status"])
	require.Equal(t, true, c["IsStopped"], "the entitlement clock stops while deferred")
	require.NotNil(t, c["StopStartDate"])
	later := due.Add(24 * time.Hour).UTC()
	sam("500Sd0000000009IAA", map[string]any{"Ctibridge_Due_By__c": later.Format(time.RFC3339)})
	step = b.snapshot()
	b.poll()
	deferred = b.byCRM()["500Sd0000000009IAA"]
	require.True(t, later.Equal(*deferred.DueBy), "the deferral follows the due date set in Salesforce")
	require.Equal(t, []time.Time{later}, b.dueTimers(deferred.ID), "and its timer")
	require.Empty(t, b.drain())
	require.Empty(t, b.snapshot().diff(step))
	b.agree()

	// Both sides change the status of one Case: alice defers it while Sam
	// escalates it. Salesforce wins Status (the mapping says so); the
	// rest of the deferral is written.
	both := b.byCRM()["500Sd000000000BIAQ"]
	b.do(adapter.Defer{ID: both.ID, Agent: "alice", DueBy: &due})
	sam("500Sd000000000BIAQ", map[string]any{"Status": "Escalated"})
	step = b.snapshot()
	b.poll()
	trail := b.trail(both.ID)
	conflict := trail[len(trail)-1]
	require.Equal(t, contactpad.AuditConflict, conflict.Action)
	require.Equal(t, map[string]string{"field": "Status", "crm_value": "Escalated", "bridge_value": "On Hold", "winner": "crm"},
		conflict.Data)
	require.Empty(t, b.drain())
	require.ElementsMatch(t, []string{"Ctibridge_Due_By__c", "Ctibridge_Due_By_Set_Manually__c", "Ctibridge_Status__c", "IsStopped",
		"StopStartDate"}, b.snapshot().diff(step)["500Sd000000000BIAQ"])
	require.Equal(t, "Escalated", b.record("Case", "500Sd000000000BIAQ")["Status"], "Sam's status stays")
	require.Equal(t, contactpad.Deferred, b.byCRM()["500Sd000000000BIAQ"].Status)
	b.agree()

	// Sam takes a Case out of the mapping's filter: its work ends, and
	// Salesforce's own fields stay as Sam left them.
	sam("500Sd000000000CIAQ", map[string]any{"Origin": nil})
	step = b.snapshot()
	b.poll()
	gone := b.byCRM()["500Sd000000000CIAQ"]
	require.Equal(t, contactpad.Completed, gone.Status)
	require.Equal(t, "No longer matches the mapping's filter in Salesforce (last changed by Sam Supervisor)", b.lastAudit(gone.ID).Message)
	require.Empty(t, b.drain())
	require.Equal(t, map[string][]string{"500Sd000000000CIAQ": {"Ctibridge_Status__c"}}, b.snapshot().diff(step))
	require.Equal(t, "Working", b.record("Case", "500Sd000000000CIAQ")["Status"], "not closed by the bridge")
	b.agree()

	// The bridge's own writes coming back change nothing.
	versions := map[string]int64{}
	for _, it := range b.interactions() {
		versions[it.ID] = it.Version
	}
	step = b.snapshot()
	b.poll()
	for _, it := range b.interactions() {
		require.Equal(t, versions[it.ID], it.Version, it.CRMID)
	}
	require.Empty(t, b.drain())
	require.Empty(t, b.snapshot().diff(step))

	// Every Task once, one per audit entry the bridge made that the
	// mapping's audit section records.
	tasks := b.auditTasks()
	entries := 0
	for _, it := range b.interactions() {
		for _, e := range b.trail(it.ID) {
			rec, err := b.mapping(it.CRMObject).Audit(contactpad.RecordChange{Audit: &e}, it.CRMID)
			require.NoError(t, err)
			if e.Action == "adopted" || e.Actor == "crm" || rec == nil {
				require.Zero(t, tasks[e.ID], "no Task for %s of %s", e.Action, it.CRMID)
				continue
			}
			entries++
			require.Equal(t, 1, tasks[e.ID], "%s of %s", e.Action, it.CRMID)
		}
	}
	require.Len(t, tasks, entries)
	require.Empty(t, b.org.UnchangedWrites("Case"), "no field written with the value it held")
	require.Empty(t, b.org.UnchangedWrites("LiveChatTranscript"))
	_ = ctx
}

// TestBridgeWinsConflict: where the mapping says so, the bridge's value
// of a field both sides changed is written over the CRM's.
func TestBridgeWinsConflict(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			if st.name == "postgres" {
				pgtest.ServerDSN(t)
			}
			b := startBridgeWith(t, sim.DefaultSeed(), bridgeOptions{store: st.open, agents: threeAgents(), mappings: []string{`
mappings:
  - object: Case
    filter: IsClosed = false AND Origin != null
    media: non-live
    service: support
    sync: {conflicts: {default: crm, Status: bridge}}
    writeback:
      status: {field: Status, values: {queued: New, offered: New, connected: Working, wrap_up: Working, deferred: On Hold, completed: Closed}}
      owner: OwnerId
`}})
			b.poll()
			b.do(adapter.SetPresence{Agent: "bob", Presence: contactpad.Available})
			require.Empty(t, b.drain())
			i := b.byCRM()["500Sd0000000007IAA"]
			require.Equal(t, "bob", i.Owner)
			due := b.clock.Now().Add(time.Hour)
			b.do(adapter.Defer{ID: i.ID, Agent: "bob", DueBy: &due})
			require.NoError(t, b.org.Edit(samUser, "Case", i.CRMID, map[string]any{"Status": "Escalated"}))
			b.poll()
			conflict := b.lastAudit(i.ID)
			require.Equal(t, contactpad.AuditConflict, conflict.Action)
			require.Equal(t, "bridge", conflict.Data["winner"])
			require.Empty(t, b.drain())
			require.Equal(t, "On Hold", b.record("Case", i.CRMID)["Status"], "the bridge's value, over Sam's")
			b.agree()
		})
	}
}

// TestChangedBeforeWrite: people change a Case in Salesforce after an
// agent's action and before the bridge writes it (it waits to fill a
// call, and polls later). The bridge reads the Cases it is about to write
// first, so Sam's work stays: a Case he closed is not put back On Hold,
// and one he gave to bob stays bob's, deferred as alice left it. Against the local
// org over HTTP, on each store, with no poll in between.
func TestChangedBeforeWrite(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			if st.name == "postgres" {
				pgtest.ServerDSN(t)
			}
			b := aliceAtWork(t, st.open)
			b.agree()

			closed, given := b.byCRM()["500Sd0000000007IAA"], b.byCRM()["500Sd0000000008IAA"]
			require.Equal(t, "alice", closed.Owner)
			require.Equal(t, "alice", given.Owner)
			due := b.clock.Now().Add(24 * time.Hour)
			b.do(adapter.Defer{ID: closed.ID, Agent: "alice", DueBy: &due})
			b.do(adapter.Defer{ID: given.ID, Agent: "alice", DueBy: &due})
			require.NoError(t, b.org.Edit(samUser, "Case", closed.CRMID, map[string]any{"Status": "Closed"}))
			require.NoError(t, b.org.Edit(samUser, "Case", given.CRMID, map[string]any{"OwnerId": bobUser}))
			step, calls := b.snapshot(), b.org.Calls()
			require.Empty(t, b.drain())

			require.Equal(t, "Closed", b.record("Case", closed.CRMID)["Status"], "Sam's Closed stays")
			require.Equal(t, bobUser, b.record("Case", given.CRMID)["OwnerId"], "and so does his owner")
			written := b.snapshot().diff(step)
			require.Equal(t, []string{"Ctibridge_Due_By_Set_Manually__c", "Ctibridge_Status__c"}, written[closed.CRMID],
				"only the bridge's own fields are written to the closed Case")
			require.NotContains(t, written[given.CRMID], "OwnerId")
			require.Equal(t, "On Hold", b.record("Case", given.CRMID)["Status"], "alice's deferral is written to bob's Case")
			require.Equal(t, calls[sim.CallCompositeQuery]+1, b.org.Calls()[sim.CallCompositeQuery],
				"one read before the write, of both Cases, the one that left the mapping's filter (closed) included")

			ended := b.byCRM()[closed.CRMID]
			require.Equal(t, contactpad.Completed, ended.Status, "its deferral ends")
			trail := b.trail(ended.ID)
			require.Equal(t, map[string]string{"field": "Status", "crm_value": "Closed", "bridge_value": "On Hold", "winner": "crm"},
				trail[len(trail)-2].Data)
			require.Equal(t, "Closed in Salesforce by Sam Supervisor", trail[len(trail)-1].Message)
			bobs := b.byCRM()[given.CRMID]
			require.Equal(t, "bob", bobs.Owner)
			require.Equal(t, contactpad.Deferred, bobs.Status)
			require.Equal(t, "Reassigned in Salesforce by Sam Supervisor to bob", b.lastAudit(bobs.ID).Message)
			b.agree()

			// The poll that comes later reads the same changes, and
			// changes nothing.
			versions := map[string]int64{}
			for _, it := range b.interactions() {
				versions[it.ID] = it.Version
			}
			b.poll()
			for _, it := range b.interactions() {
				require.Equal(t, versions[it.ID], it.Version, it.CRMID)
			}
			require.Empty(t, b.drain())
		})
	}
}

// TestReadBeforeWriteChangesNothingItShouldNot: the writer's read of a
// record nobody changed since the bridge last read it takes in nothing,
// as a poll would not read it at all. A customer's reply that reopened a
// deferred Case does not reopen it a second time after alice deferred it
// again; a Case the bridge closed itself and alice resumed stays hers.
func TestReadBeforeWriteChangesNothingItShouldNot(t *testing.T) {
	start := func(t *testing.T) (*bridge, *contactpad.Interaction) {
		b := aliceAtWork(t, nil)
		return b, b.byCRM()["500Sd0000000007IAA"]
	}
	t.Run("a customer's reply, read again", func(t *testing.T) {
		b, i := start(t)
		due := b.clock.Now().Add(24 * time.Hour)
		b.do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: &due})
		require.Empty(t, b.drain())
		// The customer writes; a flow sets the Case back to New.
		require.NoError(t, b.org.Edit(samUser, "Case", i.CRMID, map[string]any{"Status": "New"}))
		b.poll()
		reopened := b.byCRM()[i.CRMID]
		require.Equal(t, contactpad.ReopenCustomerReply, reopened.ReopenReason)
		if reopened.Status == contactpad.Offered {
			b.do(adapter.Accept{ID: reopened.ID, Agent: "alice"})
		}
		later := b.clock.Now().Add(48 * time.Hour)
		b.do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: &later}) // before the writer's call
		require.Empty(t, b.drain())
		again := b.byCRM()[i.CRMID]
		require.Equal(t, contactpad.Deferred, again.Status, "no new reply came")
		require.Equal(t, "On Hold", b.record("Case", i.CRMID)["Status"])
		b.agree()
	})
	t.Run("closed by the bridge, then resumed", func(t *testing.T) {
		b, i := start(t)
		b.do(adapter.Release{ID: i.ID, Agent: "alice"})
		b.do(adapter.FinishWrapUp{ID: i.ID, Agent: "alice"})
		require.Empty(t, b.drain())
		require.Equal(t, "Closed", b.record("Case", i.CRMID)["Status"])
		b.do(adapter.Resume{ID: i.ID, Agent: "alice"})
		resumed := b.byCRM()[i.CRMID].Status
		require.Empty(t, b.drain())
		require.Equal(t, resumed, b.byCRM()[i.CRMID].Status)
		require.Equal(t, "Working", b.record("Case", i.CRMID)["Status"])
		b.poll()
		require.Equal(t, resumed, b.byCRM()[i.CRMID].Status)
		b.agree()
	})
}

// aliceAtWork is the bridge on the seed, on the store open opens (nil: a
// SQLite file), with alice Available: she has accepted what was offered,
// and it is written back.
func aliceAtWork(t *testing.T, open func(*testing.T) adapter.Store) *bridge {
	t.Helper()
	b := startBridgeWith(t, sim.DefaultSeed(), bridgeOptions{store: open, agents: threeAgents()})
	b.poll()
	b.do(adapter.SetPresence{Agent: "alice", Presence: contactpad.Available})
	for _, it := range b.interactions() {
		if it.Status == contactpad.Offered {
			b.do(adapter.Accept{ID: it.ID, Agent: "alice"})
		}
	}
	require.Empty(t, b.drain())
	return b
}

// TestPreviewIsRun: ctibridge mapping preview and the running bridge write
// the same fields for the same story, step by step.
func TestPreviewIsRun(t *testing.T) {
	offers := func(s *adapter.Settings) { s.AutoAccept[contactpad.NonLive] = false }
	b := startBridgeWith(t, sim.DefaultSeed(), bridgeOptions{agents: threeAgents(), tweak: offers})
	const crmID = "500Sd0000000007IAA" // New, support, owned by no agent
	m := b.mapping("Case")
	record := b.record("Case", crmID)
	record["attributes"] = map[string]any{"type": "Case"}
	now := b.clock.Now()
	preview, err := m.Preview(record, now, threeAgents()[:1], nil)
	require.NoError(t, err)

	// written drains the outbox and returns the mirrored fields of the
	// record the bridge changed, with their values.
	written := func() map[string]any {
		t.Helper()
		before := b.snapshot()
		require.Empty(t, b.drain())
		after := b.snapshot()
		mirrored := m.Observe(after[crmID])
		var out map[string]any
		for _, f := range after.diff(before)[crmID] {
			if _, ok := mirrored[f]; ok {
				if out == nil {
					out = map[string]any{}
				}
				out[f] = mirrored[f]
			}
		}
		return out
	}
	fire := func(kind adapter.TimerKind, id string) {
		t.Helper()
		var due []adapter.Timer
		require.NoError(t, b.store.View(context.Background(), func(tx adapter.Tx) error {
			var err error
			due, err = tx.DueTimers(time.Now().Add(365*24*time.Hour), 100000)
			return err
		}))
		for _, tm := range due {
			if tm.Kind == kind && tm.Ref == id {
				b.clock.Add(tm.DueAt.Sub(b.clock.Now()))
				b.do(adapter.FireTimer{Timer: tm})
				return
			}
		}
		t.Fatalf("no %s timer of %s", kind, id)
	}
	due := now.Add(24 * time.Hour)
	var id string
	steps := []func(){
		func() { b.poll(); id = b.byCRM()[crmID].ID },
		func() { b.do(adapter.SetPresence{Agent: "alice", Presence: contactpad.Available}) },
		func() { b.do(adapter.Accept{ID: id, Agent: "alice"}) },
		func() { b.do(adapter.Defer{ID: id, Agent: "alice", DueBy: &due}) },
		func() { fire(adapter.TimerDueDate, id) },
		func() { b.do(adapter.Release{ID: id, Agent: "alice"}) },
		func() { fire(adapter.TimerWrapUpEnd, id) },
		func() { b.do(adapter.Resume{ID: id, Agent: "alice"}) },
	}
	require.Len(t, preview.Changes, len(steps))
	for k, step := range steps {
		step()
		require.Equal(t, preview.Changes[k].Update, written(), "step %d: %s", k, preview.Changes[k].Name)
	}
}

// snapshot is what the org's Cases and chats show, field by field.
type snapshot map[string]map[string]any

// system fields the org maintains on every write.
var systemFields = []string{"LastModifiedDate", "LastModifiedById", "SystemModstamp"}

func (b *bridge) snapshot() snapshot {
	out := snapshot{}
	for _, object := range []string{"Case", "LiveChatTranscript"} {
		for _, r := range b.org.Records(object) {
			out[r["Id"].(string)] = r
		}
	}
	return out
}

// diff lists, by record, the fields that differ from before.
func (s snapshot) diff(before snapshot) map[string][]string {
	out := map[string][]string{}
	for id, rec := range s {
		old := before[id]
		for f, v := range rec {
			if slices.Contains(systemFields, f) {
				continue
			}
			if !contactpad.SameValue(mapping.CanonicalValue(v), mapping.CanonicalValue(old[f])) {
				out[id] = append(out[id], f)
			}
		}
		slices.Sort(out[id])
	}
	return out
}

// agree checks that the store knows what the org holds of every mirrored
// field, and has nothing left to write.
func (b *bridge) agree() {
	b.t.Helper()
	for _, i := range b.interactions() {
		shown := b.mapping(i.CRMObject).Observe(b.record(i.CRMObject, i.CRMID))
		for f, v := range shown {
			require.True(b.t, contactpad.SameValue(v, i.Sync.Known[f]), "%s %s: the org has %v, the store knows %v",
				i.CRMID, f, v, i.Sync.Known[f])
		}
		require.Nil(b.t, i.Sync.Writes(), "%s: nothing left to write", i.CRMID)
	}
}

// mapping returns the bridge's mapping of object.
func (b *bridge) mapping(object string) *mapping.Mapping {
	b.t.Helper()
	m := mapping.Find(b.mappings, object)
	require.NotNil(b.t, m, "a mapping of %s", object)
	return m
}

func (b *bridge) byCRM() map[string]*contactpad.Interaction {
	out := map[string]*contactpad.Interaction{}
	for _, i := range b.interactions() {
		out[i.CRMID] = i
	}
	return out
}

func (b *bridge) trail(id string) []contactpad.AuditEntry {
	b.t.Helper()
	var out []contactpad.AuditEntry
	require.NoError(b.t, b.store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		out, err = tx.Audit(id)
		return err
	}))
	return out
}

func (b *bridge) lastAudit(id string) contactpad.AuditEntry {
	trail := b.trail(id)
	return trail[len(trail)-1]
}

func (b *bridge) load(agent string) int {
	b.t.Helper()
	var load contactpad.Capacity
	require.NoError(b.t, b.store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		load, err = tx.Load(agent)
		return err
	}))
	return load[contactpad.NonLive]
}

func (b *bridge) dueTimers(id string) []time.Time {
	b.t.Helper()
	var out []time.Time
	require.NoError(b.t, b.store.View(context.Background(), func(tx adapter.Tx) error {
		timers, err := tx.DueTimers(time.Now().Add(365*24*time.Hour), 100000)
		for _, tm := range timers {
			if tm.Kind == adapter.TimerDueDate && tm.Ref == id {
				out = append(out, tm.DueAt.UTC())
			}
		}
		return err
	}))
	return out
}
