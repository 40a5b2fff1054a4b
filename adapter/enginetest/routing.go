package enginetest

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// testIngestIdempotent: the same CRM record ingested twice is one
// interaction; a changed record updates it without a second creation.
func testIngestIdempotent(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		item := contactpad.WorkItem{CRMID: "500000000000042AAA", CRMObject: "Case", Media: contactpad.NonLive,
			Service: "support", Subject: "Printer on fire", Priority: 1}
		first := h.IngestItem(item)
		again := h.IngestItem(item)
		require.Equal(t, first, again, "re-ingesting an unchanged record changes nothing")

		item.Subject, item.Tags = "Printer on fire (again)", []string{"vip"}
		changed := h.IngestItem(item)
		require.Equal(t, first.ID, changed.ID)
		require.Equal(t, "Printer on fire (again)", changed.Subject)
		require.Equal(t, []string{"vip"}, changed.Tags)
		require.Len(t, h.Events(adapter.EventInteractionCreated), 1)
		require.Len(t, h.Interactions(adapter.InteractionFilter{}), 1)

		h.Refused(adapter.Ingest{Item: contactpad.WorkItem{CRMID: "x", CRMObject: "Case", Media: "fax", Service: "support"}},
			adapter.CodeInvalidRequest)
		err := h.Refused(adapter.Ingest{Item: contactpad.WorkItem{CRMID: "y", CRMObject: "Case", Media: contactpad.NonLive, Service: "sales"}},
			adapter.CodeInvalidRequest)
		require.ErrorContains(t, err, `unknown service "sales"`)
	})
}

// testRoutingOrder: within a service, higher priority first, then the
// longest waiting; an agent only gets work of the services it serves, and
// the agent idle longest gets the next offer.
func testRoutingOrder(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		old := h.IngestItem(contactpad.WorkItem{CRMID: "c1", CRMObject: "Case", Media: contactpad.Live, Service: "support", Priority: 1})
		time.Sleep(time.Minute)
		urgent := h.IngestItem(contactpad.WorkItem{CRMID: "c2", CRMObject: "Case", Media: contactpad.Live, Service: "support", Priority: 5})
		time.Sleep(time.Minute)
		newer := h.IngestItem(contactpad.WorkItem{CRMID: "c3", CRMObject: "Case", Media: contactpad.Live, Service: "support", Priority: 1})
		billing := h.IngestItem(contactpad.WorkItem{CRMID: "c4", CRMObject: "Case", Media: contactpad.Live, Service: "billing", Priority: 9})
		for _, i := range []*contactpad.Interaction{old, urgent, newer, billing} {
			require.Equal(t, contactpad.Queued, h.Get(i.ID).Status, "nobody is available yet")
		}

		h.Presence("bob", contactpad.Available) // serves support only, live capacity 1
		require.Equal(t, "bob", h.Get(urgent.ID).Owner, "highest priority first")
		require.Equal(t, contactpad.Queued, h.Get(billing.ID).Status, "bob does not serve billing")
		h.Presence("carol", contactpad.Available)
		require.Equal(t, "carol", h.Get(billing.ID).Owner)

		h.Do(adapter.Decline{ID: urgent.ID, Agent: "bob"}) // back to the queue; bob is passed over
		h.Presence("alice", contactpad.Available)
		require.Equal(t, "alice", h.Get(urgent.ID).Owner, "a declined offer goes to another agent")
		require.Equal(t, "bob", h.Get(old.ID).Owner, "then the longest waiting")
		require.Equal(t, contactpad.Queued, h.Get(newer.ID).Status)
	})
	// An offer that goes back to the queue (declined, timed out) keeps its
	// place: its customer has waited since it was first queued.
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("alice", contactpad.Available)
		first := h.Ingest(contactpad.Live, "support")
		require.Equal(t, contactpad.Offered, first.Status)
		time.Sleep(time.Second) // within the push timeout
		second := h.Ingest(contactpad.Live, "support")
		time.Sleep(time.Second)
		third := h.Ingest(contactpad.Live, "support")
		h.Do(adapter.Decline{ID: first.ID, Agent: "alice"})
		require.Equal(t, "alice", h.Get(second.ID).Owner, "alice is passed over for the one she declined")
		requeued := h.Get(first.ID)
		require.Equal(t, contactpad.Queued, requeued.Status)
		require.True(t, requeued.QueuedAt.Equal(*first.QueuedAt), "queued since %v, not %v", first.QueuedAt, requeued.QueuedAt)
		h.Presence("bob", contactpad.Available)
		require.Equal(t, "bob", h.Get(first.ID).Owner, "the longest waiting, not the one queued after it")
		require.Equal(t, contactpad.Queued, h.Get(third.ID).Status)
		h.Do(adapter.Accept{ID: first.ID, Agent: "bob"})
		require.Nil(t, h.Get(first.ID).QueuedAt, "no longer waiting")
	})
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("alice", contactpad.Available)
		time.Sleep(time.Second)
		h.Presence("bob", contactpad.Available)
		first := h.Ingest(contactpad.NonLive, "support")
		second := h.Ingest(contactpad.NonLive, "support")
		require.Equal(t, "alice", first.Owner, "the agent who waited longest for work first")
		require.Equal(t, "bob", second.Owner, "then the next")
	})
}

