package enginetest

import (
	"slices"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// matrixCommand prepares an interaction connected to alice for action and
// returns the command that takes the action.
func matrixCommand(h *Harness, m contactpad.Matrix, i *contactpad.Interaction, action contactpad.Action) adapter.Command {
	now := time.Now()
	switch action {
	case contactpad.ActionRelease:
		return adapter.Release{ID: i.ID, Agent: "alice"}
	case contactpad.ActionHold:
		return adapter.Hold{ID: i.ID, Agent: "alice"}
	case contactpad.ActionRetrieve:
		if m.Allows(i.Media, contactpad.ActionHold) {
			h.Do(adapter.Hold{ID: i.ID, Agent: "alice"})
		}
		return adapter.Retrieve{ID: i.ID, Agent: "alice"}
	case contactpad.ActionConsult:
		h.Presence("bob", contactpad.Interruptible)
		return adapter.StartConsult{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}
	case contactpad.ActionTransfer:
		return adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}, Mode: contactpad.Warm}
	case contactpad.ActionAbandon:
		return adapter.Abandon{ID: i.ID, Agent: "alice", Confirm: true}
	case contactpad.ActionDefer:
		due := now.Add(time.Hour)
		return adapter.Defer{ID: i.ID, Agent: "alice", DueBy: &due}
	case contactpad.ActionResume:
		if m.Allows(i.Media, contactpad.ActionDefer) {
			due := now.Add(time.Hour)
			h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: &due})
		}
		return adapter.Resume{ID: i.ID, Agent: "alice"}
	}
	h.T.Fatalf("no command for action %s", action)
	return nil
}

// testMatrix: every cell of the default capability matrix, allowed and
// refused with action_not_allowed (and nothing changed).
func testMatrix(t *testing.T, open Opener) {
	m := contactpad.DefaultMatrix()
	for _, media := range contactpad.Medias {
		for _, action := range contactpad.Actions {
			allowed := m.Allows(media, action)
			name := string(media) + "/" + string(action) + map[bool]string{true: "/allowed", false: "/refused"}[allowed]
			t.Run(name, func(t *testing.T) {
				bubble(t, open, nil, func(h *Harness) {
					i := h.Connected("alice", media)
					cmd := matrixCommand(h, m, i, action)
					before, events := h.Get(i.ID), len(h.Events())
					settings := h.Engine.Settings()
					require.Equal(t, allowed, slices.Contains(settings.Capabilities(before, "alice", adapter.InProgress{}), action),
						"capabilities list exactly what Apply allows")
					if allowed {
						h.Do(cmd)
						require.Greater(t, len(h.Events()), events, "an allowed action emits an event")
						return
					}
					err := h.Refused(cmd, adapter.CodeActionNotAllowed)
					require.ErrorContains(t, err, string(action))
					require.ErrorContains(t, err, string(media))
					require.Equal(t, before, h.Get(i.ID), "a refused action changes nothing")
				})
			})
		}
	}
}

// testMatrixOverrides: admins change the matrix in config, e.g. transfer
// for semi-live, or no abandon for non-live.
func testMatrixOverrides(t *testing.T, open Opener) {
	override := func(s *adapter.Settings) {
		s.Matrix = contactpad.DefaultMatrix().WithOverrides(map[contactpad.Media]map[contactpad.Action]bool{
			contactpad.SemiLive: {contactpad.ActionTransfer: true},
			contactpad.NonLive:  {contactpad.ActionAbandon: false},
		})
	}
	bubble(t, open, override, func(h *Harness) {
		chat := h.Connected("alice", contactpad.SemiLive)
		res := h.Do(adapter.StartTransfer{ID: chat.ID, Agent: "alice", Target: contactpad.Target{Service: "support"}, Mode: contactpad.Warm})
		require.Equal(t, contactpad.TransferInitiated, res.Transfer.Status)

		email := h.Connected("alice", contactpad.NonLive)
		h.Refused(adapter.Abandon{ID: email.ID, Agent: "alice", Confirm: true}, adapter.CodeActionNotAllowed)
	})
}

