package enginetest

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// testWarmTransfer: the initiator writes a note; the target gets the
// request with the note, accepts; the initiator keeps working until
// "Transfer now"; then the target owns it, sees the history and the note,
// and the initiator's capacity is free.
func testWarmTransfer(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		call := h.Connected("alice", contactpad.Live)
		h.Presence("bob", contactpad.Available)
		res := h.Do(adapter.StartTransfer{ID: call.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"},
			Mode: contactpad.Warm, Note: "Wants a refund for order 1138"})
		tr := h.Transfer(res.Transfer.ID)
		require.Equal(t, contactpad.TransferInitiated, tr.Status)
		require.Equal(t, "bob", tr.Assignee)
		require.WithinDuration(t, time.Now().Add(30*time.Second), *tr.ExpiresAt, time.Millisecond, "accept timeout 30s by default")
		requested := h.Events(adapter.EventTransferRequested)
		require.Len(t, requested, 1)
		require.Equal(t, "Wants a refund for order 1138", requested[0].Transfer.Note)
		require.ElementsMatch(t, []string{"alice", "bob"}, requested[0].Audience)
		require.Equal(t, 1, h.Load("bob")[contactpad.Live], "the request holds bob's capacity")

		h.Do(adapter.Hold{ID: call.ID, Agent: "alice"}) // the initiator keeps working meanwhile
		h.Refused(adapter.CompleteTransfer{TransferID: tr.ID, Agent: "alice"}, adapter.CodeInvalidTransition)
		h.Refused(adapter.AcceptTransfer{TransferID: tr.ID, Agent: "carol"}, adapter.CodeForbidden)
		h.Do(adapter.AcceptTransfer{TransferID: tr.ID, Agent: "bob"})
		require.Equal(t, contactpad.TransferAccepted, h.Transfer(tr.ID).Status)
		h.Refused(adapter.CompleteTransfer{TransferID: tr.ID, Agent: "bob"}, adapter.CodeForbidden)
		h.Do(adapter.CompleteTransfer{TransferID: tr.ID, Agent: "alice"})

		call = h.Get(call.ID)
		require.Equal(t, "bob", call.Owner)
		require.Equal(t, contactpad.Connected, call.Status)
		require.False(t, call.Held)
		require.Equal(t, "Wants a refund for order 1138", call.TransferNote, "the new owner sees the note")
		require.Equal(t, contactpad.TransferCompleted, h.Transfer(tr.ID).Status)
		require.Equal(t, 0, h.Load("alice")[contactpad.Live])
		require.Equal(t, 1, h.Load("bob")[contactpad.Live])
		last := h.LastAudit(call.ID)
		require.Equal(t, contactpad.AuditTransferred, last.Action)
		require.Equal(t, "Wants a refund for order 1138", last.Data["note"])
		require.Len(t, h.Events(adapter.EventTransferCompleted), 1)
	})
	bubble(t, open, nil, func(h *Harness) { // warm transfer to a service: the first available agent
		email := h.Connected("alice", contactpad.NonLive)
		h.Presence("carol", contactpad.Available)
		res := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Service: "billing"}, Note: "VAT question"})
		require.Equal(t, "carol", res.Transfer.Assignee, "alice is the initiator, carol serves billing")
		h.Do(adapter.AcceptTransfer{TransferID: res.Transfer.ID, Agent: "carol"})
		h.Do(adapter.CompleteTransfer{TransferID: res.Transfer.ID, Agent: "alice"})
		require.Equal(t, "carol", h.Get(email.ID).Owner)
	})
}

