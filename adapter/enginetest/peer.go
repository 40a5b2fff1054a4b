package enginetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

// The tests of this file play the CRM with adapter.WritebackMirror: a
// record's mirrored fields are named like the Writeback's JSON fields.

// The CRM user ids of the suite's agents (Settings).
const (
	aliceUser = "005000000000001AAA"
	bobUser   = "005000000000002AAA"
	carolUser = "005000000000003AAA"
)

// shows is what a record shows of its mirrored fields.
type shows map[string]any

// policyMirror is WritebackMirror with another policy.
type policyMirror struct {
	adapter.WritebackMirror
	policy contactpad.PeerPolicy
}

func (m policyMirror) Policy() contactpad.PeerPolicy { return m.policy }

// withPolicy makes the suite's Case records follow p.
func withPolicy(p contactpad.PeerPolicy) func(*adapter.Settings) {
	return func(s *adapter.Settings) {
		s.Mirrors = map[string]adapter.Mirror{"Case": policyMirror{policy: p}}
		s.CRMName = "Salesforce"
	}
}

// record is the work item of a new record that shows fields.
func (h *Harness) record(media contactpad.Media, service string, fields shows) contactpad.WorkItem {
	h.seq++
	return contactpad.WorkItem{CRMID: fmt.Sprintf("500%015d", h.seq), CRMObject: "Case", Media: media, Service: service,
		Subject: fmt.Sprintf("Case %d", h.seq), CRM: &contactpad.RecordState{Fields: fields}}
}

// newRecord is what a new record of service shows: every mirrored field,
// as a poll reads them.
func newRecord(service string) shows {
	return shows{"status": "queued", "owner_crm_user_id": "005QUEUE", "service": service, "due_by": nil,
		"due_by_was_set_manually": false, "auto_opened_due_to_due_date": false, "resumed_from": nil}
}

// seen is the work item of i's record as a poll reads it after by changed
// it to show fields.
func seen(i *contactpad.Interaction, by string, fields shows) contactpad.WorkItem {
	return contactpad.WorkItem{CRMID: i.CRMID, CRMObject: i.CRMObject, Media: i.Media, Service: i.Service,
		Subject: i.Subject, Priority: i.Priority, Tags: i.Tags, Category: i.Category,
		CRM: &contactpad.RecordState{Fields: fields, ChangedBy: by}}
}

// worked is a new record of media that waited in the queue until agent
// took it, with every write back accepted: the CRM shows what the bridge
// wants.
func (h *Harness) worked(agent string, media contactpad.Media) *contactpad.Interaction {
	h.T.Helper()
	h.Presence(agent, contactpad.Available)
	service := "support"
	if agent == "carol" {
		service = "billing"
	}
	i := h.IngestItem(h.record(media, service, newRecord(service)))
	require.Equal(h.T, agent, i.Owner)
	if i.Status == contactpad.Offered {
		h.Do(adapter.Accept{ID: i.ID, Agent: agent})
	}
	h.writeBack()
	return h.Get(i.ID)
}

// writeBack writes the outbox to a CRM that accepts everything, until it
// is empty, and returns what each record was sent.
func (h *Harness) writeBack() map[string][]map[string]any {
	h.T.Helper()
	sink := &fieldSink{sent: map[string][]map[string]any{}}
	for {
		n, err := h.Engine.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(h.T, err)
		if n == 0 {
			return sink.sent
		}
	}
}

// fieldSink accepts every row and keeps the fields each record was sent.
type fieldSink struct {
	sent map[string][]map[string]any
}

func (s *fieldSink) Write(_ context.Context, rows []adapter.OutboxRow) []error {
	for _, r := range rows {
		var change contactpad.RecordChange
		if err := json.Unmarshal(r.Payload, &change); err == nil && change.Fields != nil {
			s.sent[r.CRMID] = append(s.sent[r.CRMID], change.Fields)
		}
	}
	return make([]error, len(rows))
}

// testAdopt: the first sight of a record takes the state the CRM shows and
// writes nothing back.
func testAdopt(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		working := h.IngestItem(h.record(contactpad.NonLive, "support", shows{"status": "connected", "owner_crm_user_id": aliceUser}))
		require.Equal(t, contactpad.Connected, working.Status, "worked by alice in the CRM")
		require.Equal(t, "alice", working.Owner)
		require.Equal(t, 1, h.Load("alice")[contactpad.NonLive], "it is alice's load")
		trail := h.Audit(working.ID)
		require.Equal(t, []string{"adopted"}, actions(trail))
		require.Contains(t, trail[0].Message, "connected, owned by alice")

		waiting := h.IngestItem(h.record(contactpad.NonLive, "support", shows{"status": "queued", "owner_crm_user_id": bobUser}))
		require.Equal(t, contactpad.Queued, waiting.Status)
		require.Equal(t, "bob", waiting.TargetAgent, "new work of bob's waits for bob")

		due := time.Now().Add(time.Hour).UTC()
		onHold := h.IngestItem(h.record(contactpad.NonLive, "billing", shows{"status": "deferred",
			"owner_crm_user_id": carolUser, "due_by": due.Format(time.RFC3339Nano)}))
		require.Equal(t, contactpad.Deferred, onHold.Status)
		require.Equal(t, "carol", onHold.Owner)
		require.True(t, due.Equal(*onHold.DueBy), "the due date the record shows")
		require.True(t, onHold.DueBySetManually, "set by an agent: the record does not say otherwise")
		byRule := h.IngestItem(h.record(contactpad.NonLive, "billing", shows{"status": "deferred",
			"owner_crm_user_id": carolUser, "due_by": due.Format(time.RFC3339Nano), "due_by_was_set_manually": false}))
		require.Equal(t, contactpad.Deferred, byRule.Status)
		require.False(t, byRule.DueBySetManually, "set by a rule, as the record says")

		// A live call is never deferred: on hold in the CRM, it is adopted
		// as the open work it is, which its agent can go on with.
		call := h.IngestItem(h.record(contactpad.Live, "support", shows{"status": "deferred", "owner_crm_user_id": aliceUser}))
		require.Equal(t, contactpad.Connected, call.Status)
		require.Equal(t, "alice", call.Owner)
		require.Contains(t, h.LastAudit(call.ID).Message, "on hold there, but live interactions are not deferred")

		odd := h.IngestItem(h.record(contactpad.NonLive, "support", shows{"status": "escalated", "owner_crm_user_id": bobUser}))
		require.Equal(t, contactpad.Connected, odd.Status, "a status the mapping does not know, worked by bob")
		require.Equal(t, "bob", odd.Owner)

		closed := h.IngestItem(h.record(contactpad.NonLive, "support", shows{"status": "completed", "owner_crm_user_id": "005OTHER"}))
		require.Equal(t, contactpad.Completed, closed.Status)
		require.Empty(t, closed.Owner, "no agent of ours")

		plain := h.Ingest(contactpad.NonLive, "support")
		require.Equal(t, contactpad.Queued, plain.Status, "a record that shows nothing is new work")

		require.Empty(t, h.Outbox(), "nothing is written back on first sight")
		require.Empty(t, h.writeBack())
		require.Equal(t, contactpad.WrapUp, h.Do(adapter.Release{ID: call.ID, Agent: "alice"}).Interaction.Status)

		h.Presence("bob", contactpad.Available)
		require.Equal(t, "bob", h.Get(waiting.ID).Owner, "bob gets the work reserved for him")
		time.Sleep(time.Hour + slack)
		synctest.Wait()
		reopened := h.Get(onHold.ID)
		require.Equal(t, contactpad.Queued, reopened.Status, "reopened at the due date it showed (carol is logged out)")
		require.True(t, reopened.AutoOpenedDueToDueDate)
		require.Nil(t, reopened.DueBy, "no due date once reopened")
	})
}

