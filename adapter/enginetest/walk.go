package enginetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// testWalkTheLifecycle walks every agent step of the lifecycle table from
// every state of every media type, as the owner and as an admin, through
// Apply: the engine does exactly what Settings.Can allows, and refuses
// the rest with Can's code, changing nothing.
func testWalkTheLifecycle(t *testing.T, open Opener) {
	tweak := func(s *adapter.Settings) {
		s.PushTimeout, s.TransferAccept, s.Consult = time.Hour, time.Hour, time.Hour
		s.WrapUp = map[contactpad.Media]time.Duration{contactpad.Live: time.Hour, contactpad.SemiLive: time.Hour, contactpad.NonLive: time.Hour}
		s.AutoAccept = map[contactpad.Media]bool{}
		s.Agents[0].Capacity = contactpad.Capacity{contactpad.Live: 1000, contactpad.SemiLive: 1000, contactpad.NonLive: 1000}
	}
	for _, media := range contactpad.Medias {
		t.Run(string(media), func(t *testing.T) {
			bubble(t, open, tweak, func(h *Harness) {
				walk(t, h, media)
			})
		})
	}
}

func walk(t *testing.T, h *Harness, media contactpad.Media) {
	s := h.Engine.Settings()
	due := func() *time.Time { at := time.Now().Add(24 * time.Hour); return &at }
	connected := func() *contactpad.Interaction { return h.Connected("alice", media) }
	then := func(cmd func(id string) adapter.Command) func() *contactpad.Interaction {
		return func() *contactpad.Interaction {
			i := connected()
			h.Do(cmd(i.ID))
			return i
		}
	}
	states := []struct {
		name  string
		needs contactpad.Action
		make  func() *contactpad.Interaction
	}{
		{"queued", "", func() *contactpad.Interaction {
			h.Presence("alice", contactpad.Busy)
			return h.Ingest(media, "billing") // carol is logged out
		}},
		{"offered", "", func() *contactpad.Interaction {
			h.Presence("alice", contactpad.Available)
			i := h.Ingest(media, "billing")
			h.Presence("alice", contactpad.Busy)
			return i
		}},
		{"connected", "", connected},
		{"held", contactpad.ActionHold, then(func(id string) adapter.Command { return adapter.Hold{ID: id, Agent: "alice"} })},
		{"wrap-up", "", then(func(id string) adapter.Command { return adapter.Release{ID: id, Agent: "alice"} })},
		{"wrap-up extended", "", func() *contactpad.Interaction {
			i := connected()
			h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
			h.Do(adapter.ExtendWrapUp{ID: i.ID, Agent: "alice"})
			return i
		}},
		{"deferred", contactpad.ActionDefer, then(func(id string) adapter.Command { return adapter.Defer{ID: id, Agent: "alice", DueBy: due()} })},
		{"completed", "", func() *contactpad.Interaction {
			i := connected()
			h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
			h.Do(adapter.FinishWrapUp{ID: i.ID, Agent: "alice"})
			return i
		}},
		{"abandoned", contactpad.ActionAbandon, then(func(id string) adapter.Command {
			return adapter.Abandon{ID: id, Agent: "alice", Confirm: true}
		})},
		{"with a transfer", contactpad.ActionTransfer, then(func(id string) adapter.Command {
			return adapter.StartTransfer{ID: id, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}
		})},
		{"with a consult", contactpad.ActionConsult, then(func(id string) adapter.Command {
			return adapter.StartConsult{ID: id, Agent: "alice", Target: contactpad.Target{Number: "+4930123456"}}
		})},
	}
	commands := map[adapter.Step]func(id, agent string) adapter.Command{
		adapter.StepAccept:       func(id, agent string) adapter.Command { return adapter.Accept{ID: id, Agent: agent} },
		adapter.StepDecline:      func(id, agent string) adapter.Command { return adapter.Decline{ID: id, Agent: agent, Reason: "walk"} },
		adapter.StepRelease:      func(id, agent string) adapter.Command { return adapter.Release{ID: id, Agent: agent} },
		adapter.StepHold:         func(id, agent string) adapter.Command { return adapter.Hold{ID: id, Agent: agent} },
		adapter.StepRetrieve:     func(id, agent string) adapter.Command { return adapter.Retrieve{ID: id, Agent: agent} },
		adapter.StepExtendWrapUp: func(id, agent string) adapter.Command { return adapter.ExtendWrapUp{ID: id, Agent: agent} },
		adapter.StepFinishWrapUp: func(id, agent string) adapter.Command { return adapter.FinishWrapUp{ID: id, Agent: agent} },
		adapter.StepConsult: func(id, agent string) adapter.Command {
			return adapter.StartConsult{ID: id, Agent: agent, Target: contactpad.Target{Number: "+4930123457"}}
		},
		adapter.StepTransfer: func(id, agent string) adapter.Command {
			return adapter.StartTransfer{ID: id, Agent: agent, Target: contactpad.Target{Agent: "carol"}}
		},
		adapter.StepAbandon: func(id, agent string) adapter.Command {
			return adapter.Abandon{ID: id, Agent: agent, Confirm: true}
		},
		adapter.StepDefer:  func(id, agent string) adapter.Command { return adapter.Defer{ID: id, Agent: agent, DueBy: due()} },
		adapter.StepReopen: func(id, agent string) adapter.Command { return adapter.Reopen{ID: id, Agent: agent} },
		adapter.StepResume: func(id, agent string) adapter.Command { return adapter.Resume{ID: id, Agent: agent} },
	}
	require.Len(t, commands, len(adapter.AgentSteps), "the walk has a command for every agent step")

	for _, st := range states {
		if st.needs != "" && !s.Matrix.Allows(media, st.needs) {
			continue
		}
		for _, step := range adapter.AgentSteps {
			for _, who := range []string{"alice", "bob", ""} {
				name := fmt.Sprintf("%s/%s/%s", st.name, step, map[string]string{"alice": "owner", "bob": "another agent", "": "admin"}[who])
				i := h.Get(st.make().ID)
				var p adapter.InProgress
				require.NoError(t, h.Store.View(context.Background(), func(tx adapter.Tx) error {
					var err error
					p, err = adapter.UnderWay(tx, i)
					return err
				}))
				want := s.Can(i, step, who, p)
				cmd := commands[step](i.ID, who)
				_, err := h.Engine.Apply(context.Background(), cmd)
				if want == nil {
					require.NoError(t, err, name)
					continue
				}
				require.Error(t, err, "%s: the table refuses it (%v)", name, want)
				require.Equal(t, adapter.Code(want), adapter.Code(err), "%s: %v", name, err)
				require.Equal(t, i, h.Get(i.ID), "%s: a refused step changes nothing", name)
			}
		}
	}
}