// testWarmTransferFails: declined, or not accepted within the accept
// timeout: the transfer stops with the reason, the initiator keeps the
// interaction, and the note is kept for the next attempt.
func testWarmTransferFails(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		email := h.Connected("alice", contactpad.NonLive)
		h.Presence("bob", contactpad.Available)
		first := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}, Note: "Escalation"}).Transfer

		time.Sleep(30*time.Second - slack)
		synctest.Wait()
		require.Equal(t, contactpad.TransferInitiated, h.Transfer(first.ID).Status, "not before the accept timeout")
		time.Sleep(2 * slack)
		synctest.Wait()
		failed := h.Transfer(first.ID)
		require.Equal(t, contactpad.TransferFailed, failed.Status)
		require.Equal(t, contactpad.FailedTimeout, failed.FailedReason)
		require.Equal(t, "Escalation", failed.Note)
		email = h.Get(email.ID)
		require.Equal(t, "alice", email.Owner, "the initiator keeps the interaction")
		require.Equal(t, contactpad.Connected, email.Status)
		require.Equal(t, "Escalation", email.TransferNote, "the note is kept for the next attempt")
		require.Equal(t, 0, h.Load("bob")[contactpad.NonLive])
		events := h.Events(adapter.EventTransferFailed)
		require.Len(t, events, 1)
		require.Equal(t, "timeout", events[0].Transfer.FailedReason)
		require.Equal(t, "timeout", h.LastAudit(email.ID).Data["failed_reason"])
		h.Refused(adapter.AcceptTransfer{TransferID: first.ID, Agent: "bob"}, adapter.CodeInvalidTransition)

		second := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}).Transfer
		h.Do(adapter.DeclineTransfer{TransferID: second.ID, Agent: "bob", Reason: "not my area"})
		declined := h.Transfer(second.ID)
		require.Equal(t, contactpad.TransferFailed, declined.Status)
		require.Equal(t, contactpad.FailedDeclined, declined.FailedReason)
		require.Equal(t, "not my area", declined.DeclineReason)
		require.Equal(t, "Escalation", h.Get(email.ID).TransferNote, "an attempt without a note keeps the old one")

		third := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}).Transfer
		h.Do(adapter.CancelTransfer{TransferID: third.ID, Agent: "alice"})
		require.Equal(t, contactpad.TransferCanceled, h.Transfer(third.ID).Status)

		fourth := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}).Transfer
		h.Do(adapter.Release{ID: email.ID, Agent: "alice"})
		require.Equal(t, contactpad.TransferCanceled, h.Transfer(fourth.ID).Status, "release cancels a pending transfer")
		for _, timer := range h.Timers(time.Now().Add(time.Minute)) {
			require.NotEqual(t, adapter.TimerTransferAccept, timer.Kind, "its accept timer is cleared too")
		}
	})
}

// testTransferDelivery: a warm request reaches a busy agent when it becomes
// available, a logged-out one when it logs in, within the accept timeout
// that runs from the request.
func testTransferDelivery(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		email := h.Connected("alice", contactpad.NonLive)
		h.Presence("bob", contactpad.Busy)
		tr := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}).Transfer
		require.Empty(t, tr.Assignee, "bob is busy: not delivered yet")
		require.WithinDuration(t, time.Now().Add(30*time.Second), *tr.ExpiresAt, time.Millisecond, "the clock starts at the request")
		require.Empty(t, h.Events(adapter.EventTransferRequested))
		h.Refused(adapter.AcceptTransfer{TransferID: tr.ID, Agent: "bob"}, adapter.CodeInvalidTransition) // named, not delivered yet
		h.Refused(adapter.AcceptTransfer{TransferID: tr.ID, Agent: "carol"}, adapter.CodeForbidden)

		time.Sleep(20 * time.Second)
		synctest.Wait()
		h.Presence("bob", contactpad.Available)
		tr = h.Transfer(tr.ID)
		require.Equal(t, "bob", tr.Assignee)
		require.WithinDuration(t, time.Now().Add(10*time.Second), *tr.ExpiresAt, time.Millisecond, "delivery does not restart the clock")
		require.Len(t, h.Events(adapter.EventTransferRequested), 1)

		// Logged out, bob cannot take it; back within the timeout, he can.
		h.Presence("bob", contactpad.LoggedOut)
		h.Refused(adapter.AcceptTransfer{TransferID: tr.ID, Agent: "bob"}, adapter.CodeConflict)
		h.Refused(adapter.AcceptTransfer{TransferID: tr.ID}, adapter.CodeConflict) // nor an admin for him
		require.Equal(t, contactpad.TransferInitiated, h.Transfer(tr.ID).Status)
		h.Presence("bob", contactpad.Available)
		h.Do(adapter.AcceptTransfer{TransferID: tr.ID, Agent: "bob"})
		h.Do(adapter.CompleteTransfer{TransferID: tr.ID, Agent: "alice"})
		require.Equal(t, "bob", h.Get(email.ID).Owner)
	})
}

// testTransferBeforeTheQueue: an agent who becomes available takes the
// warm transfers waiting for them before queued work, which would
// otherwise fill their room and leave the colleague handing a customer
// over waiting until the transfer times out.
func testTransferBeforeTheQueue(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		email := h.Connected("alice", contactpad.NonLive)
		h.Presence("bob", contactpad.Busy)
		tr := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}).Transfer
		h.Presence("alice", contactpad.Busy)
		for range 6 {
			require.Equal(t, contactpad.Queued, h.Ingest(contactpad.NonLive, "support").Status, "nobody available")
		}

		h.Presence("bob", contactpad.Available)
		require.Equal(t, "bob", h.Transfer(tr.ID).Assignee, "delivered, ahead of the queue")
		require.Len(t, h.Events(adapter.EventTransferRequested), 1)
		require.Equal(t, 5, h.Load("bob")[contactpad.NonLive], "the transfer and four queued Cases")
		require.Len(t, h.Interactions(adapter.InteractionFilter{Statuses: []contactpad.Status{contactpad.Queued}}), 2)
		h.Do(adapter.AcceptTransfer{TransferID: tr.ID, Agent: "bob"})
	})
}