// testResetPolicy: with first_sight reset, a record is new work whatever
// it shows, and the bridge's state is written over it.
func testResetPolicy(t *testing.T, open Opener) {
	bubble(t, open, withPolicy(contactpad.PeerPolicy{FirstSight: contactpad.Reset}), func(h *Harness) {
		i := h.IngestItem(h.record(contactpad.NonLive, "support", shows{"status": "connected", "owner_crm_user_id": aliceUser,
			"service": "support", "due_by": nil}))
		require.Equal(t, contactpad.Queued, i.Status)
		require.Empty(t, i.Owner)
		require.Equal(t, []string{"created"}, actions(h.Audit(i.ID)))
		rows := h.Outbox()
		require.Len(t, rows, 1)
		change := decodeChange(t, rows[0])
		require.Equal(t, contactpad.AuditCreated, change.Audit.Action, "the creation goes to the CRM's audit trail")
		require.Equal(t, map[string]any{"status": "queued", "due_by_was_set_manually": false,
			"auto_opened_due_to_due_date": false, "resumed_from": nil}, change.Fields,
			"what differs from the record: not the service and due date it holds already, no owner while queued")
	})
}

// testClosedInCRM: a record closed in the CRM, or filtered out of its
// mapping, ends its interaction as the mapping says, frees the agent and
// stops its transfers, with an audit entry naming who closed it.
func testClosedInCRM(t *testing.T, open Opener) {
	bubble(t, open, withPolicy(contactpad.PeerPolicy{}), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		h.Presence("bob", contactpad.Available)
		h.Do(adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}, Mode: contactpad.Warm, Note: "n"})
		rows := len(h.Outbox())
		h.Do(adapter.Ingest{Item: seen(i, "Sam Supervisor", shows{"status": "completed", "owner_crm_user_id": aliceUser})})
		closed := h.Get(i.ID)
		require.Equal(t, contactpad.Completed, closed.Status)
		require.Zero(t, h.Load("alice")[contactpad.NonLive], "alice's capacity is free")
		require.Zero(t, h.Load("bob")[contactpad.NonLive], "the transfer stopped")
		last := h.LastAudit(i.ID)
		require.Equal(t, contactpad.AuditClosed, last.Action)
		require.Equal(t, "crm", last.Actor)
		require.Equal(t, "Closed in Salesforce by Sam Supervisor", last.Message)
		require.Len(t, h.Outbox(), rows+1, "only the transfer's cancellation goes to the CRM: it knows it closed the record")
		require.Empty(t, h.writeBack()[i.CRMID], "nothing to write: the record shows what the bridge has")

		h.Presence("bob", contactpad.Busy)
		j := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Ingest{Item: contactpad.WorkItem{CRMID: j.CRMID, CRMObject: "Case", Unmatched: true,
			CRM: &contactpad.RecordState{Fields: shows{"status": "connected", "owner_crm_user_id": aliceUser}, ChangedBy: "Sam Supervisor"}}})
		require.Equal(t, contactpad.Completed, h.Get(j.ID).Status)
		require.Equal(t, "No longer matches the mapping's filter in Salesforce (last changed by Sam Supervisor)", h.LastAudit(j.ID).Message)

		// Completed, written back, resumed: a poll that now finds the
		// record out of the filter sees the bridge's own write of it.
		h.Presence("alice", contactpad.Available)
		k := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Release{ID: k.ID, Agent: "alice"})
		h.Do(adapter.FinishWrapUp{ID: k.ID, Agent: "alice"})
		h.writeBack()
		h.Do(adapter.Resume{ID: k.ID, Agent: "alice"})
		h.Do(adapter.Ingest{Item: contactpad.WorkItem{CRMID: k.CRMID, CRMObject: "Case", Unmatched: true,
			CRM: &contactpad.RecordState{Fields: shows(h.Get(k.ID).Sync.Known), ChangedBy: "Integration User"}}})
		require.Equal(t, contactpad.Connected, h.Get(k.ID).Status, "not closed by its own write")
		require.Equal(t, "connected", h.writeBack()[k.CRMID][0]["status"], "the resumed status is written")

		h.Do(adapter.Ingest{Item: contactpad.WorkItem{CRMID: "500NEVER", CRMObject: "Case", Unmatched: true}})
		require.Empty(t, h.Interactions(adapter.InteractionFilter{Statuses: []contactpad.Status{contactpad.Queued}}),
			"a record that never matched is not work")
	})
	bubble(t, open, withPolicy(contactpad.PeerPolicy{Closed: contactpad.CloseAbandons}), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Ingest{Item: seen(i, "Sam", shows{"status": "completed"})})
		require.Equal(t, contactpad.Abandoned, h.Get(i.ID).Status, "closed: abandon, as the mapping says")
	})
}

// testReopenedInCRM: an ended interaction whose record is reopened in the
// CRM goes back to routing, for the record's owner when that is an agent;
// a deferred one whose record is reopened there reopens.
func testReopenedInCRM(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
		h.Do(adapter.FinishWrapUp{ID: i.ID, Agent: "alice"})
		h.writeBack()
		h.Do(adapter.Ingest{Item: seen(i, "Sam", shows{"status": "queued", "owner_crm_user_id": aliceUser})})
		reopened := h.Get(i.ID)
		require.Equal(t, contactpad.Connected, reopened.Status, "back in routing, reserved for alice, who takes it")
		require.Equal(t, "alice", reopened.Owner)
		require.Contains(t, actions(h.Audit(i.ID)), "reopened")
		require.Equal(t, contactpad.ReopenCRM, reopened.ReopenReason, "as when it is reopened from Deferred")

		d := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Defer{ID: d.ID, Agent: "alice", DueBy: in(24 * time.Hour)})
		h.writeBack()
		h.Do(adapter.Ingest{Item: seen(d, "Sam", shows{"status": "connected"})})
		d = h.Get(d.ID)
		require.Equal(t, contactpad.Connected, d.Status, "reopened before its due date")
		require.Equal(t, contactpad.ReopenCRM, d.ReopenReason)
		require.Equal(t, "Reopened in the CRM by Sam into alice's Ongoing folder", h.LastAudit(d.ID).Message)
		require.Empty(t, dueTimers(h))
	})
}