// testRoutingCapacity: only available agents get offers, never more than
// their capacity per media type; freed capacity pulls the next in queue.
func testRoutingCapacity(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("bob", contactpad.Interruptible)
		var emails []*contactpad.Interaction
		for range 7 {
			emails = append(emails, h.Ingest(contactpad.NonLive, "support"))
		}
		chat := h.Ingest(contactpad.SemiLive, "support")
		require.Empty(t, h.Interactions(adapter.InteractionFilter{Owner: "bob"}), "interruptible agents get no offers")

		h.Presence("bob", contactpad.Available)
		load := h.Load("bob")
		require.Equal(t, []int{0, 1, 5}, []int{load[contactpad.Live], load[contactpad.SemiLive], load[contactpad.NonLive]})
		require.Equal(t, contactpad.Connected, h.Get(chat.ID).Status, "semi-live auto-accepts by default")
		for _, i := range emails[:5] {
			require.Equal(t, contactpad.Connected, h.Get(i.ID).Status)
		}
		for _, i := range emails[5:] {
			require.Equal(t, contactpad.Queued, h.Get(i.ID).Status, "non-live capacity 5 is full")
		}

		h.Do(adapter.Release{ID: emails[0].ID, Agent: "bob"})
		require.Equal(t, contactpad.Queued, h.Get(emails[5].ID).Status, "wrap-up still holds capacity")
		h.Do(adapter.FinishWrapUp{ID: emails[0].ID, Agent: "bob"})
		require.Equal(t, "bob", h.Get(emails[5].ID).Owner, "completion frees capacity for the next")
		require.Equal(t, 5, h.Load("bob")[contactpad.NonLive])

		h.Presence("bob", contactpad.Busy)
		h.Do(adapter.Release{ID: emails[1].ID, Agent: "bob"})
		h.Do(adapter.FinishWrapUp{ID: emails[1].ID, Agent: "bob"})
		require.Equal(t, contactpad.Queued, h.Get(emails[6].ID).Status, "busy agents get no offers")
	})
}

// testReleaseAllBeforeNext: with the policy on, an agent gets the next
// interaction only when it holds none.
func testReleaseAllBeforeNext(t *testing.T, open Opener) {
	bubble(t, open, func(s *adapter.Settings) { s.ReleaseAllBeforeNext = true }, func(h *Harness) {
		h.Presence("bob", contactpad.Available)
		first := h.Ingest(contactpad.NonLive, "support")
		second := h.Ingest(contactpad.SemiLive, "support")
		require.Equal(t, "bob", first.Owner)
		require.Equal(t, contactpad.Queued, second.Status, "bob holds one already")
		h.Do(adapter.Release{ID: first.ID, Agent: "bob"})
		require.Equal(t, contactpad.Queued, h.Get(second.ID).Status, "wrap-up is not yet released")
		h.Do(adapter.FinishWrapUp{ID: first.ID, Agent: "bob"})
		require.Equal(t, "bob", h.Get(second.ID).Owner)
		// Resuming from History needs room too; the refusal says why in
		// words, though bob's cases are far from full.
		err := h.Refused(adapter.Resume{ID: first.ID, Agent: "bob"}, adapter.CodeConflict)
		require.Equal(t, "Finish the work you hold first: new work comes only when you hold none.", adapter.Explain(err))
	})
}

// testOffers: live interactions are offered (alerting) until accepted; a
// declined offer goes to another agent with the reason in the audit.
func testOffers(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("bob", contactpad.Available)
		call := h.Ingest(contactpad.Live, "support")
		require.Equal(t, contactpad.Offered, call.Status)
		require.Equal(t, "bob", call.Owner)
		require.Len(t, h.Events(adapter.EventInteractionOffered), 1)
		require.WithinDuration(t, time.Now().Add(20*time.Second), *call.OfferExpiresAt, time.Millisecond)

		h.Presence("alice", contactpad.Available)
		h.Do(adapter.Decline{ID: call.ID, Agent: "bob", Reason: "on a break"})
		call = h.Get(call.ID)
		require.Equal(t, "alice", call.Owner, "re-routed to another agent")
		require.Equal(t, contactpad.Offered, call.Status)
		declined := h.Audit(call.ID)[2]
		require.Equal(t, contactpad.AuditDeclined, declined.Action)
		require.Equal(t, "on a break", declined.Data["reason"])

		h.Do(adapter.Accept{ID: call.ID, Agent: "alice"})
		call = h.Get(call.ID)
		require.Equal(t, contactpad.Connected, call.Status)
		require.Nil(t, call.OfferExpiresAt)
		require.Equal(t, contactpad.Available, h.Agent("bob").Presence, "declining keeps the agent available")
	})
	bubble(t, open, func(s *adapter.Settings) { s.AutoAccept[contactpad.Live] = true }, func(h *Harness) {
		h.Presence("bob", contactpad.Available)
		require.Equal(t, contactpad.Connected, h.Ingest(contactpad.Live, "support").Status, "auto-accept connects at once")
	})
}

