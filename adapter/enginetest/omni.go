package enginetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// answer is an AgentWork of item answered in Omni-Channel, as the poll
// hands it to Ingest.
func answer(item, work, user, status string) adapter.Ingest {
	return adapter.Ingest{Item: contactpad.WorkItem{CRMID: item, CRMObject: "Case", Omni: &contactpad.OmniItem{
		Answer: &contactpad.AgentWorkAnswer{WorkID: work, UserID: user, Status: status}}}}
}

// agentWorks returns the AgentWork the pending outbox rows of item ask for, in order.
func (h *Harness) agentWorks(item string) []contactpad.AgentWorkOffer {
	h.T.Helper()
	var out []contactpad.AgentWorkOffer
	for _, r := range h.Outbox() {
		var change contactpad.RecordChange
		require.NoError(h.T, json.Unmarshal(r.Payload, &change))
		if r.CRMID == item && change.AgentWork != nil {
			out = append(out, *change.AgentWork)
		}
	}
	return out
}

// testOmniRouting: a work item with a PendingServiceRouting is routed by
// the engine and offered as an AgentWork (an outbox row), with no offer
// timer; the panel may not answer it; the answers read back from
// Omni-Channel decline, time out and accept it, once each, and only the
// offered agent's count.
func testOmniRouting(t *testing.T, open Opener) {
	bubble(t, open, func(s *adapter.Settings) { s.PushTimeoutPresence = contactpad.Busy }, func(h *Harness) {
		alice, bob := Settings().Agents[0].CRMUserID, Settings().Agents[1].CRMUserID
		h.Presence("bob", contactpad.Available)
		item := "500000000000077AAA"
		i := h.IngestItem(contactpad.WorkItem{CRMID: item, CRMObject: "Case", Media: contactpad.NonLive, Service: "support",
			Subject: "Routed by Omni", Omni: &contactpad.OmniItem{PSRID: "0JR000000000001AAA", ServiceChannelID: "0N9000000000001AAA",
				CapacityWeight: 2}})
		require.Equal(t, contactpad.Offered, i.Status)
		require.Equal(t, "bob", i.Owner)
		require.Nil(t, i.OfferExpiresAt, "Omni-Channel times the push out")
		require.Empty(t, h.Timers(time.Now().Add(time.Hour)))
		require.Equal(t, []contactpad.AgentWorkOffer{{ServiceChannelID: "0N9000000000001AAA", WorkItemID: item, UserID: bob,
			PSRID: "0JR000000000001AAA", CapacityWeight: 2}}, h.agentWorks(item))
		h.Refused(adapter.Accept{ID: i.ID, Agent: "bob"}, adapter.CodeConflict)
		h.Refused(adapter.Decline{ID: i.ID, Agent: "bob"}, adapter.CodeConflict)

		// Answers of another user, or of an unknown record, change nothing.
		h.Do(answer(item, "0Bz000000000001AAA", alice, contactpad.AgentWorkOpened))
		h.Do(answer("500000000000099AAA", "0Bz000000000009AAA", bob, contactpad.AgentWorkOpened))
		require.Equal(t, contactpad.Offered, h.Get(i.ID).Status)

		// bob declines: alice gets a new AgentWork for the same PSR.
		h.Presence("alice", contactpad.Available)
		h.Do(answer(item, "0Bz000000000002AAA", bob, contactpad.AgentWorkDeclined))
		i = h.Get(i.ID)
		require.Equal(t, "alice", i.Owner)
		require.Equal(t, contactpad.AuditDeclined, h.Audit(i.ID)[len(h.Audit(i.ID))-2].Action)
		works := h.agentWorks(item)
		require.Len(t, works, 2)
		require.Equal(t, alice, works[1].UserID)
		require.Equal(t, "0JR000000000001AAA", works[1].PSRID)
		trail := len(h.Audit(i.ID))
		h.Do(answer(item, "0Bz000000000002AAA", bob, contactpad.AgentWorkDeclined))
		require.Len(t, h.Audit(i.ID), trail, "read again, the answer changes nothing")
		require.Len(t, h.agentWorks(item), 2)
		require.Equal(t, "alice", h.Get(i.ID).Owner)

		// alice's push times out: she is not ready, bob is offered it again.
		h.Do(answer(item, "0Bz000000000003AAA", alice, contactpad.AgentWorkPushTimeout))
		require.Equal(t, contactpad.Busy, h.Agent("alice").Presence)
		i = h.Get(i.ID)
		require.Equal(t, "bob", i.Owner)
		require.Equal(t, contactpad.AuditOfferTimeout, h.Audit(i.ID)[len(h.Audit(i.ID))-2].Action)

		// bob accepts in Omni-Channel: connected; a later offer has no PSR.
		h.Do(answer(item, "0Bz000000000004AAA", bob, contactpad.AgentWorkOpened))
		i = h.Get(i.ID)
		require.Equal(t, contactpad.Connected, i.Status)
		last := h.LastAudit(i.ID)
		require.Equal(t, contactpad.AuditAccepted, last.Action)
		require.Equal(t, "Accepted by bob in Omni-Channel", last.Message)
		require.Equal(t, "0Bz000000000004AAA", last.Data["agent_work"])
		h.Do(answer(item, "0Bz000000000003AAA", alice, contactpad.AgentWorkPushTimeout))
		require.Equal(t, contactpad.Connected, h.Get(i.ID).Status, "an old answer changes nothing")

		h.Presence("alice", contactpad.Available)
		h.Do(adapter.StartTransfer{ID: i.ID, Agent: "bob", Target: contactpad.Target{Agent: "alice"}, Mode: contactpad.Cold})
		works = h.agentWorks(item)
		require.Equal(t, contactpad.AgentWorkOffer{ServiceChannelID: "0N9000000000001AAA", WorkItemID: item, UserID: alice,
			CapacityWeight: 2}, works[len(works)-1], "a transfer's AgentWork goes to the target directly")
	})
}
