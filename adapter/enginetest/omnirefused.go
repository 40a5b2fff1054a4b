package enginetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// omniSink writes every row's record update and audit entry, and fails
// each AgentWork create with refuse (nil: creates it). A row whose update
// or audit landed while its AgentWork failed is reported partly written,
// as the Salesforce sink reports it.
type omniSink struct {
	refuse error
	// refuseUpdate, when set, fails each record update instead, while
	// the audit entries and AgentWork land.
	refuseUpdate error
	fields       []map[string]any
	audits       []string
	works        []contactpad.AgentWorkOffer
}

func (s *omniSink) Write(_ context.Context, rows []adapter.OutboxRow) []error {
	errs := make([]error, len(rows))
	for k, r := range rows {
		var change contactpad.RecordChange
		if err := json.Unmarshal(r.Payload, &change); err != nil {
			errs[k] = &adapter.ParkError{Code: "BAD_OUTBOX_ROW", Message: err.Error()}
			continue
		}
		landed := &adapter.PartlyWrittenError{Fields: change.Fields != nil, Audit: change.Audit != nil}
		if landed.Fields && s.refuseUpdate != nil {
			landed.Fields, landed.AgentWork, landed.Err, errs[k] = false, change.AgentWork != nil, s.refuseUpdate, landed
			if change.AgentWork != nil {
				s.works = append(s.works, *change.AgentWork)
			}
			continue
		}
		if landed.Fields {
			s.fields = append(s.fields, change.Fields)
		}
		if landed.Audit {
			s.audits = append(s.audits, change.Audit.ID)
		}
		switch {
		case change.AgentWork == nil:
		case s.refuse == nil:
			s.works = append(s.works, *change.AgentWork)
		case landed.Fields || landed.Audit:
			landed.Err, errs[k] = s.refuse, landed
		default:
			errs[k] = s.refuse
		}
	}
	return errs
}

// writeOmni writes the outbox once to sink.
func (h *Harness) writeOmni(sink *omniSink, opts adapter.SyncOptions) {
	h.T.Helper()
	_, err := h.Engine.WritebackOnce(context.Background(), sink, opts)
	require.NoError(h.T, err)
}