// testOwnerChangedInCRM: an owner changed in the CRM to an agent's user
// reassigns the work, unless the mapping ignores owner changes; an owner
// who is no agent changes nothing.
func testOwnerChangedInCRM(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Ingest{Item: seen(i, "Sam", shows{"owner_crm_user_id": bobUser})})
		moved := h.Get(i.ID)
		require.Equal(t, "bob", moved.Owner)
		require.Equal(t, contactpad.Connected, moved.Status)
		require.Zero(t, h.Load("alice")[contactpad.NonLive])
		require.Equal(t, 1, h.Load("bob")[contactpad.NonLive])
		require.Equal(t, "Reassigned in the CRM by Sam to bob", h.LastAudit(i.ID).Message)
		require.Empty(t, h.writeBack()[i.CRMID], "the CRM holds the owner already")

		h.Do(adapter.Ingest{Item: seen(moved, "Sam", shows{"owner_crm_user_id": "005NOTANAGENT"})})
		require.Equal(t, "bob", h.Get(i.ID).Owner, "no agent has that user")
		require.Equal(t, contactpad.AuditOwnerChangeIgnored, h.LastAudit(i.ID).Action)

		h.Presence("alice", contactpad.Busy)
		queued := h.IngestItem(h.record(contactpad.NonLive, "billing", newRecord("billing")))
		h.Do(adapter.Ingest{Item: seen(queued, "Sam", shows{"owner_crm_user_id": carolUser})})
		require.Equal(t, "carol", h.Get(queued.ID).TargetAgent, "queued work waits for its new owner")
	})
	bubble(t, open, withPolicy(contactpad.PeerPolicy{OwnerChanged: contactpad.OwnerIgnored}), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Ingest{Item: seen(i, "Sam", shows{"owner_crm_user_id": bobUser})})
		require.Equal(t, "alice", h.Get(i.ID).Owner, "the mapping ignores owner changes")
		require.Equal(t, contactpad.AuditOwnerChangeIgnored, h.LastAudit(i.ID).Action)
	})
}

// testServiceChangedInCRM: a record whose service rule gives another
// service, because someone changed what it reads (a Case's Type), moves
// there: queued work to the new service's queue and its agents, an offer
// out when declined, and work an agent holds stays theirs. A service the
// bridge gave the work itself is not undone by a read that shows what the
// rule gave before.
func testServiceChangedInCRM(t *testing.T, open Opener) {
	retyped := func(i *contactpad.Interaction, service string) adapter.Ingest {
		item := seen(i, "Sam", shows{})
		item.Service = service
		return adapter.Ingest{Item: item}
	}
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("carol", contactpad.Available)
		queued := h.IngestItem(h.record(contactpad.NonLive, "support", newRecord("support")))
		require.Equal(t, contactpad.Queued, queued.Status, "carol does not serve support")

		h.Do(retyped(queued, "billing"))
		moved := h.Get(queued.ID)
		require.Equal(t, "billing", moved.Service)
		require.Equal(t, contactpad.Connected, moved.Status, "given to billing's agent at once")
		require.Equal(t, "carol", moved.Owner)
		var entry *contactpad.AuditEntry
		for _, e := range h.Audit(queued.ID) {
			if e.Action == contactpad.AuditServiceChanged {
				entry = &e
			}
		}
		require.NotNil(t, entry, "audited")
		require.Equal(t, contactpad.ActorCRM, entry.Actor)
		require.Equal(t, "Moved to service billing: changed in the CRM by Sam", entry.Message)
		require.Equal(t, map[string]string{"from": "support", "to": "billing"}, entry.Data)

		version := moved.Version
		h.Do(retyped(moved, "billing"))
		require.Equal(t, version, h.Get(queued.ID).Version, "read again, the same service: no change")

		held := h.worked("alice", contactpad.NonLive)
		h.Do(retyped(held, "billing"))
		kept := h.Get(held.ID)
		require.Equal(t, "billing", kept.Service)
		require.Equal(t, contactpad.Connected, kept.Status, "alice keeps the work she holds")
		require.Equal(t, "alice", kept.Owner)
		require.Equal(t, contactpad.AuditServiceChanged, h.LastAudit(held.ID).Action)

		_, err := h.Engine.Apply(context.Background(), retyped(kept, "sales"))
		require.ErrorContains(t, err, `unknown service "sales"`)
		require.Equal(t, "billing", h.Get(held.ID).Service, "nothing of it applied")
	})
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("bob", contactpad.Available)
		offered := h.IngestItem(h.record(contactpad.Live, "support", newRecord("support")))
		require.Equal(t, contactpad.Offered, offered.Status)
		require.Equal(t, "bob", offered.Owner)
		h.Do(retyped(offered, "billing"))
		out := h.Get(offered.ID)
		require.Equal(t, contactpad.Offered, out.Status, "the offer out stands")
		require.Equal(t, "bob", out.Owner)
		h.Presence("carol", contactpad.Available)
		h.Do(adapter.Decline{ID: offered.ID, Agent: "bob"})
		require.Equal(t, "carol", h.Get(offered.ID).Owner, "declined, it goes to billing")
	})
	bubble(t, open, nil, func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Service: "billing"}, Mode: contactpad.Cold})
		require.Equal(t, "billing", h.Get(i.ID).Service)
		// The poll reads the record: its Type, and so the rule's answer,
		// did not change.
		h.Do(retyped(i, "support"))
		require.Equal(t, "billing", h.Get(i.ID).Service, "the bridge's transfer stands")
		for _, e := range h.Audit(i.ID) {
			require.NotEqual(t, contactpad.AuditServiceChanged, e.Action, e.Message)
		}
	})
}

// testDueChangedInCRM: a due date edited in the CRM moves the deferral and
// its timer; work put on hold there is deferred until the date it shows.
func testDueChangedInCRM(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
		h.writeBack()
		later := time.Now().Add(3 * time.Hour).UTC()
		h.Do(adapter.Ingest{Item: seen(i, "Sam", shows{"status": "deferred", "due_by": later.Format(time.RFC3339Nano)})})
		require.True(t, later.Equal(*h.Get(i.ID).DueBy))
		require.Equal(t, contactpad.AuditDueDateChanged, h.LastAudit(i.ID).Action)
		time.Sleep(time.Hour + slack)
		synctest.Wait()
		require.Equal(t, contactpad.Deferred, h.Get(i.ID).Status, "not at the old due date")
		time.Sleep(2*time.Hour + slack)
		synctest.Wait()
		require.Equal(t, contactpad.Connected, h.Get(i.ID).Status, "at the new one")

		j := h.worked("alice", contactpad.NonLive)
		due := time.Now().Add(2 * time.Hour).UTC()
		h.Do(adapter.Ingest{Item: seen(j, "Sam", shows{"status": "deferred", "due_by": due.Format(time.RFC3339Nano)})})
		deferred := h.Get(j.ID)
		require.Equal(t, contactpad.Deferred, deferred.Status, "put on hold in the CRM")
		require.True(t, due.Equal(*deferred.DueBy))
		require.Equal(t, 1, h.Load("alice")[contactpad.NonLive], "the one put on hold is not alice's load")
		h.Do(adapter.Ingest{Item: seen(deferred, "Sam", shows{"status": "deferred", "due_by": nil})})
		require.Nil(t, h.Get(j.ID).DueBy, "the due date removed: deferred until someone reopens it")
		require.Empty(t, dueTimers(h))

		// In wrap-up: the wrap-up ends, and the work waits in alice's
		// Deferred folder.
		k := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Release{ID: k.ID, Agent: "alice"})
		wrapping := h.Get(k.ID)
		require.Equal(t, contactpad.WrapUp, wrapping.Status)
		h.Do(adapter.Ingest{Item: seen(wrapping, "Sam", shows{"status": "deferred", "due_by": due.Format(time.RFC3339Nano)})})
		held := h.Get(k.ID)
		require.Equal(t, contactpad.Deferred, held.Status, "put on hold in wrap-up")
		require.Equal(t, "alice", held.Owner)
		require.Nil(t, held.WrapUpEndsAt)
		for _, tm := range h.Timers(time.Now().Add(24 * time.Hour)) {
			require.NotEqual(t, adapter.TimerWrapUpEnd, tm.Kind, "no wrap-up end left")
		}
	})
	// On offer: taken back from the agent, who is free for other work.
	offered := func(s *adapter.Settings) {
		s.AutoAccept = map[contactpad.Media]bool{contactpad.NonLive: false}
	}
	bubble(t, open, offered, func(h *Harness) {
		h.Presence("bob", contactpad.Available)
		i := h.IngestItem(h.record(contactpad.NonLive, "support", newRecord("support")))
		require.Equal(t, contactpad.Offered, i.Status)
		due := time.Now().Add(2 * time.Hour).UTC()
		h.Do(adapter.Ingest{Item: seen(i, "Sam", shows{"status": "deferred", "due_by": due.Format(time.RFC3339Nano)})})
		held := h.Get(i.ID)
		require.Equal(t, contactpad.Deferred, held.Status, "put on hold while offered")
		require.Empty(t, held.Owner, "bob never took it")
		require.Nil(t, held.OfferExpiresAt)
		require.Zero(t, h.Load("bob")[contactpad.NonLive])
		time.Sleep(2*time.Hour + slack)
		synctest.Wait()
		require.Equal(t, "bob", h.Get(i.ID).Owner, "reopened at its due date, offered again")
	})
}