// testPushTimeout: an offer nobody answers goes back to the queue after the
// push timeout, the agent's presence changes as configured, and the
// interaction is re-routed.
func testPushTimeout(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("bob", contactpad.Available)
		call := h.Ingest(contactpad.Live, "support")
		h.Presence("alice", contactpad.Available)
		require.Equal(t, "bob", call.Owner)

		time.Sleep(20*time.Second - slack)
		require.Equal(t, contactpad.Offered, h.Get(call.ID).Status, "not before the push timeout")
		time.Sleep(2 * slack)
		synctest.Wait()
		call = h.Get(call.ID)
		require.Equal(t, "alice", call.Owner, "re-routed after the push timeout")
		require.Equal(t, contactpad.Offered, call.Status)
		require.Equal(t, contactpad.Busy, h.Agent("bob").Presence, "push_timeout_presence")
		require.Contains(t, actions(h.Audit(call.ID)), "offer_timeout")

		time.Sleep(20*time.Second + slack)
		synctest.Wait()
		require.Equal(t, contactpad.Queued, h.Get(call.ID).Status, "nobody else is available")
		h.Presence("bob", contactpad.Available)
		require.Equal(t, "bob", h.Get(call.ID).Owner, "an agent who is ready again may get it")
	})
}

// testLateOfferTimeout: an offer whose timeout fires late (the bridge was
// not running, or its store was down, so the agent's Accept could not get
// through) goes to the next agent as any unanswered offer, but the agent's
// presence stays: it was not their doing.
func testLateOfferTimeout(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("bob", contactpad.Available)
		call := h.Ingest(contactpad.Live, "support")
		require.Equal(t, "bob", call.Owner)
		h.Presence("alice", contactpad.Available)
		h.Crash()
		time.Sleep(time.Minute) // down past the push timeout
		h.Restart(Settings())
		synctest.Wait()
		require.Equal(t, "alice", h.Get(call.ID).Owner, "the next agent")
		require.Equal(t, contactpad.Available, h.Agent("bob").Presence, "not bob's fault")
		var timeout contactpad.AuditEntry
		for _, e := range h.Audit(call.ID) {
			if e.Action == contactpad.AuditOfferTimeout {
				timeout = e
			}
		}
		require.Equal(t, "Not answered by bob within 20s: the bridge could not take answers for 40s", timeout.Message)
	})
}

// testLogoutWithdrawsOffers: an agent who logs out loses its pending offers
// to routing.
func testLogoutWithdrawsOffers(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("bob", contactpad.Available)
		call := h.Ingest(contactpad.Live, "support")
		h.Presence("bob", contactpad.LoggedOut)
		require.Equal(t, contactpad.Queued, h.Get(call.ID).Status)
		require.Empty(t, h.Timers(time.Now().Add(time.Hour)), "the offer timer is cleared")
	})
}

func actions(trail []contactpad.AuditEntry) []string {
	out := make([]string, len(trail))
	for k, e := range trail {
		out[k] = string(e.Action)
	}
	return out
}

// testResultIsTheCommandsInteraction: a command answers with the
// interaction it acted on, also when it frees capacity and the next one in
// queue is routed in the same transaction (the API returns it to the
// agent as the outcome of the click).
func testResultIsTheCommandsInteraction(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("bob", contactpad.Available) // live capacity 1
		first := h.Ingest(contactpad.Live, "support")
		second := h.Ingest(contactpad.Live, "support")
		require.Equal(t, contactpad.Offered, first.Status)
		require.Equal(t, contactpad.Queued, second.Status)

		res := h.Do(adapter.Accept{ID: first.ID, Agent: "bob"})
		require.Equal(t, first.ID, res.Interaction.ID)
		require.Equal(t, contactpad.Connected, res.Interaction.Status)
		h.Do(adapter.Release{ID: first.ID, Agent: "bob"})
		res = h.Do(adapter.FinishWrapUp{ID: first.ID, Agent: "bob"})
		require.Equal(t, contactpad.Offered, h.Get(second.ID).Status, "the next one is routed in the same command")
		require.Equal(t, first.ID, res.Interaction.ID, "the answer is the interaction the command acted on")
		require.Equal(t, contactpad.Completed, res.Interaction.Status)
	})
}
