package api

import (
	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// actionState is one button of the panel: an action the capability matrix
// allows for the interaction's media type, whether it can be taken now, and
// if not, why, in words an agent understands.
type actionState struct {
	Action  contactpad.Action `json:"action"`
	Enabled bool              `json:"enabled"`
	Reason  string            `json:"reason,omitempty"`
}

// view shows i to the caller (agent; "" is an admin or an integration):
// what it may do now and why not, as the engine's lifecycle table says
// (adapter.Settings.Can), p being what i has under way, and room whether
// the agent has room to resume work from History (roomOf; nil: not
// asked). Actions the matrix forbids for the media type are left out of
// actions: a chat has no hold button.
func (s *Server) view(i *contactpad.Interaction, agent string, p adapter.InProgress, room func(contactpad.Media) error) interactionView {
	v := interactionView{Interaction: i, Capabilities: []contactpad.Action{}, Actions: []actionState{}}
	if adapter.PushedToOmni(i) {
		v.AnswerIn = contactpad.AnswerInOmni
	}
	settings := s.engine.Settings()
	for _, a := range contactpad.Actions {
		if !settings.Matrix.Allows(i.Media, a) {
			continue
		}
		err := settings.Can(i, adapter.Step(a), agent, p)
		if err == nil && room != nil && adapter.NeedsRoom(i, adapter.Step(a), agent) {
			err = room(i.Media)
		}
		if err == nil {
			v.Capabilities = append(v.Capabilities, a)
		}
		v.Actions = append(v.Actions, actionState{Action: a, Enabled: err == nil, Reason: adapter.Explain(err)})
	}
	if i.Status == contactpad.WrapUp {
		left := max(0, settings.WrapUpMaxExtensions-i.WrapUpExtended)
		v.ExtensionsLeft = &left
	}
	return v
}

// viewIn is view inside a read transaction, which reads what i has under way.
func (s *Server) viewIn(tx adapter.Tx, i *contactpad.Interaction, agent string, room func(contactpad.Media) error) (interactionView, error) {
	p, err := adapter.UnderWay(tx, i)
	if err != nil {
		return interactionView{}, err
	}
	return s.view(i, agent, p, room), nil
}

// roomOf returns whether agent ("": none) has room for one more
// interaction of a media type (adapter.Settings.RoomFor): nil, or why
// not. It reads the agent and their load in tx once, when first asked;
// a read that fails says nothing (nil), and the action itself checks.
func (s *Server) roomOf(tx adapter.Tx, agent string) func(contactpad.Media) error {
	if agent == "" {
		return nil
	}
	var (
		read bool
		a    *contactpad.Agent
		load contactpad.Capacity
	)
	return func(media contactpad.Media) error {
		if !read {
			read = true
			var err error
			if a, err = tx.Agent(agent); err == nil {
				load, err = tx.Load(agent)
			}
			if err != nil {
				a = nil
			}
		}
		if a == nil {
			return nil
		}
		settings := s.engine.Settings()
		return settings.RoomFor(a, load, media)
	}
}