// testEcho: the bridge's own writes coming back through the poll change
// nothing, before and after the writer records them.
func testEcho(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		version, events := i.Version, len(h.Events())
		h.Do(adapter.Ingest{Item: seen(i, "Integration User", shows{"status": "connected", "owner_crm_user_id": aliceUser,
			"service": "support", "due_by": nil, "due_by_was_set_manually": false, "auto_opened_due_to_due_date": false,
			"resumed_from": nil})})
		require.Equal(t, version, h.Get(i.ID).Version, "no change")
		require.Len(t, h.Events(), events, "no event")
		require.Empty(t, h.Outbox())

		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
		wanted := h.Get(i.ID).Sync.Want
		// The write landed and the poll read it back before the writer
		// recorded that it did.
		h.Do(adapter.Ingest{Item: seen(i, "Integration User", shows(wanted))})
		deferred := h.Get(i.ID)
		require.Equal(t, contactpad.Deferred, deferred.Status)
		require.Nil(t, deferred.Sync.Writes(), "in step")
		require.Empty(t, h.writeBack()[i.CRMID], "so it is not written again")
	})
}

// testConflicts: when both sides changed a field since they were last in
// step, the CRM wins unless the mapping says the bridge does; either way
// the conflict is audited.
func testConflicts(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		h.Presence("bob", contactpad.Available)
		h.Do(adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}, Mode: contactpad.Cold})
		require.Equal(t, "bob", h.Get(i.ID).Owner)
		// Meanwhile a supervisor gave it to carol in the CRM.
		h.Do(adapter.Ingest{Item: seen(i, "Sam", shows{"owner_crm_user_id": carolUser})})
		won := h.Get(i.ID)
		require.Equal(t, "carol", won.Owner, "the CRM wins")
		trail := h.Audit(i.ID)
		conflict := trail[len(trail)-2]
		require.Equal(t, contactpad.AuditConflict, conflict.Action)
		require.Equal(t, map[string]string{"field": "owner_crm_user_id", "crm_value": carolUser, "bridge_value": bobUser,
			"winner": "crm"}, conflict.Data)
		require.Equal(t, contactpad.AuditReassigned, trail[len(trail)-1].Action)
		require.NotContains(t, h.writeBack()[i.CRMID], map[string]any{"owner_crm_user_id": bobUser}, "bob is never written")
	})
	// A change the bridge undid before writing it leaves the field in step:
	// a person's later change to it is theirs alone, no conflict, and the
	// bridge does not write over it, whoever the mapping says wins.
	dueBridge := contactpad.PeerPolicy{Fields: map[string]contactpad.Winner{"due_by": contactpad.BridgeWins}}
	bubble(t, open, withPolicy(dueBridge), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
		h.Do(adapter.Resume{ID: i.ID, Agent: "alice"})
		require.False(t, h.Get(i.ID).Sync.IsDirty("due_by"), "no due date, as the CRM shows")
		h.Do(adapter.Ingest{Item: seen(h.Get(i.ID), "Sam", shows{"due_by": "2030-01-01T09:00:00.000Z"})})
		for _, e := range h.Audit(i.ID) {
			require.NotEqual(t, contactpad.AuditConflict, e.Action, e.Message)
		}
		for _, sent := range h.writeBack()[i.CRMID] {
			require.NotContains(t, sent, "due_by", "Sam's due date stays")
		}
	})
	bridge := contactpad.PeerPolicy{Fields: map[string]contactpad.Winner{"service": contactpad.BridgeWins}}
	bubble(t, open, withPolicy(bridge), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Service: "billing"}, Mode: contactpad.Cold})
		h.Do(adapter.Ingest{Item: seen(h.Get(i.ID), "Sam", shows{"service": "vip"})})
		require.Equal(t, "billing", h.Get(i.ID).Service)
		conflict := h.LastAudit(i.ID)
		require.Equal(t, contactpad.AuditConflict, conflict.Action)
		require.Equal(t, "bridge", conflict.Data["winner"])
		sent := h.writeBack()[i.CRMID]
		require.NotEmpty(t, sent)
		require.Equal(t, "billing", sent[len(sent)-1]["service"], "written over the CRM's value")
	})
}

// testDeltas: the writer sends only the fields the bridge changed that
// the CRM does not hold, and an owner only once an agent takes the work.
func testDeltas(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("alice", contactpad.Available)
		call := h.IngestItem(h.record(contactpad.Live, "support", newRecord("support")))
		require.Equal(t, contactpad.Offered, call.Status)
		require.Equal(t, []map[string]any{{"status": "offered"}}, h.writeBack()[call.CRMID], "no owner while only offered")
		h.Do(adapter.Accept{ID: call.ID, Agent: "alice"})
		require.Equal(t, []map[string]any{{"status": "connected", "owner_crm_user_id": aliceUser}}, h.writeBack()[call.CRMID],
			"the owner once alice took it")
		h.Do(adapter.Hold{ID: call.ID, Agent: "alice"})
		require.Empty(t, h.writeBack()[call.CRMID], "hold changes no mirrored field")
		h.Do(adapter.Release{ID: call.ID, Agent: "alice"})
		h.Do(adapter.FinishWrapUp{ID: call.ID, Agent: "alice"})
		require.Equal(t, []map[string]any{{"status": "completed"}}, h.writeBack()[call.CRMID],
			"wrap-up and completion in one write: the state as it is when sent")
	})
}