// testRefusals: every refusal of the API names its code; the interaction is
// unchanged after each.
func testRefusals(t *testing.T, open Opener) {
	past := func() *time.Time { p := time.Now().Add(-time.Second); return &p }
	nowish := func() *time.Time { p := time.Now(); return &p }
	future := func() *time.Time { p := time.Now().Add(time.Hour); return &p }
	for _, tc := range []struct {
		name  string
		setup func(h *Harness) (adapter.Command, *contactpad.Interaction)
		code  string
	}{
		{"release from wrap_up", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
			return adapter.Release{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeInvalidTransition},
		{"release a deferred interaction", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: future()})
			return adapter.Release{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeInvalidTransition},
		{"accept what is already connected", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.Live)
			return adapter.Accept{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeInvalidTransition},
		{"decline what is already connected", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.Live)
			return adapter.Decline{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeInvalidTransition},
		{"hold what is held", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.Live)
			h.Do(adapter.Hold{ID: i.ID, Agent: "alice"})
			return adapter.Hold{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeInvalidTransition},
		{"retrieve what is not held", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.Live)
			return adapter.Retrieve{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeInvalidTransition},
		{"extend wrap-up when connected", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			return adapter.ExtendWrapUp{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeInvalidTransition},
		{"finish wrap-up when connected", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			return adapter.FinishWrapUp{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeInvalidTransition},
		{"abandon a completed interaction", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
			h.Do(adapter.FinishWrapUp{ID: i.ID, Agent: "alice"})
			return adapter.Abandon{ID: i.ID, Agent: "alice", Confirm: true}, i
		}, adapter.CodeInvalidTransition},
		{"defer in wrap-up", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
			return adapter.Defer{ID: i.ID, Agent: "alice", DueBy: future()}, i
		}, adapter.CodeInvalidTransition},
		{"resume an ongoing interaction", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			return adapter.Resume{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeInvalidTransition},
		{"resume an abandoned interaction", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			h.Do(adapter.Abandon{ID: i.ID, Agent: "alice", Confirm: true})
			return adapter.Resume{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeInvalidTransition},
		{"transfer an interaction in wrap-up", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
			return adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}, i
		}, adapter.CodeInvalidTransition},
		{"defer without due_by", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			return adapter.Defer{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeDueByRequired},
		{"defer with due_by in the past", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			return adapter.Defer{ID: i.ID, Agent: "alice", DueBy: past()}, i
		}, adapter.CodeDueByInPast},
		{"defer with due_by now (not strictly future)", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			return adapter.Defer{ID: i.ID, Agent: "alice", DueBy: nowish()}, i
		}, adapter.CodeDueByInPast},
		{"consult a busy agent", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			h.Presence("bob", contactpad.Busy)
			return adapter.StartConsult{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}, i
		}, adapter.CodeTargetUnavailable},
		{"consult a logged-out agent", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			return adapter.StartConsult{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}, i
		}, adapter.CodeTargetUnavailable},
		{"consult a malformed number", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.Live)
			return adapter.StartConsult{ID: i.ID, Agent: "alice", Target: contactpad.Target{Number: "0800-CALL-ME"}}, i
		}, adapter.CodeInvalidRequest},
		{"abandon without confirmation", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			return adapter.Abandon{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeInvalidRequest},
		{"act on another agent's interaction", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			return adapter.Release{ID: i.ID, Agent: "bob"}, i
		}, adapter.CodeForbidden},
		{"accept an offer made to another agent", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			h.Presence("alice", contactpad.Available)
			i := h.Ingest(contactpad.Live, "support")
			return adapter.Accept{ID: i.ID, Agent: "bob"}, i
		}, adapter.CodeForbidden},
		{"a second transfer while one is pending", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			h.Do(adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}})
			return adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Service: "billing"}}, i
		}, adapter.CodeConflict},
		{"transfer to an unknown service", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			return adapter.StartTransfer{ID: i.ID, Agent: "alice", Target: contactpad.Target{Service: "sales"}}, i
		}, adapter.CodeInvalidRequest},
		{"extend wrap-up more than allowed", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
			h.Do(adapter.ExtendWrapUp{ID: i.ID, Agent: "alice"})
			return adapter.ExtendWrapUp{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeConflict},
		{"resume from History with no capacity left", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			i := h.Connected("alice", contactpad.NonLive)
			h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
			h.Do(adapter.FinishWrapUp{ID: i.ID, Agent: "alice"})
			for range 5 {
				h.Connected("alice", contactpad.NonLive)
			}
			return adapter.Resume{ID: i.ID, Agent: "alice"}, i
		}, adapter.CodeConflict},
		{"an unknown interaction", func(h *Harness) (adapter.Command, *contactpad.Interaction) {
			return adapter.Release{ID: "int_missing", Agent: "alice"}, nil
		}, adapter.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bubble(t, open, nil, func(h *Harness) {
				cmd, i := tc.setup(h)
				var before *contactpad.Interaction
				if i != nil {
					before = h.Get(i.ID)
				}
				events := len(h.Events())
				h.Refused(cmd, tc.code)
				if i != nil {
					require.Equal(t, before, h.Get(i.ID), "a refused command changes nothing")
				}
				require.Len(t, h.Events(), events, "a refused command emits nothing")
			})
		})
	}
}
