package enginetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// The seeds' behaviour under load and with unusual targets (issue 13).

// testDeferredKeepsItsSlot: with a queue longer than the agent's capacity,
// the slot a deferral frees is refilled at once; at the due date the work
// still goes back into its owner's Ongoing folder, over capacity, and the
// owner works it. Routing offers the owner nothing new until they are under
// capacity again.
func testDeferredKeepsItsSlot(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("bob", contactpad.Available)
		var emails []*contactpad.Interaction
		for range 8 {
			emails = append(emails, h.Ingest(contactpad.NonLive, "support"))
		}
		require.Equal(t, 5, h.Load("bob")[contactpad.NonLive], "bob is full; three wait")
		deferred := emails[0]
		due := time.Now().Add(time.Hour)
		h.Do(adapter.Defer{ID: deferred.ID, Agent: "bob", DueBy: &due})
		require.Equal(t, 5, h.Load("bob")[contactpad.NonLive], "the freed slot is refilled at once")

		time.Sleep(time.Hour + slack)
		i := h.Get(deferred.ID)
		require.Equal(t, contactpad.Connected, i.Status, "back at its due date")
		require.Equal(t, "bob", i.Owner, "into its owner's Ongoing folder, not routing")
		require.True(t, i.AutoOpenedDueToDueDate)
		require.Equal(t, 6, h.Load("bob")[contactpad.NonLive], "over capacity by its own slot")
		require.Contains(t, h.LastAudit(i.ID).Message, "into bob's Ongoing folder")

		queued := len(h.Interactions(adapter.InteractionFilter{Statuses: []contactpad.Status{contactpad.Queued}}))
		h.Do(adapter.Release{ID: emails[1].ID, Agent: "bob"})
		h.Do(adapter.FinishWrapUp{ID: emails[1].ID, Agent: "bob"})
		require.Len(t, h.Interactions(adapter.InteractionFilter{Statuses: []contactpad.Status{contactpad.Queued}}), queued,
			"back at capacity, not under it: nothing new")
		h.Do(adapter.Release{ID: deferred.ID, Agent: "bob"})
		h.Do(adapter.FinishWrapUp{ID: deferred.ID, Agent: "bob"})
		require.Len(t, h.Interactions(adapter.InteractionFilter{Statuses: []contactpad.Status{contactpad.Queued}}), queued-1,
			"under capacity again: the next one")

		// The owner's own reopen before the due date needs no free slot either.
		again := emails[2]
		later := time.Now().Add(24 * time.Hour)
		h.Do(adapter.Defer{ID: again.ID, Agent: "bob", DueBy: &later})
		require.Equal(t, 5, h.Load("bob")[contactpad.NonLive])
		h.Do(adapter.Reopen{ID: again.ID, Agent: "bob"})
		require.Equal(t, contactpad.Connected, h.Get(again.ID).Status)
		require.Equal(t, 6, h.Load("bob")[contactpad.NonLive])
	})

	bubble(t, open, nil, func(h *Harness) {
		email := h.Connected("bob", contactpad.NonLive)
		due := time.Now().Add(time.Hour)
		h.Do(adapter.Defer{ID: email.ID, Agent: "bob", DueBy: &due})
		h.Presence("bob", contactpad.LoggedOut)
		h.Presence("alice", contactpad.Available)
		time.Sleep(time.Hour + slack)
		i := h.Get(email.ID)
		require.Equal(t, "alice", i.Owner, "its owner logged out: back to routing")
		require.Contains(t, h.Audit(i.ID)[len(h.Audit(i.ID))-2].Message, "returned to routing")
	})
}