// testIngestFailures: a record that cannot go in is kept with its reason,
// read again with backoff, and cleared once it goes in; the rest of the
// page goes in meanwhile.
func testIngestFailures(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		src := &retrySource{items: []contactpad.WorkItem{
			{CRMID: "500BAD", CRMObject: "Case", Problem: "Case 500BAD: no media rule matches"},
			{CRMID: "500SVC", CRMObject: "Case", Media: contactpad.NonLive, Service: "sales"},
			{CRMID: "500OK", CRMObject: "Case", Media: contactpad.NonLive, Service: "support"},
		}}
		ctx := context.Background()
		require.NoError(t, h.Engine.PollOnce(ctx, src))
		require.Len(t, h.Interactions(adapter.InteractionFilter{}), 1, "the good record went in")
		failures := h.failures()
		require.Len(t, failures, 2)
		reasons := map[string]string{}
		for _, f := range failures {
			reasons[f.CRMID] = f.Reason
			require.Equal(t, 1, f.Attempts)
			require.Equal(t, "test:Case", f.Source)
		}
		require.Equal(t, "Case 500BAD: no media rule matches", reasons["500BAD"])
		require.Contains(t, reasons["500SVC"], `unknown service "sales"`)

		src.items = nil
		require.NoError(t, h.Engine.PollOnce(ctx, src))
		require.Empty(t, src.lastRetry(), "not before the backoff")
		time.Sleep(10 * time.Second)
		src.fixed = map[string]contactpad.WorkItem{
			"500BAD": {CRMID: "500BAD", CRMObject: "Case", Media: contactpad.NonLive, Service: "support"},
		}
		require.NoError(t, h.Engine.PollOnce(ctx, src))
		require.ElementsMatch(t, []string{"500BAD", "500SVC"}, src.lastRetry(), "read again")
		failures = h.failures()
		require.Len(t, failures, 1, "the fixed record went in")
		require.Equal(t, "500SVC", failures[0].CRMID)
		require.Equal(t, 2, failures[0].Attempts)
		require.Len(t, h.Interactions(adapter.InteractionFilter{}), 2)
	})
}

// testStaleRead: a poll's read sent before the CRM answered a write of the
// bridge's may show the record as it was before that write. That is no
// change made in the CRM: the interaction stays as it is, and the record
// is read again at the next poll until a read is not stale.
func testStaleRead(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		ctx := context.Background()
		i := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
		h.Do(adapter.FinishWrapUp{ID: i.ID, Agent: "alice"})
		before := seen(i, "Integration User", shows(i.Sync.Known)) // connected, owned by alice
		src := &retrySource{items: []contactpad.WorkItem{before}, reading: func() {
			time.Sleep(time.Millisecond)
			h.writeBack() // completed: its answer comes back before the read's
		}}
		require.NoError(t, h.Engine.PollOnce(ctx, src))
		done := h.Get(i.ID)
		require.Equal(t, contactpad.Completed, done.Status, "not closed, reopened or changed in the CRM")
		require.Equal(t, "completed", done.Sync.Known["status"], "what the CRM accepted")
		require.NotContains(t, actions(h.Audit(i.ID)), "reopened")
		require.NotContains(t, actions(h.Audit(i.ID)), "conflict")
		require.Empty(t, h.failures(), "no failure of the record's")

		src.reading = nil
		src.fixed = map[string]contactpad.WorkItem{i.CRMID: seen(i, "Integration User", shows(done.Sync.Known))}
		require.NoError(t, h.Engine.PollOnce(ctx, src))
		require.Equal(t, []string{i.CRMID}, src.lastRetry(), "read again at the next poll")
		require.NoError(t, h.Engine.PollOnce(ctx, src))
		require.Empty(t, src.lastRetry(), "that read was not stale")
		require.Equal(t, contactpad.Completed, h.Get(i.ID).Status)

		// A read sent after the answer that shows the old value is a
		// change made in the CRM.
		time.Sleep(time.Second)
		src.items = []contactpad.WorkItem{seen(i, "Sam", shows{"status": "queued", "owner_crm_user_id": aliceUser})}
		require.NoError(t, h.Engine.PollOnce(ctx, src))
		require.Contains(t, actions(h.Audit(i.ID)), "reopened")
	})
}

// retrySource serves items once, then the fixed version of each record it
// is asked to read again (those it has none of come back unchanged).
// reading, if set, runs while a read is on its way.
type retrySource struct {
	items   []contactpad.WorkItem
	fixed   map[string]contactpad.WorkItem
	retries [][]string
	failed  map[string]contactpad.WorkItem
	reading func()
}

func (s *retrySource) Name() string { return "test:Case" }

func (s *retrySource) Changes(_ context.Context, _ string, retry []string) ([]contactpad.WorkItem, string, bool, error) {
	if s.reading != nil {
		s.reading()
	}
	if s.failed == nil {
		s.failed = map[string]contactpad.WorkItem{}
	}
	out := append([]contactpad.WorkItem(nil), s.items...)
	for _, item := range s.items {
		s.failed[item.CRMID] = item
	}
	s.items = nil
	s.retries = append(s.retries, retry)
	for _, id := range retry {
		if item, ok := s.fixed[id]; ok {
			out = append(out, item)
		} else {
			out = append(out, s.failed[id])
		}
	}
	return out, "", false, nil
}

func (s *retrySource) lastRetry() []string { return s.retries[len(s.retries)-1] }

// failures reads every ingest failure.
func (h *Harness) failures() []adapter.IngestFailure {
	h.T.Helper()
	var out []adapter.IngestFailure
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		out, err = tx.IngestFailures("", 1000)
		return err
	}))
	return out
}

// testCleanText: text no store or CRM field can hold (NUL, bytes that are
// not UTF-8) is cleaned at ingest, alike on every store.
func testCleanText(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		item := h.record(contactpad.NonLive, "support", shows{"status": "queued", "note": "a\x00b"})
		item.Subject, item.Category, item.Tags = "Re\x00fund \xff!", "bill\x00ing", []string{"v\x00ip"}
		i := h.IngestItem(item)
		require.Equal(t, "Refund \uFFFD!", i.Subject)
		require.Equal(t, "billing", i.Category)
		require.Equal(t, []string{"vip"}, i.Tags)
		require.Equal(t, "ab", i.Sync.Known["note"])
		for _, s := range []string{i.Subject, i.Category} {
			require.False(t, strings.ContainsRune(s, 0))
		}
	})
}

// testIngestCutsLongText: what an interaction shows of a record's text
// (and so every event carries) is cut to its limits at ingest, at a
// character boundary: a mapping may take the subject from a long field.
func testIngestCutsLongText(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		item := h.record(contactpad.NonLive, "support", shows{"status": "queued"})
		item.Subject = strings.Repeat("é", 5000)
		item.Category = strings.Repeat("c", 300)
		for k := range 60 {
			item.Tags = append(item.Tags, fmt.Sprintf("tag%d", k))
		}
		i := h.IngestItem(item)
		require.Equal(t, strings.Repeat("é", adapter.MaxSubjectBytes/2), i.Subject)
		require.Equal(t, strings.Repeat("c", adapter.MaxLabelBytes), i.Category)
		require.Len(t, i.Tags, adapter.MaxTags)
		require.Equal(t, "tag49", i.Tags[adapter.MaxTags-1])

		item.Subject = strings.Repeat("é", 5000) + "!" // the same cut: not a change
		h.Do(adapter.Ingest{Item: item})
		require.Equal(t, i.Version, h.Get(i.ID).Version)
	})
}

