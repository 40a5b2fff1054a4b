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

		// Another user's decline, or an answer of an unknown record, changes nothing.
		h.Do(answer(item, "0Bz000000000001AAA", alice, contactpad.AgentWorkDeclined))
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

// testOmniWarmTransfer: a warm transfer of work routed through
// Omni-Channel goes to its target as an AgentWork (directly, the PSR gone),
// which the target answers in Omni-Channel, not in the panel: declined or
// timed out there, the transfer fails and the sender keeps the work;
// accepted there, the work is handed over at once, as Omni-Channel did.
func testOmniWarmTransfer(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		alice, bob := Settings().Agents[0].CRMUserID, Settings().Agents[1].CRMUserID
		h.Presence("alice", contactpad.Available)
		item := "500000000000078AAA"
		i := h.IngestItem(contactpad.WorkItem{CRMID: item, CRMObject: "Case", Media: contactpad.NonLive, Service: "support",
			Subject: "Routed by Omni", Omni: &contactpad.OmniItem{PSRID: "0JR000000000002AAA", ServiceChannelID: "0N9000000000001AAA",
				CapacityWeight: 2}})
		require.Equal(t, "alice", i.Owner)
		h.Do(answer(item, "0Bz000000000011AAA", alice, contactpad.AgentWorkOpened))
		require.Equal(t, contactpad.Connected, h.Get(i.ID).Status)
		h.Presence("bob", contactpad.Available)

		// bob declines the request in Omni-Channel.
		tr := h.Do(adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}, Note: "refund"}).Transfer
		tr = h.Transfer(tr.ID)
		require.Equal(t, "bob", tr.Assignee)
		require.Equal(t, contactpad.AnswerInOmni, tr.AnswerIn)
		works := h.agentWorks(item)
		require.Equal(t, contactpad.AgentWorkOffer{ServiceChannelID: "0N9000000000001AAA", WorkItemID: item, UserID: bob,
			CapacityWeight: 2}, works[len(works)-1], "the request is an AgentWork for bob, the PSR gone")
		require.Equal(t, "Transfer request delivered to bob through Omni-Channel", h.LastAudit(i.ID).Message)
		h.Refused(adapter.AcceptTransfer{TransferID: tr.ID, Agent: "bob"}, adapter.CodeConflict)
		h.Refused(adapter.DeclineTransfer{TransferID: tr.ID, Agent: "bob"}, adapter.CodeConflict)
		h.Do(answer(item, "0Bz000000000012AAA", bob, contactpad.AgentWorkDeclined))
		tr = h.Transfer(tr.ID)
		require.Equal(t, contactpad.TransferFailed, tr.Status)
		require.Equal(t, contactpad.FailedDeclined, tr.FailedReason)
		require.Equal(t, "Transfer to agent bob declined by bob in Omni-Channel", h.LastAudit(i.ID).Message)
		i = h.Get(i.ID)
		require.Equal(t, "alice", i.Owner)
		require.Equal(t, contactpad.Connected, i.Status)

		// Its push times out in Omni-Channel.
		tr = h.Do(adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}).Transfer
		h.Do(answer(item, "0Bz000000000013AAA", bob, contactpad.AgentWorkPushTimeout))
		tr = h.Transfer(tr.ID)
		require.Equal(t, contactpad.TransferFailed, tr.Status)
		require.Equal(t, contactpad.FailedTimeout, tr.FailedReason)
		require.Equal(t, "Transfer to agent bob failed in Omni-Channel: not answered in time", h.LastAudit(i.ID).Message)
		require.Equal(t, "alice", h.Get(i.ID).Owner)

		// bob accepts in Omni-Channel: his at once, with the note.
		tr = h.Do(adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}).Transfer
		h.Do(answer(item, "0Bz000000000014AAA", alice, contactpad.AgentWorkOpened))
		require.Equal(t, contactpad.TransferInitiated, h.Transfer(tr.ID).Status, "only the assignee's answer counts")
		h.Do(answer(item, "0Bz000000000012AAA", bob, contactpad.AgentWorkDeclined))
		require.Equal(t, contactpad.TransferInitiated, h.Transfer(tr.ID).Status, "the answer to an earlier request, read again, is not this one's")
		h.Do(answer(item, "0Bz000000000015AAA", bob, contactpad.AgentWorkOpened))
		require.Equal(t, contactpad.TransferCompleted, h.Transfer(tr.ID).Status)
		i = h.Get(i.ID)
		require.Equal(t, "bob", i.Owner)
		require.Equal(t, contactpad.Connected, i.Status)
		require.Equal(t, "0Bz000000000015AAA", i.Omni.WorkID)
		last := h.LastAudit(i.ID)
		require.Equal(t, contactpad.AuditTransferred, last.Action)
		require.Equal(t, "Transferred from alice to bob: accepted by bob in Omni-Channel", last.Message)
		require.Equal(t, map[string]string{"transfer": tr.ID, "from": "alice", "to": "bob", "mode": "warm", "note": "refund",
			"agent_work": "0Bz000000000015AAA"}, last.Data)
		require.Len(t, h.Events(adapter.EventTransferAccepted), 1)
		trail := len(h.Audit(i.ID))
		h.Do(answer(item, "0Bz000000000015AAA", bob, contactpad.AgentWorkOpened))
		h.Do(answer(item, "0Bz000000000012AAA", bob, contactpad.AgentWorkDeclined))
		require.Len(t, h.Audit(i.ID), trail, "answers read again change nothing")
		require.Equal(t, "bob", h.Get(i.ID).Owner)
	})
}