// testTransferNeverBackToSender: the sender is excluded from a transfer's
// routing, warm or cold, until another agent has taken the work, unless
// they say so for a cold transfer to a service nobody else can take.
func testTransferNeverBackToSender(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		email := h.Connected("alice", contactpad.NonLive) // alice and bob serve support; bob is logged out
		h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Service: "support"}, Mode: contactpad.Cold})
		i := h.Get(email.ID)
		require.Equal(t, contactpad.Queued, i.Status, "not back to alice in the same instant")
		require.Equal(t, "alice", i.TransferredFrom)
		h.Presence("alice", contactpad.Busy)
		h.Presence("alice", contactpad.Available)
		require.Equal(t, contactpad.Queued, h.Get(email.ID).Status, "nor when alice is ready again")

		h.Presence("bob", contactpad.Available)
		i = h.Get(email.ID)
		require.Equal(t, "bob", i.Owner)
		require.Empty(t, i.TransferredFrom, "taken by another agent: the sender is no longer excluded")
	})

	bubble(t, open, nil, func(h *Harness) {
		call := h.Connected("alice", contactpad.Live) // calls are offered
		h.Do(adapter.StartTransfer{ID: call.ID, Agent: "alice", Target: contactpad.Target{Service: "support"}, Mode: contactpad.Cold})
		h.Presence("bob", contactpad.Available)
		require.Equal(t, "bob", h.Get(call.ID).Owner, "offered to bob")
		h.Do(adapter.Decline{ID: call.ID, Agent: "bob", Reason: "on a break"})
		i := h.Get(call.ID)
		require.Equal(t, contactpad.Queued, i.Status, "declined: neither bob nor the sender gets it")
		require.Equal(t, "alice", i.TransferredFrom)
	})

	bubble(t, open, nil, func(h *Harness) {
		email := h.Connected("alice", contactpad.NonLive)
		h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Service: "support"},
			Mode: contactpad.Cold, IncludeSender: true})
		i := h.Get(email.ID)
		require.Equal(t, "alice", i.Owner, "include_sender: back to alice, the only agent who can take it")
		require.Equal(t, contactpad.Connected, i.Status)

		h.Presence("bob", contactpad.Available)
		h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Service: "support"},
			Mode: contactpad.Cold, IncludeSender: true})
		require.Equal(t, "bob", h.Get(email.ID).Owner, "include_sender still prefers another agent")

		err := h.Refused(adapter.StartTransfer{ID: email.ID, Agent: "bob", Target: contactpad.Target{Service: "support"},
			Mode: contactpad.Warm, IncludeSender: true}, adapter.CodeInvalidRequest)
		require.ErrorContains(t, err, "include_sender")
	})

	bubble(t, open, nil, func(h *Harness) {
		email := h.Connected("alice", contactpad.NonLive)
		tr := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Service: "support"}}).Transfer
		require.Empty(t, h.Transfer(tr.ID).Assignee, "a warm request is never delivered to its sender")
		h.Presence("alice", contactpad.Busy)
		h.Presence("alice", contactpad.Available)
		require.Empty(t, h.Transfer(tr.ID).Assignee)
		h.Presence("bob", contactpad.Available)
		require.Equal(t, "bob", h.Transfer(tr.ID).Assignee)
	})
}

// testRoutedAtStart: work that waits in the queue goes to the agents who
// are available when the engine starts (here: an admin gave bob the
// billing service and restarted), without anyone changing presence.
func testRoutedAtStart(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("bob", contactpad.Available)
		var waiting []*contactpad.Interaction
		for range 3 {
			waiting = append(waiting, h.Ingest(contactpad.NonLive, "billing"))
		}
		require.Equal(t, contactpad.Queued, h.Get(waiting[0].ID).Status, "nobody serves billing yet")
		h.Stop()

		s := Settings()
		s.Agents[1].Services = []string{"support", "billing"}
		h.Restart(s)
		for _, i := range waiting {
			require.Equal(t, "bob", h.Get(i.ID).Owner, "routed at start")
		}
	})
}

// testReleaseAllDeliversMany: under release_all_before_next, an agent who
// has released everything is given the next interactions up to capacity,
// not one.
func testReleaseAllDeliversMany(t *testing.T, open Opener) {
	bubble(t, open, func(s *adapter.Settings) { s.ReleaseAllBeforeNext = true }, func(h *Harness) {
		var emails []*contactpad.Interaction
		for range 7 {
			emails = append(emails, h.Ingest(contactpad.NonLive, "support"))
		}
		h.Presence("bob", contactpad.Available)
		require.Equal(t, 5, h.Load("bob")[contactpad.NonLive], "the next interactions, up to capacity")

		h.Do(adapter.Release{ID: emails[0].ID, Agent: "bob"})
		h.Do(adapter.FinishWrapUp{ID: emails[0].ID, Agent: "bob"})
		require.Equal(t, 4, h.Load("bob")[contactpad.NonLive], "nothing new until everything is released")
		for _, i := range emails[1:5] {
			h.Do(adapter.Release{ID: i.ID, Agent: "bob"})
			h.Do(adapter.FinishWrapUp{ID: i.ID, Agent: "bob"})
		}
		require.Equal(t, 2, h.Load("bob")[contactpad.NonLive], "all released: the rest of the queue")
	})
}

// testRoutingPastOtherMedia: an agent with room for a media type gets work
// of it however much work of other media types waits ahead of it.
func testRoutingPastOtherMedia(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Connected("bob", contactpad.Live) // live capacity 1: full
		h.Presence("bob", contactpad.Busy)
		for range 40 {
			h.Ingest(contactpad.Live, "support")
		}
		email := h.Ingest(contactpad.NonLive, "support")
		require.Equal(t, contactpad.Queued, h.Get(email.ID).Status)
		h.Presence("bob", contactpad.Available)
		require.Equal(t, "bob", h.Get(email.ID).Owner, "past 40 calls bob has no room for")
	})
}