// testPollCleanText: a poll's records whose text no store can hold go in
// cleaned, alike on every store: the record with the text goes in, its
// neighbours on the page too, a record the mapping could not read has its
// reason stored (cleaned: it may quote the record), and a warning names
// the record and the fields, never their values.
func testPollCleanText(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		dirty := h.record(contactpad.NonLive, "support", shows{"status": "queued", "note": "a\x00b\xffc", "count": 3.0})
		dirty.Subject, dirty.Tags = "Re\x00fund \xfe!", []string{"vip", "gold\x00"}
		dirty.CRM.ChangedBy = "Zoë\xff"
		clean := h.record(contactpad.NonLive, "support", shows{"status": "queued"})
		unread := contactpad.WorkItem{CRMID: "500UNREAD", CRMObject: "Case",
			Problem: "Case 500UNREAD: priority \"1\x00\xff\" is not a number"}
		src := &pagedSource{size: 10, items: []contactpad.WorkItem{dirty, unread, clean}}
		require.NoError(t, h.Engine.PollOnce(context.Background(), src))

		list := h.Interactions(adapter.InteractionFilter{})
		require.Len(t, list, 2, "the dirty record and its clean neighbour went in")
		i := list[0]
		if i.CRMID != dirty.CRMID {
			i = list[1]
		}
		require.Equal(t, dirty.CRMID, i.CRMID)
		require.Equal(t, "Refund \uFFFD!", i.Subject)
		require.Equal(t, []string{"vip", "gold"}, i.Tags)
		require.Equal(t, "ab\uFFFDc", i.Sync.Known["note"])
		require.Equal(t, 3.0, i.Sync.Known["count"])

		failures := h.failures()
		require.Len(t, failures, 1)
		require.Equal(t, "500UNREAD", failures[0].CRMID)
		require.Equal(t, "Case 500UNREAD: priority \"1\uFFFD\" is not a number", failures[0].Reason)

		var warned []*logrus.Entry
		for _, e := range h.Log.AllEntries() {
			if e.Data["crm_id"] == dirty.CRMID {
				warned = append(warned, e)
			}
		}
		require.Len(t, warned, 1)
		require.Equal(t, logrus.WarnLevel, warned[0].Level)
		require.Equal(t, "subject,tags[1],crm.changed_by,crm.fields.note", warned[0].Data["fields"])
		line, err := warned[0].String()
		require.NoError(t, err)
		for _, value := range []string{"fund", "gold", "Zo", "a\x00b"} {
			require.NotContains(t, line, value, "the log names fields, not values")
		}
	})
}

// testDeletedInCRM: a write the CRM refuses because the record is deleted
// there (ParkError.Gone) ends its interaction: abandoned, its capacity
// freed for the next work and its transfer stopped, and nothing more is
// written to the record. A refusal that says nothing of the kind only
// parks the row.
func testDeletedInCRM(t *testing.T, open Opener) {
	bubble(t, open, withPolicy(contactpad.PeerPolicy{}), func(h *Harness) {
		gone := h.worked("alice", contactpad.NonLive)
		refused := h.worked("alice", contactpad.NonLive)
		h.Presence("bob", contactpad.Busy)
		tr := h.Do(adapter.StartTransfer{ID: gone.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}).Transfer
		h.Do(adapter.Release{ID: refused.ID, Agent: "alice"})
		load := h.Load("alice")[contactpad.NonLive]
		sink := &recordingSink{written: map[string][]int64{}, tries: map[int64]int{},
			fail: func(r adapter.OutboxRow, _ int) error {
				switch r.CRMID {
				case gone.CRMID:
					return &adapter.ParkError{Code: "ENTITY_IS_DELETED", Message: "entity is deleted", Gone: true}
				case refused.CRMID:
					return &adapter.ParkError{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "Subject is locked"}
				}
				return nil
			}}
		_, err := h.Engine.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		synctest.Wait()

		i := h.Get(gone.ID)
		require.Equal(t, contactpad.Abandoned, i.Status)
		last := h.LastAudit(gone.ID)
		require.Equal(t, contactpad.AuditAbandoned, last.Action)
		require.Equal(t, contactpad.ActorCRM, last.Actor)
		require.Contains(t, last.Message, "Deleted in Salesforce: Case "+gone.CRMID+" no longer exists")
		require.Equal(t, contactpad.TransferCanceled, h.Transfer(tr.ID).Status)
		require.Equal(t, load-1, h.Load("alice")[contactpad.NonLive], "its capacity is free")
		for _, r := range h.Outbox() {
			if r.CRMID == gone.CRMID {
				var change contactpad.RecordChange
				require.NoError(t, json.Unmarshal(r.Payload, &change))
				require.Nil(t, change.Fields, "no field is to be written to a deleted record")
			}
		}
		calls := sink.calls
		_, err = h.Engine.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Equal(t, calls, sink.calls, "its rows wait behind the parked one, shown to admins: no call")
		require.Equal(t, contactpad.WrapUp, h.Get(refused.ID).Status, "a refusal of another kind only parks its row")
	})
}

// readingSink is a fieldSink that reads the records it is about to
// update first (adapter.RecordReader). crm is what each record shows now,
// by CRM id, as a read returns it; a record it does not hold is not found.
type readingSink struct {
	fieldSink
	crm map[string]contactpad.WorkItem
	// reads are the ids of each read, in order.
	reads [][]string
	// fail, while set, is every read's error.
	fail error
	// during, if set, runs once while a read is out, before its answer
	// is made: what happens meanwhile.
	during func()
}

func newReadingSink() *readingSink {
	return &readingSink{fieldSink: fieldSink{sent: map[string][]map[string]any{}}, crm: map[string]contactpad.WorkItem{}}
}

func (s *readingSink) ReadRecords(_ context.Context, object string, ids []string) ([]contactpad.WorkItem, error) {
	s.reads = append(s.reads, ids)
	if s.fail != nil {
		return nil, s.fail
	}
	var out []contactpad.WorkItem
	defer func() {
		if during := s.during; during != nil {
			s.during = nil
			during()
		}
	}()
	for _, id := range ids {
		if item, ok := s.crm[id]; ok && item.CRMObject == object {
			out = append(out, item)
		}
	}
	return out, nil
}

// drain writes the outbox through s until it is empty.
func (s *readingSink) drain(h *Harness) {
	h.T.Helper()
	for {
		n, err := h.Engine.WritebackOnce(context.Background(), s, adapter.SyncOptions{})
		require.NoError(h.T, err)
		if n == 0 {
			return
		}
	}
}

// inStep is what i's record shows when it holds every write of the
// bridge's: unchanged since, by the bridge's own integration user.
func inStep(i *contactpad.Interaction) contactpad.WorkItem {
	return seen(i, "Integration User", shows(i.Sync.Known))
}