// testTransferNobodyCanTake (issue 13, 3): a warm transfer to an agent who
// is logged out or full, or to a service nobody can take it in, fails at
// the accept timeout from the request, with a reason the sender sees; the
// sender keeps the work and the note.
func testTransferNobodyCanTake(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name   string
		setup  func(h *Harness)
		target contactpad.Target
	}{
		{"a logged-out agent", func(h *Harness) {}, contactpad.Target{Agent: "bob"}},
		{"a full agent", func(h *Harness) {
			h.Presence("alice", contactpad.Busy) // so that support's work goes to bob
			for range 5 {
				h.Connected("bob", contactpad.NonLive)
			}
			h.Presence("alice", contactpad.Available)
		}, contactpad.Target{Agent: "bob"}},
		{"a service with nobody free", func(h *Harness) {}, contactpad.Target{Service: "billing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bubble(t, open, nil, func(h *Harness) {
				email := h.Connected("alice", contactpad.NonLive)
				tc.setup(h)
				tr := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: tc.target, Note: "wants a refund"}).Transfer
				require.Empty(t, tr.Assignee, "nobody can take it now")
				require.NotNil(t, tr.ExpiresAt, "it expires all the same")

				time.Sleep(31 * time.Second)
				synctest.Wait()
				tr = h.Transfer(tr.ID)
				require.Equal(t, contactpad.TransferFailed, tr.Status)
				require.Equal(t, contactpad.FailedTimeout, tr.FailedReason)
				failed := h.Events(adapter.EventTransferFailed)
				require.Len(t, failed, 1)
				require.Contains(t, failed[0].Audience, "alice", "the sender hears of it")
				last := h.LastAudit(email.ID)
				require.Equal(t, contactpad.AuditTransferFailed, last.Action)
				require.Contains(t, last.Message, "nobody could take it within 30s")
				i := h.Get(email.ID)
				require.Equal(t, "alice", i.Owner)
				require.Equal(t, contactpad.Connected, i.Status)
				require.Equal(t, "wants a refund", i.TransferNote, "the note is kept for the next attempt")

				retry := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: tc.target}).Transfer
				require.Equal(t, "wants a refund", retry.Note, "a retry without a note carries the saved one")
			})
		})
	}
}

// testColdTransfer: reassign now, to an agent (offered at once when
// available, reserved for it until it is) or to a service's queue.
func testColdTransfer(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		email := h.Connected("alice", contactpad.NonLive)
		res := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"},
			Mode: contactpad.Cold, Note: "Over to you"})
		require.Equal(t, contactpad.TransferCompleted, res.Transfer.Status)
		email = h.Get(email.ID)
		require.Equal(t, contactpad.Queued, email.Status, "bob is logged out: reserved for him")
		require.Equal(t, "bob", email.TargetAgent)
		require.Equal(t, 0, h.Load("alice")[contactpad.NonLive], "the initiator lets go at once")

		h.Presence("carol", contactpad.Available)
		h.Presence("alice", contactpad.Available)
		require.Equal(t, contactpad.Queued, h.Get(email.ID).Status, "nobody else gets it")
		h.Presence("bob", contactpad.Available)
		email = h.Get(email.ID)
		require.Equal(t, "bob", email.Owner, "delivered when bob logs in")
		require.Equal(t, "Over to you", email.TransferNote)

		toService := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "bob", Target: contactpad.Target{Service: "billing"}, Mode: contactpad.Cold})
		email = h.Get(email.ID)
		require.Equal(t, "billing", email.Service)
		require.Contains(t, []string{"alice", "carol"}, email.Owner, "routed to the first available billing agent")
		require.Equal(t, contactpad.TransferCompleted, toService.Transfer.Status)
	})
}

// testTransferResultIsTheCommands: a command answers with its own
// transfer, and a command on an interaction with the interaction, also
// when routing delivers someone else's waiting transfer in the same
// transaction.
func testTransferResultIsTheCommands(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		bobs := h.Connected("bob", contactpad.Live) // live capacity 1: full
		alices := h.Connected("alice", contactpad.Live)
		res := h.Do(adapter.StartTransfer{ID: alices.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}, Mode: contactpad.Warm})
		require.Equal(t, alices.ID, res.Transfer.InteractionID)
		waiting := res.Transfer.ID
		require.Empty(t, h.Transfer(waiting).Assignee, "bob has no room yet")

		h.Do(adapter.Release{ID: bobs.ID, Agent: "bob"})
		res = h.Do(adapter.FinishWrapUp{ID: bobs.ID, Agent: "bob"})
		require.Equal(t, "bob", h.Transfer(waiting).Assignee, "delivered on the side")
		require.Nil(t, res.Transfer, "finishing wrap-up answers with the interaction")
		require.Equal(t, bobs.ID, res.Interaction.ID)

		res = h.Do(adapter.AcceptTransfer{TransferID: waiting, Agent: "bob"})
		require.Equal(t, waiting, res.Transfer.ID)
		require.Equal(t, contactpad.TransferAccepted, res.Transfer.Status)
	})
}