// auditWith returns the interaction's audit entries of action.
func (h *Harness) auditWith(id string, action contactpad.AuditAction) []contactpad.AuditEntry {
	var out []contactpad.AuditEntry
	for _, e := range h.Audit(id) {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// testOmniRefused: an offer whose AgentWork the CRM refuses for good, or
// that fails until its retries run out, does not stay offered: its
// outbox row is parked and the offer goes back to routing, to another
// agent, audited with the CRM's error code (and without
// routing.push_timeout_presence: the agent missed nothing). The record's
// update and audit entry that landed beside the refused AgentWork are not
// written again, and the row, with nothing left to write, holds back none
// of the record's later rows (the new offer's AgentWork). A refusal of an
// offer that has moved on changes nothing.
func testOmniRefused(t *testing.T, open Opener) {
	bubble(t, open, func(s *adapter.Settings) { s.PushTimeoutPresence = contactpad.Busy }, func(h *Harness) {
		alice, bob := Settings().Agents[0].CRMUserID, Settings().Agents[1].CRMUserID
		h.Presence("bob", contactpad.Available)
		item := "500000000000078AAA"
		i := h.IngestItem(contactpad.WorkItem{CRMID: item, CRMObject: "Case", Media: contactpad.NonLive, Service: "support",
			Subject: "Refused by Omni", Omni: &contactpad.OmniItem{PSRID: "0JR000000000002AAA", ServiceChannelID: "0N9000000000001AAA"}})
		require.Equal(t, "bob", i.Owner)
		require.True(t, adapter.PushedToOmni(i))
		h.Presence("alice", contactpad.Available)
		require.Equal(t, "bob", h.Get(i.ID).Owner, "an offer out stays out")

		// The org refuses bob's AgentWork: alice is offered it, with an AgentWork of her own.
		refused := &omniSink{refuse: &adapter.ParkError{Code: "FIELD_INTEGRITY_EXCEPTION",
			Message: "PendingServiceRouting 0JR000000000002AAA is already pushed to an agent"}}
		h.writeOmni(refused, adapter.SyncOptions{})
		require.NotEmpty(t, refused.audits, "the offer's audit entry landed")
		got := h.Get(i.ID)
		require.Equal(t, contactpad.Offered, got.Status)
		require.Equal(t, "alice", got.Owner)
		require.True(t, adapter.PushedToOmni(got))
		requeued := h.auditWith(i.ID, contactpad.AuditRequeued)
		require.Len(t, requeued, 1)
		require.Equal(t, "Omni-Channel refused the AgentWork for bob: FIELD_INTEGRITY_EXCEPTION", requeued[0].Message)
		require.Equal(t, "FIELD_INTEGRITY_EXCEPTION", requeued[0].Data["code"])
		require.Equal(t, contactpad.ActorSystem, requeued[0].Actor)
		require.Equal(t, contactpad.Available, h.Agent("bob").Presence, "no push_timeout_presence: bob missed nothing")
		works := h.agentWorks(item)
		require.Len(t, works, 1)
		require.Equal(t, alice, works[0].UserID)
		require.Equal(t, "0JR000000000002AAA", works[0].PSRID)

		require.Empty(t, h.outbox(adapter.OutboxParked), "nothing of bob's row is left to write: it holds back no later row")
		require.Len(t, h.auditWith(i.ID, contactpad.AuditOffered), 2, "bob's offer, then alice's")

		// A refusal read again, or of an offer that moved on, changes nothing.
		trail := len(h.Audit(i.ID))
		h.Do(adapter.OmniRefused{InteractionID: i.ID, UserID: bob, Code: "FIELD_INTEGRITY_EXCEPTION"})
		h.Do(adapter.OmniRefused{InteractionID: "nope", UserID: alice, Code: "X"})
		require.Len(t, h.Audit(i.ID), trail)
		require.Equal(t, "alice", h.Get(i.ID).Owner)

		// alice's AgentWork fails until its retries run out: back to bob.
		before := len(refused.audits)
		failing := &omniSink{refuse: errors.New("salesforce: UNABLE_TO_LOCK_ROW: unable to obtain exclusive access")}
		h.writeOmni(failing, adapter.SyncOptions{MaxAttempts: 1})
		for _, id := range failing.audits {
			require.NotContains(t, refused.audits[:before], id, "no audit entry is written twice")
		}
		require.Empty(t, failing.fields, "the fields the CRM took before are not sent again")
		got = h.Get(i.ID)
		require.Equal(t, "bob", got.Owner)
		requeued = h.auditWith(i.ID, contactpad.AuditRequeued)
		require.Len(t, requeued, 2)
		require.Equal(t, "Omni-Channel refused the AgentWork for alice: RETRIES_EXHAUSTED", requeued[1].Message)
		require.Empty(t, h.outbox(adapter.OutboxParked))

		// Delivered at last, bob's offer waits for his answer in Omni-Channel.
		delivered := &omniSink{}
		h.writeOmni(delivered, adapter.SyncOptions{})
		require.Len(t, delivered.works, 1)
		require.Equal(t, bob, delivered.works[0].UserID)
		require.Equal(t, contactpad.Offered, h.Get(i.ID).Status)
		require.Len(t, h.auditWith(i.ID, contactpad.AuditRequeued), 2)

		// The org takes the next AgentWork but refuses the Case's update: the
		// row is parked with the update only; the offer is out.
		h.Presence("alice", contactpad.Available)
		other := h.IngestItem(contactpad.WorkItem{CRMID: "500000000000079AAA", CRMObject: "Case", Media: contactpad.NonLive,
			Service: "support", Subject: "Update refused", Omni: &contactpad.OmniItem{PSRID: "0JR000000000003AAA",
				ServiceChannelID: "0N9000000000001AAA"}})
		owner := other.Owner
		update := &omniSink{refuseUpdate: &adapter.ParkError{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "Subject is locked"}}
		h.writeOmni(update, adapter.SyncOptions{})
		require.Len(t, update.works, 1)
		parked := h.outbox(adapter.OutboxParked)
		require.Len(t, parked, 1)
		var change contactpad.RecordChange
		require.NoError(t, json.Unmarshal(parked[0].Payload, &change))
		require.NotEmpty(t, change.Fields, "the update waits for an admin")
		require.Nil(t, change.AgentWork, "a re-drive does not push the offer twice")
		require.Nil(t, change.Audit, "nor write the audit entry twice")
		require.Equal(t, owner, h.Get(other.ID).Owner, "the offer is out in Omni-Channel")
		require.True(t, adapter.PushedToOmni(h.Get(other.ID)))
	})
}

// testOmniRefusedWaits: after three AgentWork of one work item refused in
// a row, routing stops offering it (each would only be refused again, one
// API call each) and it waits in the queue, passed over when agents get
// free, until Omni-Channel shows it free: here an AgentWork of it
// declined there, which the poll reads back.
func testOmniRefusedWaits(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		bob := Settings().Agents[1].CRMUserID
		h.Presence("alice", contactpad.Available)
		h.Presence("bob", contactpad.Available)
		item := "500000000000080AAA"
		i := h.IngestItem(contactpad.WorkItem{CRMID: item, CRMObject: "Case", Media: contactpad.NonLive, Service: "support",
			Subject: "Refused again and again", Omni: &contactpad.OmniItem{PSRID: "0JR000000000004AAA", ServiceChannelID: "0N9000000000001AAA"}})
		refused := &omniSink{refuse: &adapter.ParkError{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "no AgentWork today"}}
		for range 3 {
			require.Equal(t, contactpad.Offered, h.Get(i.ID).Status)
			h.writeOmni(refused, adapter.SyncOptions{})
		}
		got := h.Get(i.ID)
		require.Equal(t, contactpad.Queued, got.Status)
		require.Equal(t, 3, got.Omni.Refused)
		requeued := h.auditWith(i.ID, contactpad.AuditRequeued)
		require.Len(t, requeued, 3)
		require.Contains(t, requeued[2].Message, "3 in a row: it waits until Omni-Channel answers an AgentWork of it")
		require.Len(t, h.auditWith(i.ID, contactpad.AuditOffered), 3, "three offers, no fourth")

		// Agents getting free pass it over.
		h.Presence("alice", contactpad.Busy)
		h.Presence("alice", contactpad.Available)
		require.Equal(t, contactpad.Queued, h.Get(i.ID).Status)

		// An AgentWork of it declined in Omni-Channel: its PSR waits again.
		h.Do(answer(item, "0Bz000000000031AAA", bob, contactpad.AgentWorkDeclined))
		got = h.Get(i.ID)
		require.Equal(t, contactpad.Offered, got.Status)
		require.Zero(t, got.Omni.Refused)
	})
}