// testChangedBeforeWrite: the writer reads the records it is about to
// update, so that a change people made in the CRM after an agent's action,
// before the bridge wrote it (the writer waits to fill a call; the poll
// comes later), is taken in first, and never written over: a Case closed
// there a moment after alice deferred it stays closed, and her work ends.
func testChangedBeforeWrite(t *testing.T, open Opener) {
	bubble(t, open, withPolicy(contactpad.PeerPolicy{}), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		j := h.worked("alice", contactpad.NonLive)
		sink := newReadingSink()
		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
		h.Do(adapter.Release{ID: j.ID, Agent: "alice"})
		// Before the writer's call, Sam closes i's Case in the CRM.
		sink.crm[i.CRMID] = seen(h.Get(i.ID), "Sam Supervisor", shows{"status": "completed", "owner_crm_user_id": aliceUser})
		sink.crm[j.CRMID] = inStep(h.Get(j.ID))
		sink.drain(h)

		closed := h.Get(i.ID)
		require.Equal(t, contactpad.Completed, closed.Status, "closed in the CRM: the deferral ends")
		require.Empty(t, dueTimers(h), "and its reopening with it")
		trail := h.Audit(closed.ID)
		conflict, last := trail[len(trail)-2], trail[len(trail)-1]
		require.Equal(t, contactpad.AuditConflict, conflict.Action)
		require.Equal(t, map[string]string{"field": "status", "crm_value": "completed", "bridge_value": "deferred", "winner": "crm"},
			conflict.Data)
		require.Equal(t, "Closed in Salesforce by Sam Supervisor", last.Message)
		for _, fields := range sink.sent[i.CRMID] {
			require.NotContains(t, fields, "status", "Sam's Closed is never written over")
		}
		require.Equal(t, "wrap_up", sink.sent[j.CRMID][len(sink.sent[j.CRMID])-1]["status"], "the unchanged record is written")
		require.Equal(t, [][]string{{i.CRMID, j.CRMID}}, sink.reads, "one read of both records, before the call")
		require.Empty(t, h.Outbox())
	})
	// Where the mapping says the bridge wins a field, it writes its value
	// over the CRM's, and says so.
	statusBridge := contactpad.PeerPolicy{Fields: map[string]contactpad.Winner{"status": contactpad.BridgeWins}}
	bubble(t, open, withPolicy(statusBridge), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		sink := newReadingSink()
		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
		sink.crm[i.CRMID] = seen(h.Get(i.ID), "Sam Supervisor", shows{"status": "escalated", "owner_crm_user_id": aliceUser})
		sink.drain(h)
		require.Equal(t, contactpad.Deferred, h.Get(i.ID).Status)
		conflict := h.LastAudit(i.ID)
		require.Equal(t, contactpad.AuditConflict, conflict.Action)
		require.Equal(t, "bridge", conflict.Data["winner"])
		sent := sink.sent[i.CRMID]
		require.Equal(t, "deferred", sent[len(sent)-1]["status"], "written over the CRM's value")
	})
	// A Case in the call with nothing of the CRM's to write is not read;
	// alice defers it while the read is out, and Sam closes it: it waits
	// for the next call, read first.
	bubble(t, open, withPolicy(contactpad.PeerPolicy{}), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		k := h.worked("alice", contactpad.NonLive)
		h.Presence("bob", contactpad.Available)
		sink := newReadingSink()
		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
		sink.crm[i.CRMID] = inStep(h.Get(i.ID))
		transfer := h.Do(adapter.StartTransfer{ID: k.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"},
			Mode: contactpad.Warm, Note: "n"}).Transfer
		require.Nil(t, h.Get(k.ID).Sync.Writes(), "an audit entry to write, and no field")
		sink.during = func() {
			h.Do(adapter.CancelTransfer{TransferID: transfer.ID, Agent: "alice"})
			h.Do(adapter.Defer{ID: k.ID, Agent: "alice", DueBy: in(time.Hour)})
			sink.crm[k.CRMID] = seen(h.Get(k.ID), "Sam Supervisor", shows{"status": "completed", "owner_crm_user_id": aliceUser})
		}
		sink.drain(h)
		for _, fields := range sink.sent[k.CRMID] {
			require.NotContains(t, fields, "status", "Sam's Closed is never written over")
		}
		require.Equal(t, contactpad.Completed, h.Get(k.ID).Status)
		require.Equal(t, [][]string{{i.CRMID}, {k.CRMID}}, sink.reads)
		require.Equal(t, "deferred", sink.sent[i.CRMID][len(sink.sent[i.CRMID])-1]["status"])
	})
	// Where the bridge wins every field it writes, nothing of the CRM's is
	// at stake: the record is not read.
	bubble(t, open, withPolicy(contactpad.PeerPolicy{Conflicts: contactpad.BridgeWins}), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		sink := newReadingSink()
		h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
		sink.drain(h)
		require.Empty(t, sink.reads)
		require.Equal(t, "wrap_up", sink.sent[i.CRMID][0]["status"])
	})
	// A read that fails writes nothing: the CRM may have changed what the
	// call would overwrite. A CRM that does not answer spends no attempt.
	bubble(t, open, withPolicy(contactpad.PeerPolicy{}), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		sink := newReadingSink()
		sink.fail = &adapter.UnavailableError{Err: errors.New("POST composite: connection refused")}
		h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
		n, err := h.Engine.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Empty(t, sink.sent, "nothing written")
		rows := h.Outbox()
		require.Len(t, rows, 1)
		require.Zero(t, rows[0].Attempts)
		require.Equal(t, "read 1 Case records before writing them: POST composite: connection refused", rows[0].ErrorMessage)

		sink.fail = nil
		sink.crm[i.CRMID] = inStep(h.Get(i.ID))
		time.Sleep(adapter.UnavailableRetryMax)
		sink.drain(h)
		require.Equal(t, "completed", sink.sent[i.CRMID][0]["status"], "written once the read succeeds, as it is then: its wrap-up ended")
		require.Len(t, sink.reads, 2)
	})
	// A read that fails for good (a field the mapping reads was deleted)
	// fails the rows of the records it was to read, and no others: an
	// audit entry of another Case, which needs no read, is written.
	bubble(t, open, withPolicy(contactpad.PeerPolicy{}), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		k := h.worked("alice", contactpad.NonLive)
		h.Presence("bob", contactpad.Available)
		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
		h.Do(adapter.StartTransfer{ID: k.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}, Mode: contactpad.Warm, Note: "n"})
		sink := newReadingSink()
		sink.fail = codedError{"INVALID_FIELD", "No such column 'Ctibridge_Due_By__c' on entity 'Case'"}
		n, err := h.Engine.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		rows := h.Outbox()
		require.Len(t, rows, 1, "k's row is written")
		require.Equal(t, i.CRMID, rows[0].CRMID)
		require.Equal(t, "INVALID_FIELD", rows[0].ErrorCode)
		require.Equal(t, 1, rows[0].Attempts, "a refusal spends an attempt")
		require.Empty(t, sink.sent[i.CRMID])
	})
}

// at is item as read with the record last changed at modified.
func at(item contactpad.WorkItem, modified time.Time) contactpad.WorkItem {
	state := *item.CRM
	state.Modified = modified
	item.CRM = &state
	return item
}

