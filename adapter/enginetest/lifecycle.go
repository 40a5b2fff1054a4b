package enginetest

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// testHold: live interactions go on hold and come back; release clears hold.
func testHold(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		call := h.Connected("alice", contactpad.Live)
		h.Do(adapter.Hold{ID: call.ID, Agent: "alice"})
		require.True(t, h.Get(call.ID).Held)
		h.Do(adapter.Retrieve{ID: call.ID, Agent: "alice"})
		require.False(t, h.Get(call.ID).Held)
		h.Do(adapter.Hold{ID: call.ID, Agent: "alice"})
		h.Do(adapter.Release{ID: call.ID, Agent: "alice"})
		require.False(t, h.Get(call.ID).Held, "release ends the hold")
		require.Equal(t, []string{"adopted", "offered", "accepted", "held", "retrieved", "held", "released"}, actions(h.Audit(call.ID)))
	})
}

// testWrapUp: release moves to wrap-up for the media's timeout; the agent
// may extend it a configured number of times or finish early; then the
// interaction is completed and the capacity is free.
func testWrapUp(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		email := h.Connected("alice", contactpad.NonLive) // wrap-up 10s
		h.Do(adapter.Release{ID: email.ID, Agent: "alice"})
		email = h.Get(email.ID)
		require.Equal(t, contactpad.WrapUp, email.Status)
		require.WithinDuration(t, time.Now().Add(10*time.Second), *email.WrapUpEndsAt, time.Millisecond)
		require.Equal(t, 1, h.Load("alice")[contactpad.NonLive], "wrap-up holds capacity")

		time.Sleep(9 * time.Second)
		h.Do(adapter.ExtendWrapUp{ID: email.ID, Agent: "alice"})
		require.WithinDuration(t, time.Now().Add(11*time.Second), *h.Get(email.ID).WrapUpEndsAt, time.Millisecond, "extended by one period")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Equal(t, contactpad.WrapUp, h.Get(email.ID).Status, "the extension holds")
		time.Sleep(time.Second + slack)
		synctest.Wait()
		email = h.Get(email.ID)
		require.Equal(t, contactpad.Completed, email.Status, "wrap-up ends by itself")
		require.Equal(t, "system", h.LastAudit(email.ID).Actor)
		require.Equal(t, 0, h.Load("alice")[contactpad.NonLive])

		chat := h.Connected("alice", contactpad.SemiLive) // wrap-up 20s
		h.Do(adapter.Release{ID: chat.ID, Agent: "alice"})
		h.Do(adapter.FinishWrapUp{ID: chat.ID, Agent: "alice"})
		require.Equal(t, contactpad.Completed, h.Get(chat.ID).Status, "finished early")
		require.Empty(t, h.Timers(time.Now().Add(time.Hour)), "no wrap-up timer is left behind")
	})
	bubble(t, open, func(s *adapter.Settings) { s.WrapUp[contactpad.Live] = 0 }, func(h *Harness) {
		call := h.Connected("alice", contactpad.Live)
		h.Do(adapter.Release{ID: call.ID, Agent: "alice"})
		require.Equal(t, contactpad.Completed, h.Get(call.ID).Status, "no wrap-up configured: completed at once")
	})
}

// testAbandon: abandon needs confirmation, skips wrap-up, frees capacity at
// once and is recorded apart from completion.
func testAbandon(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		chat := h.Connected("alice", contactpad.SemiLive)
		h.Refused(adapter.Abandon{ID: chat.ID, Agent: "alice"}, adapter.CodeInvalidRequest)
		h.Do(adapter.Abandon{ID: chat.ID, Agent: "alice", Confirm: true, Reason: "customer left, release failed"})
		chat = h.Get(chat.ID)
		require.Equal(t, contactpad.Abandoned, chat.Status)
		require.Nil(t, chat.WrapUpEndsAt)
		require.Equal(t, 0, h.Load("alice")[contactpad.SemiLive], "capacity free at once")
		last := h.LastAudit(chat.ID)
		require.Equal(t, contactpad.AuditAbandoned, last.Action)
		require.Equal(t, contactpad.CategoryAbandon, last.Category, "counted apart")
		require.Equal(t, "customer left, release failed", last.Data["reason"])

		stuck := h.Connected("alice", contactpad.NonLive)
		h.Do(adapter.Release{ID: stuck.ID, Agent: "alice"})
		h.Do(adapter.Abandon{ID: stuck.ID, Agent: "alice", Confirm: true})
		require.Equal(t, contactpad.Abandoned, h.Get(stuck.ID).Status, "abandon works when wrap-up is stuck")
		require.Empty(t, h.Timers(time.Now().Add(time.Hour)))
	})
}

// testInactivity: an ongoing interaction with no activity for the
// configured period raises interaction.inactive; activity resets the clock;
// live interactions have no inactivity period.
func testInactivity(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		chat := h.Connected("alice", contactpad.SemiLive) // 10m
		email := h.Connected("alice", contactpad.NonLive) // 24h
		call := h.Connected("bob", contactpad.Live)       // never

		time.Sleep(10*time.Minute + slack)
		synctest.Wait()
		inactive := h.Events(adapter.EventInteractionInactive)
		require.Len(t, inactive, 1)
		require.Equal(t, chat.ID, inactive[0].Interaction.ID)
		require.Equal(t, []string{"alice"}, inactive[0].Audience)

		time.Sleep(23 * time.Hour)
		res := h.Do(adapter.StartTransfer{ID: email.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}})
		h.Do(adapter.CancelTransfer{TransferID: res.Transfer.ID, Agent: "alice"})
		time.Sleep(23 * time.Hour)
		synctest.Wait()
		require.Len(t, h.Events(adapter.EventInteractionInactive), 1, "the transfer attempt was activity")
		time.Sleep(time.Hour + slack)
		synctest.Wait()
		inactive = h.Events(adapter.EventInteractionInactive)
		require.Len(t, inactive, 2)
		require.Equal(t, email.ID, inactive[1].Interaction.ID)
		require.NotContains(t, []string{inactive[0].Interaction.ID, inactive[1].Interaction.ID}, call.ID)
	})
}