// testOmniStaleAgentWork: an AgentWork whose create failed for a while
// (its row waits for a retry) is not sent once its offer has moved on
// (here: another AgentWork of the item was accepted in Omni-Channel):
// pushed late, it would hand the work to an agent who no longer has it.
// The rest of the row (its audit entry) still goes.
func testOmniStaleAgentWork(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		alice := Settings().Agents[0].CRMUserID
		h.Presence("bob", contactpad.Available)
		item := "500000000000081AAA"
		i := h.IngestItem(contactpad.WorkItem{CRMID: item, CRMObject: "Case", Media: contactpad.NonLive, Service: "support",
			Subject: "Stale push", Omni: &contactpad.OmniItem{PSRID: "0JR000000000005AAA", ServiceChannelID: "0N9000000000001AAA"}})
		require.Equal(t, "bob", i.Owner)
		failing := &omniSink{refuse: errors.New("salesforce: 503 Service Unavailable")}
		h.writeOmni(failing, adapter.SyncOptions{})
		require.Empty(t, failing.works)
		require.Len(t, h.agentWorks(item), 1, "bob's AgentWork waits for a retry")

		h.Do(answer(item, "0Bz000000000041AAA", alice, contactpad.AgentWorkOpened))
		require.Equal(t, "alice", h.Get(i.ID).Owner)

		time.Sleep(time.Minute) // past the retry's backoff
		delivered := &omniSink{}
		h.writeOmni(delivered, adapter.SyncOptions{})
		require.Empty(t, delivered.works, "bob's offer moved on: no AgentWork for him")
		require.NotEmpty(t, delivered.audits)
		require.Empty(t, h.Outbox(), "nothing left to write")
	})
}