// testLateRead: the poll and the writer both read records, and an older
// read may be taken in after a newer one. It changes nothing: taken in,
// it would put back what the newer one replaced (a Case Sam closed would
// be reopened in the bridge while it stays closed in the CRM).
func testLateRead(t *testing.T, open Opener) {
	// The writer's read is answered; then Sam closes the Case, and the
	// poll's read of it is taken in before the writer's.
	bubble(t, open, withPolicy(contactpad.PeerPolicy{}), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		sink := newReadingSink()
		sink.crm[i.CRMID] = at(inStep(h.Get(i.ID)), time.Now())
		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
		sink.during = func() {
			time.Sleep(time.Second)
			closed := at(seen(h.Get(i.ID), "Sam Supervisor", shows{"status": "completed"}), time.Now())
			closed.Unmatched = true
			h.Do(adapter.Ingest{Item: closed, ReadAt: time.Now()})
			require.Equal(t, contactpad.Completed, h.Get(i.ID).Status)
		}
		sink.drain(h)
		require.Len(t, sink.reads, 1)
		require.Equal(t, contactpad.Completed, h.Get(i.ID).Status, "the older read changes nothing")
		require.NotContains(t, actions(h.Audit(i.ID)), "reopened")
		for _, fields := range sink.sent[i.CRMID] {
			require.NotContains(t, fields, "status")
		}
	})
	// A poll reads the Case; then Sam closes it, and the writer's read of
	// it is taken in before the poll's.
	bubble(t, open, withPolicy(contactpad.PeerPolicy{}), func(h *Harness) {
		i, polled, pollAt, closed := closedAfterAPoll(h)
		polled.Subject = "Sam's subject"
		h.Do(adapter.Ingest{Item: polled, ReadAt: pollAt})
		got := h.Get(i.ID)
		require.Equal(t, contactpad.Completed, got.Status, "the poll's older read changes nothing")
		require.NotEqual(t, "Sam's subject", got.Subject, "not even the subject")
		// The same read again is nothing new either; a newer one is.
		h.Do(adapter.Ingest{Item: closed})
		require.Equal(t, contactpad.Completed, h.Get(i.ID).Status)
		reopened := at(seen(h.Get(i.ID), "Sam Supervisor", shows{"status": "connected"}), time.Now().Add(time.Second))
		h.Do(adapter.Ingest{Item: reopened})
		require.Equal(t, "Reopened in Salesforce by Sam Supervisor", h.Audit(i.ID)[len(h.Audit(i.ID))-2].Message)
	})
	// The poll's older read brings Omni-Channel routing (a PSR waiting):
	// the routing is not taken for work that ended, nor the old status.
	bubble(t, open, withPolicy(contactpad.PeerPolicy{}), func(h *Harness) {
		i, polled, pollAt, _ := closedAfterAPoll(h)
		polled.Omni = &contactpad.OmniItem{PSRID: "0JRSd0000000001AAA", ServiceChannelID: "0N9Sd0000000001AAA", CapacityWeight: 1}
		h.Do(adapter.Ingest{Item: polled, ReadAt: pollAt})
		require.Equal(t, contactpad.Completed, h.Get(i.ID).Status, "the poll's older read changes nothing")
		require.NotContains(t, actions(h.Audit(i.ID)), "reopened")
	})
	// Salesforce keeps a record's last change to the second: two changes
	// in one second show the same stamp, and the later read of them is
	// taken in.
	bubble(t, open, withPolicy(contactpad.PeerPolicy{}), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
		second := time.Now().Truncate(time.Second)
		sink := newReadingSink()
		sink.crm[i.CRMID] = at(inStep(h.Get(i.ID)), second) // a flow touched it at .0, read at .1
		sink.drain(h)
		require.Equal(t, contactpad.Deferred, h.Get(i.ID).Status)
		time.Sleep(time.Second / 2)
		closed := at(seen(h.Get(i.ID), "Sam Supervisor", shows{"status": "completed"}), second) // Sam, at .6
		closed.Unmatched = true
		h.Do(adapter.Ingest{Item: closed, ReadAt: time.Now()})
		require.Equal(t, contactpad.Completed, h.Get(i.ID).Status, "Sam's close is taken in")
	})
}

// closedAfterAPoll plays a poll that reads alice's deferred Case, after
// which Sam closes it and the writer reads the close and takes it in,
// before the poll's read is: it returns the Case, the poll's read and when
// it was sent, and the writer's read. A flow wrote the bridge's deferral
// too, so nothing is left to write, and the poll's read is not stale.
func closedAfterAPoll(h *Harness) (i *contactpad.Interaction, polled contactpad.WorkItem, pollAt time.Time, closed contactpad.WorkItem) {
	h.T.Helper()
	i = h.worked("alice", contactpad.NonLive)
	h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
	polled, pollAt = at(inStep(h.Get(i.ID)), time.Now()), time.Now()
	time.Sleep(time.Second)
	fields := shows(maps.Clone(h.Get(i.ID).Sync.Want))
	fields["status"] = "completed"
	closed = at(seen(h.Get(i.ID), "Sam Supervisor", fields), time.Now())
	closed.Unmatched = true
	sink := newReadingSink()
	sink.crm[i.CRMID] = closed
	sink.drain(h)
	require.Equal(h.T, contactpad.Completed, h.Get(i.ID).Status)
	require.False(h.T, h.Get(i.ID).Sync.Stale(pollAt))
	return i, polled, pollAt, closed
}

// testHoldKeepsBatches: a record held back for a read (an agent acted on
// it while the writer's read was out) goes in the next call, and does not
// make the writer take a smaller batch for a full call afterwards.
func testHoldKeepsBatches(t *testing.T, open Opener) {
	bubble(t, open, withPolicy(contactpad.PeerPolicy{}), func(h *Harness) {
		i := h.worked("alice", contactpad.NonLive)
		k := h.worked("alice", contactpad.NonLive)
		m := h.worked("alice", contactpad.NonLive)
		h.Presence("bob", contactpad.Available)
		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
		transfer := h.Do(adapter.StartTransfer{ID: k.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"},
			Mode: contactpad.Warm, Note: "n"}).Transfer
		sink := newReadingSink()
		for _, j := range []*contactpad.Interaction{i, k, m} {
			sink.crm[j.CRMID] = inStep(h.Get(j.ID))
		}
		sink.during = func() {
			h.Do(adapter.CancelTransfer{TransferID: transfer.ID, Agent: "alice"})
			h.Do(adapter.Defer{ID: k.ID, Agent: "alice", DueBy: in(time.Hour)})
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.Engine.RunWriteback(ctx, sink, adapter.SyncOptions{BatchMaxAge: 10 * time.Second})
		}()
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, [][]string{{i.CRMID}}, sink.reads, "the backlog goes at once, but for the held Case")
		require.NotEmpty(t, h.Outbox())
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Empty(t, h.Outbox(), "the held Case, at its rows' age")
		require.Equal(t, [][]string{{i.CRMID}, {k.CRMID}}, sink.reads, "read first")
		h.Do(adapter.Defer{ID: m.ID, Agent: "alice", DueBy: in(time.Hour)})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		require.Len(t, h.Outbox(), 1, "one row, 5 s old: not worth a call yet (batch_max_age 10s)")
		time.Sleep(6 * time.Second)
		synctest.Wait()
		require.Empty(t, h.Outbox(), "written at its age")
		cancel()
		<-done
	})
}