// testOmniOfferOutlivesLogout: an offer out in Omni-Channel as an
// AgentWork stays when its agent logs out in ctibridge (the bridge cannot
// withdraw it, and Salesforce refuses a second one for the PSR); the
// answer read back from Omni-Channel still ends it.
func testOmniOfferOutlivesLogout(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		bob := Settings().Agents[1].CRMUserID
		h.Presence("bob", contactpad.Available)
		item := "500000000000079AAA"
		i := h.IngestItem(contactpad.WorkItem{CRMID: item, CRMObject: "Case", Media: contactpad.NonLive, Service: "support",
			Subject: "Routed by Omni", Omni: &contactpad.OmniItem{PSRID: "0JR000000000003AAA", ServiceChannelID: "0N9000000000001AAA"}})
		require.Equal(t, "bob", i.Owner)
		h.Presence("alice", contactpad.Available)
		h.Presence("bob", contactpad.LoggedOut)
		i = h.Get(i.ID)
		require.Equal(t, contactpad.Offered, i.Status)
		require.Equal(t, "bob", i.Owner)
		require.Len(t, h.agentWorks(item), 1, "no second AgentWork for the pushed PSR")
		h.Do(answer(item, "0Bz000000000021AAA", bob, contactpad.AgentWorkDeclined))
		i = h.Get(i.ID)
		require.Equal(t, "alice", i.Owner, "declined in Omni-Channel, it goes to alice")
		require.Len(t, h.agentWorks(item), 2)

		// bob accepts another AgentWork of it in Omni-Channel (one the
		// bridge made before): Salesforce gave him the work, and so does
		// the bridge; alice's offer goes.
		h.Presence("bob", contactpad.Available)
		h.Do(answer(item, "0Bz000000000022AAA", bob, contactpad.AgentWorkOpened))
		i = h.Get(i.ID)
		require.Equal(t, contactpad.Connected, i.Status)
		require.Equal(t, "bob", i.Owner)
		require.Empty(t, i.Omni.PSRID, "Salesforce deleted the PSR")
		require.Equal(t, "Accepted by bob in Omni-Channel", h.LastAudit(i.ID).Message)
	})
}