// testAuditMessages: every audit entry an agent's step writes says what
// happened and who did it; it becomes the CRM's Task.
func testAuditMessages(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		call := h.Connected("bob", contactpad.Live)
		h.Do(adapter.Hold{ID: call.ID, Agent: "bob"})
		require.Equal(t, "Put on hold by bob", h.LastAudit(call.ID).Message)
		h.Do(adapter.Retrieve{ID: call.ID, Agent: "bob"})
		require.Equal(t, "Taken off hold by bob", h.LastAudit(call.ID).Message)
		h.Do(adapter.Release{ID: call.ID, Agent: "bob"})
		require.Equal(t, "Released by bob", h.LastAudit(call.ID).Message)

		chat := h.Connected("bob", contactpad.SemiLive)
		h.Do(adapter.Abandon{ID: chat.ID, Agent: "bob", Confirm: true, Reason: "customer left"})
		last := h.LastAudit(chat.ID)
		require.Equal(t, "Abandoned by bob: customer left", last.Message)
		require.Equal(t, "customer left", last.Data["reason"])

		email := h.Connected("bob", contactpad.NonLive)
		h.Do(adapter.Release{ID: email.ID, Agent: "bob"})
		h.Do(adapter.FinishWrapUp{ID: email.ID, Agent: "bob"})
		h.Do(adapter.Resume{ID: email.ID})
		resumed := lastOf(h.Audit(email.ID), contactpad.AuditResumed)
		require.Equal(t, "Interaction resumed by an admin", resumed.Message)
		require.Equal(t, contactpad.ActorAdmin, resumed.Actor)
		require.Equal(t, "bob", h.Get(email.ID).Owner, "routed again")
		h.Do(adapter.Release{ID: email.ID, Agent: "bob"})
		h.Do(adapter.FinishWrapUp{ID: email.ID, Agent: "bob"})
		h.Do(adapter.Resume{ID: email.ID, Agent: "bob"})
		require.Equal(t, "Interaction resumed by an agent", h.LastAudit(email.ID).Message)
		for _, i := range []*contactpad.Interaction{call, chat, email} {
			for _, e := range h.Audit(i.ID) {
				require.NotEmpty(t, e.Message, "%s's %s entry has a message", i.ID, e.Action)
			}
		}
	})
}

// lastOf is the last entry of trail with action.
func lastOf(trail []contactpad.AuditEntry, action contactpad.AuditAction) contactpad.AuditEntry {
	for k := len(trail) - 1; k >= 0; k-- {
		if trail[k].Action == action {
			return trail[k]
		}
	}
	return contactpad.AuditEntry{}
}

// testReconfigure: a reloaded config takes effect at once: an agent no
// longer configured is logged out and its offer goes to another; raised
// capacity takes the work that waited; a new agent exists, logged out; new
// timeouts apply to what happens next.
func testReconfigure(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		for range 5 {
			h.Connected("alice", contactpad.NonLive) // full
		}
		waiting := h.Ingest(contactpad.NonLive, "billing")
		require.Equal(t, contactpad.Queued, waiting.Status)
		h.Presence("bob", contactpad.Available)
		call := h.Ingest(contactpad.Live, "support")
		require.Equal(t, "bob", h.Get(call.ID).Owner, "offered to bob")
		h.Presence("alice", contactpad.Available)

		s := Settings()
		s.Agents = []contactpad.Agent{s.Agents[0], s.Agents[2],
			{ID: "dave", Name: "Dave", Services: []string{"support"}, Capacity: s.Agents[0].Capacity}}
		s.Agents[0].Capacity = contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 3, contactpad.NonLive: 6}
		s.PushTimeout = 5 * time.Second
		require.NoError(t, h.Engine.Reconfigure(context.Background(), s))

		require.Equal(t, contactpad.LoggedOut, h.Agent("bob").Presence, "bob is no longer configured")
		i := h.Get(call.ID)
		require.Equal(t, "alice", i.Owner, "bob's offer went to another agent")
		require.WithinDuration(t, time.Now().Add(5*time.Second), *i.OfferExpiresAt, time.Millisecond, "the new push timeout")
		require.Equal(t, "alice", h.Get(waiting.ID).Owner, "alice's raised capacity took the waiting case")
		require.Equal(t, contactpad.LoggedOut, h.Agent("dave").Presence, "a new agent starts logged out")
		h.Presence("dave", contactpad.Available)
		require.Equal(t, 6, h.Engine.Settings().Agents[0].Capacity[contactpad.NonLive])
	})
}
